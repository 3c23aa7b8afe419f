// ISO transport on TCP (RFC 1006): every TPKT (version 3, reserved, a 16-bit
// length that counts its own 4-byte header) carries one ISO 8073 COTP TPDU,
// whose first byte is its header length and second its type. S7comm and MMS
// both ride on it, on port 102, and read their PDUs from the DT TPDUs.
import type { PacketView } from '../packet/view.js';

export const ISO_TSAP_PORT = 102;
/** TPKT header, then COTP's length byte and its DT type and TPDU number: the least a data TPKT holds. */
const MIN_TPKT = 7;
const COTP_DT = 0xf0;
/** TPKTs read from one segment (a reply may pack several). */
const MAX_TPKTS = 8;

/** Exactly one side of the connection is on port 102, and the segment holds at least a TPKT header and a COTP header. */
export const onIsoTsap = (pkt: PacketView, minPayload = MIN_TPKT): boolean =>
  (pkt.srcPort === ISO_TSAP_PORT) !== (pkt.dstPort === ISO_TSAP_PORT) &&
  pkt.payloadEnd - pkt.payloadOffset >= minPayload;

/** For Decoder.messageLength: the TPKT's length (RFC 1006 §6), or 0 when the bytes are no TPKT. */
export const tpktMessageLength = (_pkt: PacketView, b: Buffer, start: number, end: number): number =>
  b[start] !== 3 ? 0 : end - start < 4 ? 4 : b.readUInt16BE(start + 2);

/**
 * Calls `visit(userData, tpktEnd)` for the user data of each COTP DT TPDU in
 * b[o, end), the TPKT cut short where the segment ends. Throws RangeError on
 * a damaged TPKT header.
 */
export function forEachDataTpdu(
  b: Buffer,
  o: number,
  end: number,
  visit: (userData: number, tpktEnd: number) => void,
): void {
  for (let n = 0; n < MAX_TPKTS && o + MIN_TPKT <= end; n++) {
    if (b[o] !== 3) throw new RangeError('TPKT version is not 3');
    const length = b.readUInt16BE(o + 2);
    if (length < MIN_TPKT) throw new RangeError('TPKT length too small');
    const tpktEnd = Math.min(end, o + length);
    const userData = o + 5 + b[o + 4]!; // COTP's length byte excludes itself
    if (b[o + 5] === COTP_DT && userData < tpktEnd) visit(userData, tpktEnd);
    o += length;
  }
}

/** Where the user data of the first TPKT at `o` lies, when it is a COTP DT. */
export function firstDataTpdu(
  b: Buffer,
  o: number,
  end: number,
): { userData: number; tpktEnd: number } | undefined {
  if (o + MIN_TPKT > end || b[o] !== 3) return undefined;
  const tpktEnd = Math.min(end, o + b.readUInt16BE(o + 2));
  const userData = o + 5 + b[o + 4]!;
  return b[o + 5] === COTP_DT && userData < tpktEnd ? { userData, tpktEnd } : undefined;
}
