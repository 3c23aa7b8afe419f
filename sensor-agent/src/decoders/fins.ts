// Omron FINS (Factory Interface Network Service; Omron W342 "FINS Commands
// Reference Manual") on UDP 9600, and on TCP 9600 inside FINS/TCP framing
// (W342 §7-4: "FINS" magic, length, command 2 "FINS frame send"). Omron's
// CJ/CS/CP/NJ controllers answer it; CX-Programmer, HMIs and SCADA drivers
// ask. The 10-byte FINS header's ICF says whether the frame is a command or
// a response, so the sender's side is known whatever the ports. A response
// to CONTROLLER DATA READ (command 05 01) begins with the controller's model
// and version, 20 bytes each (W342 §5-3-18), as Defender for IoT and
// Wireshark's omron dissector show them.
//
// What a client asks tells what it is: program area reads and writes
// (03 xx), run/stop (04 xx) and file memory (22 xx) are an engineering tool's
// (CX-Programmer); memory area reads and writes (01 xx) are an HMI's or a
// SCADA driver's.
import type { PacketView } from '../packet/view.js';
import type { Decoder, ObservationSink } from './types.js';
import { emitForHost, fixedText } from './util.js';

const FINS_PORT = 9600;
/** ICF, RSV, GCT, DNA, DA1, DA2, SNA, SA1, SA2, SID. */
const HEADER = 10;
const ICF_RESPONSE = 0x40;
/** The ICF's bits 1-5 are reserved (0) and bit 7 is set ("use gateway") by every stack seen in the field. */
const ICF_RESERVED = 0x3e;
/** FINS/TCP: "FINS", length, command, error code; command 2 carries a FINS frame. */
const FINS_TCP_MAGIC = 0x46494e53;
const FINS_TCP_HEADER = 16;
const FINS_TCP_FRAME = 2;
const MAX_TCP_FRAMES = 8;
/** CONTROLLER DATA READ (main request code 05, sub 01): model and version, 20 bytes each. */
const CONTROLLER_DATA_READ = 0x0501;
const MODEL_AND_VERSION = 40;
/** After the command code, a response carries its 2-byte end code. */
const END_CODE = 2;

/** Main request codes of an engineering tool: program area (03), operating mode (04), file memory (22). */
const ENGINEERING_MRC = new Set([0x03, 0x04, 0x22]);
const MEMORY_AREA_MRC = 0x01;

/** A FINS frame at b[o, end): its command code, and whether it is a response; throws on a damaged header. */
function frameAt(b: Buffer, o: number, end: number): { command: number; response: boolean } {
  if (end - o < HEADER + 2) throw new RangeError('FINS frame shorter than its header and command code');
  const icf = b[o]!;
  if ((icf & ICF_RESERVED) !== 0 || b[o + 1] !== 0)
    throw new RangeError('FINS ICF or RSV has reserved bits set');
  return { command: b.readUInt16BE(o + HEADER), response: (icf & ICF_RESPONSE) !== 0 };
}

function report(pkt: PacketView, sink: ObservationSink, b: Buffer, o: number, end: number): void {
  const { command, response } = frameAt(b, o, end);
  if (response) {
    emitForHost(pkt, sink, 'fins', 'role', 'fins:plc', 0.85, 'icf.response');
    const data = o + HEADER + 2 + END_CODE;
    // End code 0000, normal completion: the main code without its relay-error bit, the sub code without
    // its fatal and non-fatal CPU error bits (W342 §5-1-3: those flag the CPU, and the data still follows).
    const completed = (b[data - 2]! & 0x7f) === 0 && (b[data - 1]! & 0x3f) === 0;
    if (command === CONTROLLER_DATA_READ && data + MODEL_AND_VERSION <= end && completed) {
      emitForHost(pkt, sink, 'fins', 'model', fixedText(b, data, data + 20), 0.85, 'controller_data.model');
      emitForHost(
        pkt,
        sink,
        'fins',
        'firmwareVersion',
        fixedText(b, data + 20, data + 40),
        0.8,
        'controller_data.version',
      );
      emitForHost(pkt, sink, 'fins', 'manufacturer', 'Omron', 0.8, 'controller_data');
    }
    return;
  }
  const mrc = command >> 8;
  const role = ENGINEERING_MRC.has(mrc)
    ? 'fins:engineering'
    : mrc === MEMORY_AREA_MRC
      ? 'fins:hmi'
      : 'fins:client';
  emitForHost(pkt, sink, 'fins', 'role', role, 0.8, 'command_code');
}

/**
 * Polling repeats the sender's side and the command: those are the key. A
 * CONTROLLER DATA READ answer (the identity) is decoded every time.
 */
function repeatKeyAt(b: Buffer, o: number, end: number): number | undefined {
  if (end - o < HEADER + 2 || (b[o]! & ICF_RESERVED) !== 0) return undefined;
  const response = (b[o]! & ICF_RESPONSE) !== 0;
  const command = b.readUInt16BE(o + HEADER);
  if (response && command === CONTROLLER_DATA_READ) return undefined;
  return command * 2 + (response ? 1 : 0);
}

export const finsDecoder: Decoder = {
  name: 'fins',
  family: 'udp',
  keys: [FINS_PORT],
  match: (pkt) => pkt.payloadEnd - pkt.payloadOffset >= HEADER + 2,
  repeatKey: (pkt) => repeatKeyAt(pkt.data, pkt.payloadOffset, pkt.payloadEnd),
  decode: (pkt, sink) => report(pkt, sink, pkt.data, pkt.payloadOffset, pkt.payloadEnd),
};

/** FINS/TCP frames in a segment: their FINS frames (command 2); node address exchanges carry none. */
function forEachTcpFrame(
  b: Buffer,
  o: number,
  end: number,
  visit: (frame: number, frameEnd: number) => void,
): void {
  for (let n = 0; n < MAX_TCP_FRAMES && o + FINS_TCP_HEADER <= end; n++) {
    if (b.readUInt32BE(o) !== FINS_TCP_MAGIC)
      throw new RangeError('FINS/TCP header without its "FINS" magic');
    const length = b.readUInt32BE(o + 4); // from the command field on
    if (length < 8) throw new RangeError('FINS/TCP length below its command and error code');
    const frameEnd = Math.min(end, o + 8 + length);
    if (b.readUInt32BE(o + 8) === FINS_TCP_FRAME) visit(o + FINS_TCP_HEADER, frameEnd);
    o += 8 + length;
  }
}

export const finsTcpDecoder: Decoder = {
  name: 'fins',
  family: 'tcp',
  keys: [FINS_PORT],
  // A FINS/TCP frame's length (from its command field on) plus the magic and length words.
  messageLength: (_pkt, b, start, end) =>
    end - start < 8 ? 8 : b.readUInt32BE(start) !== FINS_TCP_MAGIC ? 0 : 8 + b.readUInt32BE(start + 4),
  match: (pkt) => pkt.payloadEnd - pkt.payloadOffset >= FINS_TCP_HEADER,
  repeatKey(pkt) {
    const b = pkt.data;
    const o = pkt.payloadOffset;
    const end = pkt.payloadEnd;
    // One FINS frame filling the segment: the UDP key, apart from the node address exchanges.
    if (b.readUInt32BE(o) !== FINS_TCP_MAGIC || b.readUInt32BE(o + 8) !== FINS_TCP_FRAME) return undefined;
    if (8 + b.readUInt32BE(o + 4) !== end - o) return undefined;
    return repeatKeyAt(b, o + FINS_TCP_HEADER, end);
  },
  decode(pkt, sink) {
    const b = pkt.data;
    forEachTcpFrame(b, pkt.payloadOffset, pkt.payloadEnd, (frame, frameEnd) =>
      report(pkt, sink, b, frame, frameEnd),
    );
  },
};
