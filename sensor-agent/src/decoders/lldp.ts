// LLDP (IEEE 802.1AB-2016 §8) and the LLDP-MED inventory TLVs (ANSI/TIA-1057
// §10.2.6). A switch, router, phone or AP announces who it is every ~30 s:
// the richest single source of identity for network gear.
import { formatIp4, formatIp6, formatMac, isDeviceMac, isHostIp4 } from '../packet/addresses.js';
import { EtherType } from '../packet/ethertypes.js';
import type { PacketView } from '../packet/view.js';
import { parseSystemDescription } from './sysdescr.js';
import type { Decoder, ObservationName, ObservationSink } from './types.js';
import { observation, text } from './util.js';

const TLV_END = 0;
const TLV_CHASSIS_ID = 1;
const TLV_PORT_ID = 2;
const TLV_SYSTEM_NAME = 5;
const TLV_SYSTEM_DESCRIPTION = 6;
const TLV_CAPABILITIES = 7;
const TLV_MANAGEMENT_ADDRESS = 8;
const TLV_ORG_SPECIFIC = 127;

const CHASSIS_SUBTYPE_MAC = 4;
const PORT_SUBTYPE_MAC = 3;
const IANA_AF_IPV4 = 1;
const IANA_AF_IPV6 = 2;
const OUI_TIA_MED = 0x0012bb;

/** IEEE 802.1AB Table 8-4 system capability bits. */
export const LLDP_CAPABILITIES: readonly [number, string][] = [
  [0x0001, 'other'],
  [0x0002, 'repeater'],
  [0x0004, 'bridge'],
  [0x0008, 'wlan-ap'],
  [0x0010, 'router'],
  [0x0020, 'telephone'],
  [0x0040, 'docsis'],
  [0x0080, 'station'],
  [0x0100, 'c-vlan'],
  [0x0200, 's-vlan'],
  [0x0400, 'tpmr'],
];

/** LLDP-MED inventory subtypes -> what they tell. */
const MED_INVENTORY: Record<number, [ObservationName, string]> = {
  6: ['firmwareVersion', 'med.firmware_revision'],
  7: ['firmwareVersion', 'med.software_revision'],
  8: ['serialNumber', 'med.serial_number'],
  9: ['manufacturer', 'med.manufacturer'],
  10: ['model', 'med.model_name'],
};

export const lldpDecoder: Decoder = {
  name: 'lldp',
  family: 'link',
  announces: true,
  keys: [EtherType.LLDP],
  match: () => true,
  decode(pkt: PacketView, sink: ObservationSink): void {
    const b = pkt.data;
    const end = pkt.l3End;
    // The frame's source is the sending port; the chassis id (when a MAC) names the box.
    // Observations go to the port MAC (what talks on the segment); the chassis MAC is
    // reported as a second address of the same device.
    const device = pkt.srcMac;
    if (!isDeviceMac(device)) return;
    const emit = (name: ObservationName, value: string, confidence: number, field: string) => {
      if (value !== '')
        sink.observe(observation(pkt, device, undefined, 'lldp', name, value, confidence, field));
    };
    let o = pkt.l3Offset;
    let first = true;
    while (o + 2 <= end) {
      const header = b.readUInt16BE(o);
      const type = header >> 9;
      const len = header & 0x01ff;
      const v = o + 2;
      if (v + len > end) throw new RangeError(`LLDP TLV ${type} overruns the frame`);
      if (first && type !== TLV_CHASSIS_ID) throw new RangeError('LLDPDU does not start with a chassis id');
      first = false;
      if (type === TLV_END) break;
      switch (type) {
        case TLV_CHASSIS_ID:
          if (len < 2) throw new RangeError('LLDP chassis id is empty');
          if (len === 7 && b[v] === CHASSIS_SUBTYPE_MAC) {
            const chassis = b.readUIntBE(v + 1, 6);
            if (isDeviceMac(chassis) && chassis !== device)
              emit('mac', formatMac(chassis), 0.9, 'chassis_id.mac');
          } else {
            emit('chassisId', `${b[v]}:${b.toString('hex', v + 1, v + len)}`, 0.9, 'chassis_id');
          }
          break;
        case TLV_PORT_ID:
          if (len >= 2) {
            const port =
              b[v] === PORT_SUBTYPE_MAC && len === 7
                ? b.toString('hex', v + 1, v + 7)
                : text(b, v + 1, v + len);
            emit('portId', port, 0.9, 'port_id');
          }
          break;
        case TLV_SYSTEM_NAME:
          emit('hostname', text(b, v, v + len), 0.85, 'system_name');
          break;
        case TLV_SYSTEM_DESCRIPTION: {
          const description = text(b, v, v + len);
          emit('systemDescription', description, 0.9, 'system_description');
          const facts = parseSystemDescription(description);
          if (facts.os) emit('os', facts.os, 0.7, 'system_description');
          if (facts.firmwareVersion)
            emit('firmwareVersion', facts.firmwareVersion, 0.6, 'system_description');
          if (facts.model) emit('model', facts.model, 0.5, 'system_description');
          break;
        }
        case TLV_CAPABILITIES:
          if (len >= 4) {
            const enabled = b.readUInt16BE(v + 2);
            const system = b.readUInt16BE(v);
            // Enabled capabilities describe the role; fall back to supported ones if none are enabled.
            const bits = enabled !== 0 ? enabled : system;
            for (const [bit, name] of LLDP_CAPABILITIES)
              if (bits & bit) emit('capabilities', name, 0.9, 'capabilities');
          }
          break;
        case TLV_MANAGEMENT_ADDRESS:
          if (len >= 2) {
            const addrLen = b[v]!; // includes the subtype byte
            const family = b[v + 1];
            if (family === IANA_AF_IPV4 && addrLen === 5 && v + 6 <= v + len) {
              const ip = b.readUInt32BE(v + 2);
              if (isHostIp4(ip)) emit('ipv4', formatIp4(ip), 0.8, 'management_address');
            } else if (family === IANA_AF_IPV6 && addrLen === 17 && len >= 18) {
              emit('ipv6', formatIp6(b, v + 2), 0.8, 'management_address');
            }
          }
          break;
        case TLV_ORG_SPECIFIC:
          if (len >= 4 && b.readUIntBE(v, 3) === OUI_TIA_MED) {
            const subtype = b[v + 3]!;
            const what = MED_INVENTORY[subtype];
            // Hardware revision (5) and asset id (11) have no attribute of their own.
            if (what) emit(what[0], text(b, v + 4, v + len), 0.9, what[1]);
          }
          break;
      }
      o = v + len;
    }
  },
};
