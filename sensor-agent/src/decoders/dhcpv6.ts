// DHCPv6 (RFC 8415) client messages: the client's FQDN (option 39, RFC 4704),
// vendor class (16) and DUID (1). The DUID of type LLT/LL embeds a link-layer
// address, often the client's MAC, useful when the frame came through a relay.
// The whole DUID is the client id hint ("duid:<hex>") that stitches randomized MACs.
import { formatMac, isDeviceMac } from '../packet/addresses.js';
import type { PacketView } from '../packet/view.js';
import type { Decoder, ObservationSink } from './types.js';
import { dnsLabels, emitForSender, text } from './util.js';

const CLIENT_PORT = 546;
const SERVER_PORT = 547;
/** Solicit, Request, Confirm, Renew, Rebind, Release, Decline, Information-request. */
const CLIENT_MESSAGES = new Set([1, 3, 4, 5, 6, 8, 9, 11]);
const OPT_CLIENT_ID = 1;
const OPT_VENDOR_CLASS = 16;
const OPT_CLIENT_FQDN = 39;
const DUID_LLT = 1;
const DUID_LL = 3;
const HW_ETHERNET = 1;

export const dhcpv6Decoder: Decoder = {
  name: 'dhcpv6',
  family: 'udp',
  keys: [SERVER_PORT],
  match: (pkt) => pkt.dstPort === SERVER_PORT && pkt.srcPort === CLIENT_PORT,
  decode(pkt: PacketView, sink: ObservationSink): void {
    const b = pkt.data;
    const end = pkt.payloadEnd;
    let o = pkt.payloadOffset;
    if (end < o + 4) throw new RangeError('DHCPv6 header truncated');
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
          emitForSender(
            pkt,
            sink,
            'dhcpv6',
            'dhcpVendorClass',
            text(b, v + 6, v + 6 + dataLen),
            0.9,
            'option16.vendor_class',
          );
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
