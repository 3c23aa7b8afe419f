// PROFINET DCP (IEC 61158-6-10 §4.3, Discovery and basic Configuration
// Protocol) over EtherType 0x8892. Identify and Get responses carry the
// device's own NameOfStation, DeviceVendorValue (its type of station),
// VendorID/DeviceID, role and IP parameters, the fields Zeek/ICSNPP and
// Defender for IoT report for PROFINET devices. A Set request from an
// engineering tool assigns a name or an address to the destination device.
// Identify *requests* name a station someone looks for, which may not
// exist: ignored.
import { formatIp4, isDeviceMac, isHostIp4 } from '../packet/addresses.js';
import { EtherType } from '../packet/ethertypes.js';
import type { PacketView } from '../packet/view.js';
import type { Decoder, ObservationName, ObservationSink } from './types.js';
import { observation, text } from './util.js';

const FRAME_GET_SET = 0xfefd;
const FRAME_IDENTIFY_RESPONSE = 0xfeff;
const SERVICE_GET = 3;
const SERVICE_SET = 4;
const SERVICE_IDENTIFY = 5;
const TYPE_REQUEST = 0;
const TYPE_RESPONSE_SUCCESS = 1;
const OPT_IP = 1;
const OPT_DEVICE = 2;
const SUB_IP_PARAMETER = 2;
const SUB_VENDOR_VALUE = 1;
const SUB_NAME_OF_STATION = 2;
const SUB_DEVICE_ID = 3;
const SUB_DEVICE_ROLE = 4;

/**
 * PROFINET vendor ids (PI's manufacturer id list, which is not published in a
 * machine-readable form) of vendors whose id we could check: in a real
 * capture of their device, or in their own published GSDML or stack.
 */
export const PROFINET_VENDORS: Record<number, string> = {
  42: 'Siemens',
  176: 'Phoenix Contact',
  266: 'SEW-EURODRIVE', // GSDML-V2.25-DFE-DFS (the DFE/DFS fieldbus interfaces)
  268: 'HMS Industrial Networks', // GSDML-V2.34-PNET-ANYBUS
  346: 'GE Intelligent Platforms', // DCP of the VersaMax IC200PNS001 (profinet_io_cm_mixed_1)
  1171: 'RT-Labs', // the p-net stack's sample application (sampleapp_gsdml.h)
};

const ROLES: readonly [number, string][] = [
  [0x01, 'profinet:io-device'],
  [0x02, 'profinet:io-controller'],
  [0x04, 'profinet:io-multidevice'],
  [0x08, 'profinet:supervisor'],
];

export const profinetDcpDecoder: Decoder = {
  name: 'profinet',
  family: 'link',
  announces: true,
  keys: [EtherType.PROFINET],
  match: (pkt) => {
    if (pkt.l3End < pkt.l3Offset + 12) return false;
    const frameId = pkt.data.readUInt16BE(pkt.l3Offset);
    return frameId === FRAME_IDENTIFY_RESPONSE || frameId === FRAME_GET_SET;
  },
  decode(pkt: PacketView, sink: ObservationSink): void {
    const b = pkt.data;
    const o = pkt.l3Offset;
    const service = b[o + 2]!;
    const type = b[o + 3]!;
    const dataLength = b.readUInt16BE(o + 10);
    const end = Math.min(pkt.l3End, o + 12 + dataLength);
    let device: number;
    let blockInfo: number;
    let conf: number;
    if (type === TYPE_RESPONSE_SUCCESS && (service === SERVICE_IDENTIFY || service === SERVICE_GET)) {
      device = pkt.srcMac; // the device answering about itself
      blockInfo = 2; // response blocks start with a 2-byte block info
      conf = 0.9;
    } else if (type === TYPE_REQUEST && service === SERVICE_SET) {
      device = pkt.dstMac; // a tool assigning name/address to the destination
      blockInfo = 2; // block qualifier
      conf = 0.6;
    } else {
      return;
    }
    if (!isDeviceMac(device)) return;
    const emit = (name: ObservationName, value: string, c: number, field: string) => {
      if (value !== '') sink.observe(observation(pkt, device, undefined, 'profinet', name, value, c, field));
    };
    let p = o + 12;
    while (p + 4 <= end) {
      const option = b[p]!;
      const sub = b[p + 1]!;
      const len = b.readUInt16BE(p + 2);
      const v = p + 4;
      if (v + len > end) throw new RangeError('DCP block overruns the PDU');
      const d = v + blockInfo;
      const dEnd = v + len;
      p = v + len + (len & 1); // blocks are padded to an even length
      if (d > dEnd) continue;
      if (option === OPT_IP && sub === SUB_IP_PARAMETER && dEnd - d >= 12) {
        const ip = b.readUInt32BE(d);
        if (isHostIp4(ip)) emit('ipv4', formatIp4(ip), service === SERVICE_SET ? 0.6 : 0.85, 'dcp.ip');
      } else if (option === OPT_DEVICE) {
        switch (sub) {
          case SUB_VENDOR_VALUE: {
            const value = text(b, d, dEnd);
            emit('model', value, 0.8 * (conf / 0.9), 'dcp.device_vendor_value');
            break;
          }
          case SUB_NAME_OF_STATION:
            emit('stationName', text(b, d, dEnd), conf, 'dcp.name_of_station');
            emit('hostname', text(b, d, dEnd), conf * 0.85, 'dcp.name_of_station');
            break;
          case SUB_DEVICE_ID:
            if (dEnd - d >= 4) {
              const vendor = b.readUInt16BE(d);
              const id = b.readUInt16BE(d + 2);
              emit('vendorId', `0x${vendor.toString(16).padStart(4, '0')}`, conf, 'dcp.vendor_id');
              emit('productCode', `0x${id.toString(16).padStart(4, '0')}`, conf, 'dcp.device_id');
              const name = PROFINET_VENDORS[vendor];
              if (name) emit('manufacturer', name, 0.8, 'dcp.vendor_id');
            }
            break;
          case SUB_DEVICE_ROLE:
            if (dEnd - d >= 1)
              for (const [bit, role] of ROLES) if (b[d]! & bit) emit('role', role, conf, 'dcp.device_role');
            break;
        }
      }
    }
  },
};
