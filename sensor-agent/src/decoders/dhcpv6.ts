// DHCPv6 (RFC 8415) client messages: the client's FQDN (option 39, RFC 4704),
// vendor class (16) and DUID (1). The DUID of type LLT/LL embeds a link-layer
// address, often the client's MAC, useful when the frame came through a relay.
// The whole DUID is the client id hint ("duid:<hex>") that stitches randomized MACs.
// A server's Reply binds the addresses of its IA_NA (§21.4, §21.6) to the
// client it is sent to, as a DHCPv4 ACK's yiaddr does; its sender is a server.
import { formatIp6, formatMac, isDeviceMac } from '../packet/addresses.js';
import type { PacketView } from '../packet/view.js';
import { osFromVendorClass } from './dhcp.js';
import type { Decoder, ObservationSink } from './types.js';
import { dnsLabels, emitForSender, observation, text } from './util.js';

const CLIENT_PORT = 546;
const SERVER_PORT = 547;
/** Solicit, Request, Confirm, Renew, Rebind, Release, Decline, Information-request. */
const CLIENT_MESSAGES = new Set([1, 3, 4, 5, 6, 8, 9, 11]);
const ADVERTISE = 2;
const REPLY = 7;
const OPT_CLIENT_ID = 1;
const OPT_SERVER_ID = 2;
const OPT_IA_NA = 3;
const OPT_IAADDR = 5;
const OPT_VENDOR_CLASS = 16;
const OPT_CLIENT_FQDN = 39;
const DUID_LLT = 1;
const DUID_LL = 3;
const HW_ETHERNET = 1;

export const dhcpv6Decoder: Decoder = {
  name: 'dhcpv6',
  family: 'udp',
  keys: [SERVER_PORT, CLIENT_PORT],
  match: (pkt) =>
    (pkt.dstPort === SERVER_PORT && pkt.srcPort === CLIENT_PORT) ||
    (pkt.srcPort === SERVER_PORT && pkt.dstPort === CLIENT_PORT),
  decode(pkt: PacketView, sink: ObservationSink): void {
    const b = pkt.data;
    const end = pkt.payloadEnd;
    let o = pkt.payloadOffset;
    if (end < o + 4) throw new RangeError('DHCPv6 header truncated');
    if (pkt.srcPort === SERVER_PORT) {
      serverMessage(pkt, sink, b[o]!, o + 4, end);
      return;
    }
    if (!CLIENT_MESSAGES.has(b[o]!)) return;
    o += 4;
    while (o + 4 <= end) {
      const code = b.readUInt16BE(o);
      const len = b.readUInt16BE(o + 2);
      const v = o + 4;
      if (v + len > end) throw new RangeError(`DHCPv6 option ${code} overruns the message`);
      if (code === OPT_CLIENT_FQDN && len > 1) {
        emitForSender(pkt, sink, 'dhcpv6', 'hostname', dnsLabels(b, v + 1, v + len), 0.75, 'option39.fqdn');
      } else if (code === OPT_VENDOR_CLASS && len > 6) {
        // enterprise number u32, then length-prefixed opaque strings
        const dataLen = b.readUInt16BE(v + 4);
        if (v + 6 + dataLen <= v + len) {
          const vendorClass = text(b, v + 6, v + 6 + dataLen);
          emitForSender(pkt, sink, 'dhcpv6', 'dhcpVendorClass', vendorClass, 0.9, 'option16.vendor_class');
          // The same strings as DHCPv4's option 60: Windows's "MSFT 5.0" (enterprise 311), dhcpcd's (40712).
          const os = osFromVendorClass(vendorClass);
          if (os) emitForSender(pkt, sink, 'dhcpv6', 'os', os, 0.5, 'option16.vendor_class');
        }
      } else if (code === OPT_CLIENT_ID && len >= 4) {
        // The DUID is the client's stable identity across MAC changes (RFC 8415 section 11): the store stitches on it.
        emitForSender(
          pkt,
          sink,
          'dhcpv6',
          'dhcpClientId',
          `duid:${b.toString('hex', v, v + len)}`,
          0.9,
          'option1.duid',
        );
        const duidType = b.readUInt16BE(v);
        const hwType = b.readUInt16BE(v + 2);
        const macAt = duidType === DUID_LLT ? v + 8 : duidType === DUID_LL ? v + 4 : -1;
        if (hwType === HW_ETHERNET && macAt > 0 && macAt + 6 === v + len) {
          const mac = b.readUIntBE(macAt, 6);
          if (isDeviceMac(mac))
            emitForSender(pkt, sink, 'dhcpv6', 'mac', formatMac(mac), 0.5, 'option1.duid.link_layer_address');
        }
      }
      o = v + len;
    }
  },
};

/**
 * An Advertise or Reply from a server on the link (a relay's Relay-reply is
 * not read): its sender is a DHCPv6 server, and a Reply's IA_NA addresses,
 * while valid, are the client's it is sent to.
 */
function serverMessage(
  pkt: PacketView,
  sink: ObservationSink,
  type: number,
  start: number,
  end: number,
): void {
  if (type !== ADVERTISE && type !== REPLY) return;
  const b = pkt.data;
  for (let o = start; o + 4 <= end; ) {
    const code = b.readUInt16BE(o);
    const len = b.readUInt16BE(o + 2);
    const v = o + 4;
    if (v + len > end) throw new RangeError(`DHCPv6 option ${code} overruns the message`);
    if (code === OPT_SERVER_ID && isDeviceMac(pkt.srcMac))
      sink.observe(
        observation(pkt, pkt.srcMac, undefined, 'dhcpv6', 'dhcpServer', 'true', 0.8, 'option2.server_id'),
      );
    else if (code === OPT_IA_NA && type === REPLY && len >= 12 && isDeviceMac(pkt.dstMac)) {
      // IAID, T1, T2, then the IA's own options.
      for (let p = v + 12; p + 4 <= v + len; ) {
        const inner = b.readUInt16BE(p);
        const innerLen = b.readUInt16BE(p + 2);
        if (p + 4 + innerLen > v + len) throw new RangeError('DHCPv6 IA_NA option overruns it');
        // IAADDR: the address, then preferred and valid lifetimes; a valid lifetime of 0 gives it back.
        if (inner === OPT_IAADDR && innerLen >= 24 && b.readUInt32BE(p + 4 + 20) > 0) {
          const ip = formatIp6(b, p + 4);
          sink.observe(observation(pkt, pkt.dstMac, ip, 'dhcpv6', 'ipv6', ip, 0.9, 'reply.ia_na.address'));
        }
        p += 4 + innerLen;
      }
    }
    o = v + len;
  }
}
