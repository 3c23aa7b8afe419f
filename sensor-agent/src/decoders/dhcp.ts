// DHCPv4 (RFC 2131; options RFC 2132, FQDN RFC 4702). Requests (BOOTREQUEST)
// describe the client: it names itself (option 12/81), its DHCP stack (60)
// and, through the list and order of options it asks for (55), a fingerprint
// of its OS. Replies tell the address the server bound to chaddr (ACK yiaddr).
import { formatIp4, isDeviceMac, isHostIp4 } from '../packet/addresses.js';
import type { PacketView } from '../packet/view.js';
import type { Decoder, ObservationSink } from './types.js';
import { dnsLabels, observation, text } from './util.js';

const BOOTREQUEST = 1;
const BOOTREPLY = 2;
const MAGIC_COOKIE = 0x63825363;
const FIXED_HEADER = 236;

const OPT_PAD = 0;
const OPT_HOSTNAME = 12;
const OPT_OVERLOAD = 52;
const OPT_MESSAGE_TYPE = 53;
const OPT_SERVER_ID = 54;
const OPT_PARAMETER_LIST = 55;
const OPT_VENDOR_CLASS = 60;
const OPT_CLIENT_ID = 61;
const OPT_FQDN = 81;
/** Forcerenew Nonce Capable (RFC 6704). */
const OPT_FORCERENEW_NONCE = 145;
const OPT_END = 255;

const DHCPACK = 5;

interface Options {
  messageType: number;
  hostname?: string;
  fqdn?: string;
  vendorClass?: string;
  parameterList?: string;
  clientId?: string;
  serverId?: number;
  forcerenewNonce?: boolean;
}

export const dhcpDecoder: Decoder = {
  name: 'dhcp',
  family: 'udp',
  keys: [67, 68],
  match: (pkt) => (pkt.srcPort === 67 || pkt.srcPort === 68) && (pkt.dstPort === 67 || pkt.dstPort === 68),
  decode(pkt: PacketView, sink: ObservationSink): void {
    const b = pkt.data;
    const o = pkt.payloadOffset;
    const end = pkt.payloadEnd;
    if (end < o + FIXED_HEADER + 4) throw new RangeError('DHCP message shorter than its fixed header');
    if (b.readUInt32BE(o + FIXED_HEADER) !== MAGIC_COOKIE) return; // plain BOOTP: nothing to learn
    const op = b[o]!;
    const htype = b[o + 1]!;
    const hlen = b[o + 2]!;
    if (htype !== 1 || hlen !== 6) return; // only Ethernet clients have a MAC we can key on
    const chaddr = b.readUIntBE(o + 28, 6);
    if (!isDeviceMac(chaddr)) return;

    const opts: Options = { messageType: 0 };
    const overload = readOptions(b, o + FIXED_HEADER + 4, end, opts);
    // Option overload (52) moves options into the file (1) and/or sname (2) fields.
    if (overload & 1) readOptions(b, o + 108, o + 236, opts);
    if (overload & 2) readOptions(b, o + 44, o + 108, opts);

    if (op === BOOTREQUEST) {
      const emit = (
        name: Parameters<typeof observation>[4],
        value: string | undefined,
        conf: number,
        field: string,
      ) => {
        if (value) sink.observe(observation(pkt, chaddr, undefined, 'dhcp', name, value, conf, field));
      };
      // A client's own name for itself: strong, but users rename devices, so not 1.
      emit('hostname', opts.hostname, 0.8, 'option12.hostname');
      emit('hostname', opts.fqdn, 0.75, 'option81.fqdn');
      emit('dhcpVendorClass', opts.vendorClass, 0.9, 'option60.vendor_class');
      emit('dhcpFingerprint', opts.parameterList, 0.9, 'option55.parameter_request_list');
      emit('dhcpClientId', opts.clientId, 0.9, 'option61.client_id');
      const vendorOs = osFromVendorClass(opts.vendorClass);
      if (vendorOs) emit('os', vendorOs, 0.5, 'option60.vendor_class');
      else {
        // Apple's and the embedded stacks send no vendor class: the order of the options they ask for names them.
        const stack = osFromParameterList(opts.parameterList);
        if (stack) emit('os', stack.os, stack.confidence, 'option55.parameter_request_list');
        // dhcpcd offers Forcerenew (RFC 6704) unasked, vendor class or not (Debian's dhcpcd.conf sends none);
        // no other common client does. Its usual home is Linux (Raspberry Pi OS, Arch, Debian's
        // dhcpcd-base); NetBSD's default client too, hence the low confidence.
        else if (opts.forcerenewNonce) emit('os', 'Linux', 0.3, 'option145.forcerenew_nonce');
      }
      const ciaddr = b.readUInt32BE(o + 12);
      if (isHostIp4(ciaddr)) emit('ipv4', formatIp4(ciaddr), 0.8, 'ciaddr');
    } else if (op === BOOTREPLY) {
      const yiaddr = b.readUInt32BE(o + 16);
      // A server may assign or echo the client's name (option 12 in OFFER/ACK): a bit weaker than the client's own.
      if (opts.hostname)
        sink.observe(
          observation(
            pkt,
            chaddr,
            undefined,
            'dhcp',
            'hostname',
            opts.hostname,
            0.7,
            'reply.option12.hostname',
          ),
        );
      // ACK binds the lease; a BOOTP reply (no message type) binds it too.
      if ((opts.messageType === DHCPACK || opts.messageType === 0) && isHostIp4(yiaddr)) {
        const ip = formatIp4(yiaddr);
        sink.observe(observation(pkt, chaddr, ip, 'dhcp', 'ipv4', ip, 0.9, 'ack.yiaddr'));
      }
      // The sender of a reply is a DHCP server (or relay): a role hint for classification.
      if (isDeviceMac(pkt.srcMac) && opts.serverId !== undefined && opts.serverId === pkt.srcIp4) {
        sink.observe(
          observation(
            pkt,
            pkt.srcMac,
            formatIp4(pkt.srcIp4),
            'dhcp',
            'dhcpServer',
            'true',
            0.8,
            'option54.server_id',
          ),
        );
        if (opts.vendorClass) {
          sink.observe(
            observation(
              pkt,
              pkt.srcMac,
              undefined,
              'dhcp',
              'dhcpVendorClass',
              opts.vendorClass,
              0.7,
              'option60.vendor_class',
            ),
          );
        }
      }
    }
  },
};

/** Reads an option area into `opts`; returns the overload flags (option 52). */
function readOptions(b: Buffer, start: number, end: number, opts: Options): number {
  let overload = 0;
  let o = start;
  while (o < end) {
    const code = b[o]!;
    if (code === OPT_END) break;
    if (code === OPT_PAD) {
      o++;
      continue;
    }
    if (o + 2 > end) break;
    const len = b[o + 1]!;
    const v = o + 2;
    if (v + len > end) break; // truncated option: keep what was read so far
    switch (code) {
      case OPT_MESSAGE_TYPE:
        if (len >= 1) opts.messageType = b[v]!;
        break;
      case OPT_HOSTNAME:
        opts.hostname = text(b, v, v + len);
        break;
      case OPT_FQDN:
        // flags, rcode1, rcode2, then the name: DNS wire format when the E flag (0x04) is set.
        if (len > 3) opts.fqdn = b[v]! & 0x04 ? dnsLabels(b, v + 3, v + len) : text(b, v + 3, v + len);
        break;
      case OPT_VENDOR_CLASS:
        opts.vendorClass = text(b, v, v + len);
        break;
      case OPT_PARAMETER_LIST: {
        const codes: number[] = [];
        for (let i = 0; i < len; i++) codes.push(b[v + i]!);
        opts.parameterList = codes.join(',');
        break;
      }
      case OPT_CLIENT_ID:
        if (len >= 2) opts.clientId = `${b[v]}:${b.toString('hex', v + 1, v + len)}`;
        break;
      case OPT_SERVER_ID:
        if (len === 4) opts.serverId = b.readUInt32BE(v);
        break;
      case OPT_FORCERENEW_NONCE:
        opts.forcerenewNonce = true;
        break;
      case OPT_OVERLOAD:
        if (len >= 1) overload = b[v]!;
        break;
    }
    o = v + len;
  }
  return overload;
}

/**
 * DHCP clients ask for options in an order fixed by their code, so the
 * parameter request list (option 55) names the client stack, as Fingerbank
 * and Satori fingerprint it. Only stacks that send no vendor class, and
 * whose order is their own, are named here; each was checked against the
 * real captures in ../shared/pcaps (the iPhone and iMac of the nDPI
 * captures, Espressif and HF-LPB100 modules, the Lightify gateway):
 * - Apple's configd asks 1,121,3,6,15 first and ends with 119,252; macOS adds
 *   95,44,46 (LDAP, NetBIOS), iOS and iPadOS do not. Later releases insert
 *   108 (IPv6-only preferred, RFC 8925) and 114 (captive portal, RFC 8910)
 *   before 119; the order around them is kept.
 * - lwIP, the TCP/IP stack of ESP8266/ESP32 and most Wi-Fi modules, asks
 *   1,3,28,6 first (its DHCP client's fixed order).
 * - ISC dhclient asks what its configuration file's `request` line lists, in
 *   that order; Debian's and Ubuntu's shipped dhclient.conf gives
 *   1,28,2,3,15,6,119,12,44,47,26,121,42 (checked against dhclient itself in
 *   test/dhcp-clients.test.ts). Another distribution's file, or an edited
 *   one, gives another list, which names nothing.
 */
const APPLE = /^1,121,3,6,15,(?:108,)?(?:114,)?119,252(,95,44,46)?$/;
const LWIP = /^1,3,28,6(?:,|$)/;
const DEBIAN_DHCLIENT = '1,28,2,3,15,6,119,12,44,47,26,121,42';

export function osFromParameterList(
  list: string | undefined,
): { os: string; confidence: number } | undefined {
  if (!list) return undefined;
  const apple = APPLE.exec(list);
  if (apple) return { os: apple[1] ? 'macOS' : 'iOS', confidence: 0.45 };
  if (LWIP.test(list)) return { os: 'lwIP (embedded)', confidence: 0.35 };
  if (list === DEBIAN_DHCLIENT) return { os: 'Linux (Debian or Ubuntu)', confidence: 0.4 };
  return undefined;
}

/** Vendor classes that name the OS family outright (DHCPv4's option 60, DHCPv6's option 16). */
export function osFromVendorClass(vc: string | undefined): string | undefined {
  if (!vc) return undefined;
  if (vc.startsWith('MSFT')) return 'Windows';
  const android = /^android-dhcp-(\d+)/.exec(vc);
  if (android) return `Android ${android[1]}`;
  if (vc.startsWith('udhcp')) return 'Linux (embedded, BusyBox udhcpc)';
  if (vc.startsWith('dhcpcd')) return dhcpcdSystem(vc);
  return undefined;
}

/**
 * dhcpcd 5 and later send "dhcpcd-<version>:<sysname>-<release>:<machine>:<platform>"
 * (e.g. "dhcpcd-9.4.1:Linux-6.1.0-18-amd64:x86_64:GenuineIntel"): the
 * kernel's uname -s names the OS, which is NetBSD's, FreeBSD's or
 * DragonFly's as well as Linux's. Older ones (and Android's of KitKat
 * and before) send the version alone, and ran on Linux.
 */
function dhcpcdSystem(vc: string): string {
  return /^dhcpcd-[^:]*:([A-Za-z]+)-/.exec(vc)?.[1] ?? 'Linux';
}
