// IEC 60870-5-104 (telecontrol over TCP, IEC 60870-5-104:2006 §5): the
// SCADA protocol of power grids, substations and pipelines, beside DNP3.
// The controlled station (an RTU, a protection relay, a substation gateway)
// listens on TCP 2404 and the controlling station (the SCADA front end)
// connects to it, so the port tells the roles, as Zeek's ICSNPP IEC 104
// parser and Defender for IoT report them. Every APDU starts 0x68 and its
// length; the control field says whether it is an I (information, carrying
// an ASDU), S (acknowledgement) or U (STARTDT/STOPDT/TESTFR) frame, which is
// how a stream on 2404 is told to be IEC 104 and not something else on that
// port.
import type { PacketView } from '../packet/view.js';
import type { Decoder, ObservationSink } from './types.js';
import { emitForHost } from './util.js';

const IEC104_PORT = 2404;
const START = 0x68;
/** Start octet, length octet, four control octets (§5.1). */
const APCI = 6;
/** Type id, variable structure qualifier, cause of transmission (2), common address (2): §5.4 with the 104 profile's field sizes. */
const ASDU_HEADER = 6;
/** The length octet counts the control field and the ASDU: at most 253 (§5.1). */
const MAX_LENGTH = 253;
/** APDUs per segment worth reading: a station sends a burst of spontaneous ones at most. */
const MAX_APDUS = 32;
/** U-format control octets: STARTDT, STOPDT and TESTFR, each act and con (§5.3). */
const U_FUNCTIONS = new Set([0x07, 0x0b, 0x13, 0x23, 0x43, 0x83]);

/**
 * True when b[start, end) is a run of well-formed APDUs (a last one that the
 * segment cuts short is allowed: it continues in the next); throws on one
 * that is not. False when the segment does not begin with an APDU at all
 * (the rest of one split across segments).
 */
function wellFormed(b: Buffer, start: number, end: number): boolean {
  if (b[start] !== START) return false;
  let o = start;
  for (let n = 0; n < MAX_APDUS && o + APCI <= end; n++) {
    if (b[o] !== START) throw new RangeError(`IEC 104 APDU without its start octet at ${o - start}`);
    const length = b[o + 1]!;
    if (length < 4 || length > MAX_LENGTH)
      throw new RangeError(`IEC 104 APDU length ${length} outside 4..253`);
    const c1 = b[o + 2]!;
    if ((c1 & 1) === 0) {
      // I format: an ASDU follows, and the receive sequence number's low bit is 0.
      if (length < 4 + ASDU_HEADER) throw new RangeError('IEC 104 I-format APDU without an ASDU');
      if ((b[o + 4]! & 1) !== 0)
        throw new RangeError('IEC 104 I-format receive sequence number is malformed');
    } else if ((c1 & 3) === 1) {
      if (length !== 4 || c1 !== 1 || (b[o + 4]! & 1) !== 0)
        throw new RangeError('IEC 104 S-format APDU malformed');
    } else if (length !== 4 || !U_FUNCTIONS.has(c1)) {
      throw new RangeError(
        `IEC 104 U-format control octet 0x${c1.toString(16)} is not STARTDT/STOPDT/TESTFR`,
      );
    }
    o += 2 + length;
  }
  return true;
}

function decode(pkt: PacketView, sink: ObservationSink): void {
  if (!wellFormed(pkt.data, pkt.payloadOffset, pkt.payloadEnd)) return;
  const fromControlled = pkt.srcPort === IEC104_PORT;
  if (fromControlled === (pkt.dstPort === IEC104_PORT)) return; // both or neither on 2404: no role to tell
  const [sender, receiver] = fromControlled
    ? ['iec104:controlled-station', 'iec104:controlling-station']
    : ['iec104:controlling-station', 'iec104:controlled-station'];
  emitForHost(pkt, sink, 'iec104', 'role', sender, 0.85, fromControlled ? 'tcp.srcport' : 'tcp.dstport');
  // Its peer is the other station even when it sends nothing but bare TCP acknowledgements (a
  // SCADA front end that only listens to spontaneous transmissions): a little less sure.
  emitForHost(
    pkt,
    sink,
    'iec104',
    'role',
    receiver,
    0.7,
    fromControlled ? 'tcp.dstport' : 'tcp.srcport',
    'dst',
  );
}

export const iec104Decoder: Decoder = {
  name: 'iec104',
  family: 'tcp',
  keys: [IEC104_PORT],
  // An ASDU of up to 253 octets may be cut by a small MSS: the length octet asks for the rest.
  messageLength: (_pkt, b, start, end) => {
    if (b[start] !== START) return 0;
    return end - start < 2 ? 2 : 2 + b[start + 1]!;
  },
  match: (pkt) => pkt.payloadEnd - pkt.payloadOffset >= APCI,
  /**
   * Cyclic traffic (measurands, S acknowledgements, TESTFR keep-alives) says
   * only the sender's role, which the ports fix: a segment of well-formed
   * APDUs has one key. Anything decode() would reject or skip is decoded.
   */
  repeatKey: (pkt) => (wellFormed(pkt.data, pkt.payloadOffset, pkt.payloadEnd) ? 0 : undefined),
  decode,
};
