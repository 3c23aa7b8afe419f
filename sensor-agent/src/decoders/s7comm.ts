// S7comm (Siemens S7 protocol over ISO-on-TCP: RFC 1006 TPKT, ISO 8073 COTP
// DT) on TCP 102. The PLC answers "read SZL" userdata requests with its
// system status lists; SZL 0x001c (component identification: station name,
// module name, plant id, serial number, module type) and 0x0011 (module
// identification: order number, firmware version) name the device the way
// Zeek/ICSNPP's s7comm logs and Defender for IoT show it. S7comm-plus
// (protocol id 0x72) gives no identity here; its server role is kept.
//
// The client side tells what the client is (function codes and userdata
// groups as Wireshark's s7comm dissector names them): one that runs block
// functions (list/info, group 3), programmer commands (group 1), block
// upload/download (job 0x1a-0x1f) or CPU start/stop (0x28/0x29) is an
// engineering station (STEP 7 / TIA Portal); one that reads/writes variables
// (job 0x04/0x05) or subscribes to cyclic data (group 2) is an operator
// station (HMI/SCADA). A client that shows neither (reads SZLs, the CPU
// state) is a generic client (classified as the HMI side at low confidence).
import type { PacketView } from '../packet/view.js';
import { firstDataTpdu, forEachDataTpdu, ISO_TSAP_PORT, onIsoTsap, tpktMessageLength } from './tpkt.js';
import type { Decoder, ObservationName, ObservationSink } from './types.js';
import { emitForHost, text } from './util.js';

const S7_PROTOCOL_ID = 0x32;
const S7PLUS_PROTOCOL_ID = 0x72;
const ROSCTR_USERDATA = 7;

/** SZL 0x001c component identification records (index -> what it tells). */
const COMPONENT: Record<number, [ObservationName, string, number]> = {
  1: ['stationName', 'szl_001c.automation_system_name', 0.85],
  2: ['hostname', 'szl_001c.module_name', 0.8],
  3: ['location', 'szl_001c.plant_id', 0.8],
  5: ['serialNumber', 'szl_001c.serial_number', 0.9],
  7: ['model', 'szl_001c.module_type_name', 0.9],
};

export const s7commDecoder: Decoder = {
  name: 's7comm',
  family: 'tcp',
  keys: [ISO_TSAP_PORT],
  // SZL answers run to ~1 KB: gathered whole when split.
  messageLength: tpktMessageLength,
  match: (pkt) => onIsoTsap(pkt),
  /**
   * Polling (an HMI's variable reads and the PLC's acknowledgements, most of a session's packets) says
   * the same in every PDU: a client's request is keyed by the role it shows, a PLC's answer other than
   * userdata (which may carry SZL identity) by its protocol. An answer of several TPKTs is decoded every time.
   */
  repeatKey(pkt) {
    const b = pkt.data;
    const o = pkt.payloadOffset;
    const data = firstDataTpdu(b, o, pkt.payloadEnd);
    if (!data) return undefined;
    const { userData: pdu, tpktEnd } = data;
    if (pkt.dstPort === ISO_TSAP_PORT) {
      const role = clientRole(b, pdu, tpktEnd);
      return CLIENT_KEY + (role === undefined ? CLIENT_ROLES.length : CLIENT_ROLES.indexOf(role));
    }
    if (b.readUInt16BE(o + 2) !== pkt.payloadEnd - o) return undefined;
    const protocol = b[pdu];
    if (protocol === S7PLUS_PROTOCOL_ID) return SERVER_KEY + 1;
    if (protocol !== S7_PROTOCOL_ID) return SERVER_KEY + 2;
    return pdu + 10 <= tpktEnd && b[pdu + 1] !== ROSCTR_USERDATA ? SERVER_KEY : undefined;
  },
  decode(pkt: PacketView, sink: ObservationSink): void {
    if (pkt.dstPort === ISO_TSAP_PORT) {
      client(pkt, sink);
      return;
    }
    forEachDataTpdu(pkt.data, pkt.payloadOffset, pkt.payloadEnd, (pdu, tpktEnd) => {
      const protocol = pkt.data[pdu];
      if (protocol === S7_PROTOCOL_ID) {
        emitForHost(pkt, sink, 's7comm', 'role', 's7comm:server', 0.9, 'tcp.port');
        s7(pkt, sink, pdu, tpktEnd);
      } else if (protocol === S7PLUS_PROTOCOL_ID) {
        emitForHost(pkt, sink, 's7comm', 'role', 's7comm-plus:server', 0.9, 'tcp.port');
      }
    });
  },
};

const ROSCTR_JOB = 1;
/** Job functions of an engineering tool: upload/download blocks (0x1a-0x1f), PLC control (0x28), PLC stop (0x29). */
const ENGINEERING_JOBS = new Set([0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f, 0x28, 0x29]);
const READ_VAR = 0x04;
const WRITE_VAR = 0x05;
const GROUP_PROGRAMMER = 1;
const GROUP_CYCLIC = 2;
const GROUP_BLOCK = 3;

/** The roles a client's requests show (see the header). */
const CLIENT_ROLES = ['s7comm:client', 's7comm:engineering', 's7comm:hmi'] as const;
type ClientRole = (typeof CLIENT_ROLES)[number];
/** Repeat keys: a client's, by the index of its role (CLIENT_ROLES.length for none); a PLC's, by protocol. */
const CLIENT_KEY = 0;
const SERVER_KEY = 16;

/** Client -> PLC: the role the client's requests show (see the header). */
function client(pkt: PacketView, sink: ObservationSink): void {
  const b = pkt.data;
  if (b[pkt.payloadOffset] !== 3) throw new RangeError('TPKT version is not 3');
  const data = firstDataTpdu(b, pkt.payloadOffset, pkt.payloadEnd);
  if (!data) return;
  const role = clientRole(b, data.userData, data.tpktEnd);
  if (role)
    emitForHost(pkt, sink, 's7comm', 'role', role, 0.8, role === 's7comm:client' ? 'rosctr' : 'function');
}

/** The role the S7 PDU at `pdu` shows its client in, or undefined when it shows none. */
function clientRole(b: Buffer, pdu: number, tpktEnd: number): ClientRole | undefined {
  if (pdu + 10 > tpktEnd || b[pdu] !== S7_PROTOCOL_ID) return undefined;
  const rosctr = b[pdu + 1]!;
  const param = pdu + 10;
  if (rosctr === ROSCTR_JOB && param < tpktEnd) {
    const fn = b[param]!;
    if (ENGINEERING_JOBS.has(fn)) return 's7comm:engineering';
    return fn === READ_VAR || fn === WRITE_VAR ? 's7comm:hmi' : 's7comm:client';
  }
  if (rosctr === ROSCTR_USERDATA && param + 6 < tpktEnd) {
    const typeGroup = b[param + 5]!;
    const group = typeGroup & 0x0f;
    if (typeGroup >> 4 === 4) {
      if (group === GROUP_BLOCK || group === GROUP_PROGRAMMER) return 's7comm:engineering';
      if (group === GROUP_CYCLIC) return 's7comm:hmi';
    }
    return 's7comm:client';
  }
  return undefined;
}

function s7(pkt: PacketView, sink: ObservationSink, o: number, end: number): void {
  const b = pkt.data;
  if (o + 10 > end) throw new RangeError('S7 header truncated');
  const rosctr = b[o + 1]!;
  if (rosctr !== ROSCTR_USERDATA) return;
  const paramLength = b.readUInt16BE(o + 6);
  const dataLength = b.readUInt16BE(o + 8);
  const param = o + 10;
  const data = param + paramLength;
  if (data + dataLength > end || paramLength < 8) throw new RangeError('S7 userdata overruns the TPDU');
  // Parameter head 00 01 12, length, method, type|group, subfunction, sequence.
  const typeGroup = b[param + 5]!;
  const subfunction = b[param + 6]!;
  const isResponse = typeGroup >> 4 === 8;
  const cpuFunctions = (typeGroup & 0x0f) === 4;
  if (!isResponse || !cpuFunctions || subfunction !== 1) return; // read SZL responses only
  // Data: return code, transport size, length, then the SZL header.
  if (dataLength < 12 || b[data] !== 0xff) return;
  const szlId = b.readUInt16BE(data + 4);
  const entryLength = b.readUInt16BE(data + 8);
  const count = b.readUInt16BE(data + 10);
  let e = data + 12;
  const dataEnd = data + dataLength;
  for (let i = 0; i < count && entryLength >= 2 && e + entryLength <= dataEnd; i++, e += entryLength) {
    const index = b.readUInt16BE(e);
    if ((szlId & 0xff) === 0x1c) {
      const value = text(b, e + 2, e + entryLength);
      const what = COMPONENT[index];
      if (what) emitForHost(pkt, sink, 's7comm', what[0], value, what[2], what[1]);
      if (index === 4 && /siemens/i.test(value))
        emitForHost(pkt, sink, 's7comm', 'manufacturer', 'Siemens', 0.85, 'szl_001c.copyright');
    } else if ((szlId & 0xff) === 0x11 && entryLength >= 28) {
      const order = text(b, e + 2, e + 22);
      const ausbg = b.readUInt16BE(e + 24);
      const ausbe = b.readUInt16BE(e + 26);
      if (index === 1 && order !== '')
        emitForHost(pkt, sink, 's7comm', 'productCode', order, 0.9, 'szl_0011.order_number');
      // Firmware: Ausbg = 'V' and major, Ausbe = minor and patch.
      if (index === 7 && ausbg >> 8 === 0x56)
        emitForHost(
          pkt,
          sink,
          's7comm',
          'firmwareVersion',
          `V${ausbg & 0xff}.${ausbe >> 8}.${ausbe & 0xff}`,
          0.9,
          'szl_0011.firmware',
        );
    }
  }
}
