// Cisco Discovery Protocol v1/v2 (802.3 LLC/SNAP, OUI 00:00:0c, PID 0x2000).
// Not a published standard; the TLV layout is the one Cisco documents for
// its devices and Wireshark's packet-cdp.c follows. Foundry's FDP (fdp.ts)
// reads the same TLVs through decodeCdpTlvs.
import { formatIp4, isDeviceMac, isHostIp4 } from '../packet/addresses.js';
import { EtherType } from '../packet/ethertypes.js';
import type { PacketView } from '../packet/view.js';
import { parseSystemDescription } from './sysdescr.js';
import type { Decoder, ObservationName, ObservationSink } from './types.js';
import { observation, text } from './util.js';

const CISCO_OUI = 0x00000c;
const CDP_PID = 0x2000;

const TLV_DEVICE_ID = 0x0001;
const TLV_ADDRESSES = 0x0002;
const TLV_PORT_ID = 0x0003;
const TLV_CAPABILITIES = 0x0004;
const TLV_SOFTWARE_VERSION = 0x0005;
const TLV_PLATFORM = 0x0006;
const TLV_MANAGEMENT_ADDRESSES = 0x0016;

const NLPID = 1;
const NLPID_IP = 0xcc;

export const CDP_CAPABILITIES: readonly [number, string][] = [
  [0x001, 'router'],
  [0x002, 'bridge'], // transparent bridge
  [0x004, 'bridge'], // source-route bridge
  [0x008, 'switch'],
  [0x010, 'host'],
  [0x020, 'igmp'],
  [0x040, 'repeater'],
  [0x080, 'telephone'],
  [0x100, 'remotely-managed'],
  [0x200, 'camera'],
  [0x400, 'two-port-mac-relay'],
];

export const cdpDecoder: Decoder = {
  name: 'cdp',
  family: 'link',
  announces: true,
  keys: [EtherType.LLC],
  match: (pkt) => pkt.snapOui === CISCO_OUI && pkt.snapPid === CDP_PID,
  decode(pkt: PacketView, sink: ObservationSink): void {
    decodeCdpTlvs(pkt, sink, 'cdp', (b, v, vend, emit) => {
      if (vend - v < 4) return;
      const caps = b.readUInt32BE(v);
      for (const [bit, name] of CDP_CAPABILITIES) if (caps & bit) emit(name);
    });
  },
};

/**
 * Platforms that name a kernel (`uname -s`), not a product: what lldpd and
 * other software agents on hosts send. The host's OS comes from its software
 * version instead.
 */
const KERNEL_PLATFORM = /^(?:Linux|FreeBSD|OpenBSD|NetBSD|DragonFly|Darwin|SunOS)$/i;

/**
 * Reads the TLVs CDP and its clones share (FDP copies CDP's header and TLV
 * layout): device id, addresses, port, software version, platform;
 * `capabilities` reads the one TLV each lays out its own way.
 */
export function decodeCdpTlvs(
  pkt: PacketView,
  sink: ObservationSink,
  protocol: string,
  capabilities: (b: Buffer, start: number, end: number, emit: (capability: string) => void) => void,
): void {
  const b = pkt.data;
  const end = pkt.l3End;
  const device = pkt.srcMac;
  if (!isDeviceMac(device)) return;
  const emit = (name: ObservationName, value: string, confidence: number, field: string) => {
    if (value !== '')
      sink.observe(observation(pkt, device, undefined, protocol, name, value, confidence, field));
  };
  let o = pkt.l3Offset;
  if (end < o + 4) throw new RangeError(`${protocol.toUpperCase()} header truncated`);
  const version = b[o]!;
  if (version !== 1 && version !== 2) throw new RangeError(`${protocol.toUpperCase()} version ${version}`);
  o += 4; // version, ttl, checksum
  while (o + 4 <= end) {
    const type = b.readUInt16BE(o);
    const len = b.readUInt16BE(o + 2);
    if (len < 4 || o + len > end)
      throw new RangeError(`${protocol.toUpperCase()} TLV ${type} has a bad length ${len}`);
    const v = o + 4;
    const vend = o + len;
    switch (type) {
      case TLV_DEVICE_ID:
        emit('hostname', text(b, v, vend), 0.8, 'device_id');
        break;
      case TLV_PORT_ID:
        emit('portId', text(b, v, vend), 0.9, 'port_id');
        break;
      case TLV_PLATFORM: {
        const platform = text(b, v, vend);
        if (KERNEL_PLATFORM.test(platform)) break;
        // "cisco WS-C3560-24TS": the vendor word, then the product id.
        const m = /^cisco\s+(.+)$/i.exec(platform);
        if (m) emit('manufacturer', 'Cisco', 0.8, 'platform');
        emit('model', m ? m[1]! : platform, 0.85, 'platform');
        break;
      }
      case TLV_SOFTWARE_VERSION: {
        const software = text(b, v, vend);
        emit('systemDescription', software, 0.9, 'software_version');
        const facts = parseSystemDescription(software);
        if (facts.os) emit('os', facts.os, 0.8, 'software_version');
        if (facts.firmwareVersion) emit('firmwareVersion', facts.firmwareVersion, 0.8, 'software_version');
        break;
      }
      case TLV_CAPABILITIES:
        capabilities(b, v, vend, (name) => emit('capabilities', name, 0.9, 'capabilities'));
        break;
      case TLV_ADDRESSES:
      case TLV_MANAGEMENT_ADDRESSES:
        readAddresses(b, v, vend, (ip) =>
          emit('ipv4', ip, 0.8, type === TLV_ADDRESSES ? 'addresses' : 'management_addresses'),
        );
        break;
    }
    o = vend;
  }
}

/** Address list: count u32, then {protocol type, protocol length, protocol, address length u16, address}. */
function readAddresses(b: Buffer, start: number, end: number, onIpv4: (ip: string) => void): void {
  if (start + 4 > end) return;
  const count = b.readUInt32BE(start);
  let o = start + 4;
  for (let i = 0; i < count && o + 2 <= end; i++) {
    const protoType = b[o]!;
    const protoLen = b[o + 1]!;
    const p = o + 2;
    if (p + protoLen + 2 > end) return;
    const addrLen = b.readUInt16BE(p + protoLen);
    const a = p + protoLen + 2;
    if (a + addrLen > end) return;
    if (protoType === NLPID && protoLen === 1 && b[p] === NLPID_IP && addrLen === 4) {
      const ip = b.readUInt32BE(a);
      if (isHostIp4(ip)) onIpv4(formatIp4(ip));
    }
    o = a + addrLen;
  }
}
