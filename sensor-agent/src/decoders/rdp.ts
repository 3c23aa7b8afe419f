// RDP's connection sequence in clear (MS-RDPBCGR 2.2.1.1 and 2.2.1.2): a
// TPKT (RFC 1006) carrying an X.224 Connection Request from the client to
// TCP 3389, and the server's Connection Confirm, with the security protocols
// the two negotiate (standard RDP security, TLS, CredSSP, RDSTLS). What
// follows is TLS (whose server certificate, read by tls.ts on this port,
// names a Windows host by its FQDN) or RDP's own encryption. The roles say
// who offers remote desktop and who uses it. The request's cookie
// ("mstshash=<user>") is a user name: never read.
import type { PacketView } from '../packet/view.js';
import type { Decoder, ObservationSink } from './types.js';
import { emitForHost } from './util.js';

const RDP_PORT = 3389;
const TPKT_VERSION = 3;
/** X.224 TPDU codes (ITU-T X.224 §13), the high nibble of the code octet. */
const CONNECTION_REQUEST = 0xe0;
const CONNECTION_CONFIRM = 0xd0;
/** TPKT header (4) and the fixed part of a CR/CC TPDU: length, code, dst-ref, src-ref, class (7). */
const MIN_LENGTH = 11;

/** The X.224 TPDU code of the Connection Request or Confirm that the segment holds, or -1. */
function connectionTpdu(b: Buffer, o: number, end: number): number {
  if (end - o < MIN_LENGTH || b[o] !== TPKT_VERSION || b[o + 1] !== 0) return -1;
  const length = b.readUInt16BE(o + 2);
  // The X.224 length indicator counts the TPDU's header after itself, within the TPKT.
  if (length < MIN_LENGTH || length > end - o || b[o + 4]! + 5 > length) return -1;
  const code = b[o + 5]! & 0xf0;
  return code === CONNECTION_REQUEST || code === CONNECTION_CONFIRM ? code : -1;
}

function decode(pkt: PacketView, sink: ObservationSink): void {
  const code = connectionTpdu(pkt.data, pkt.payloadOffset, pkt.payloadEnd);
  if (code === CONNECTION_REQUEST && pkt.dstPort === RDP_PORT) {
    emitForHost(pkt, sink, 'rdp', 'role', 'rdp:client', 0.8, 'x224.connection_request');
    emitForHost(pkt, sink, 'rdp', 'role', 'rdp:server', 0.6, 'x224.connection_request', 'dst');
  } else if (code === CONNECTION_CONFIRM && pkt.srcPort === RDP_PORT) {
    emitForHost(pkt, sink, 'rdp', 'role', 'rdp:server', 0.85, 'x224.connection_confirm');
    emitForHost(pkt, sink, 'rdp', 'role', 'rdp:client', 0.7, 'x224.connection_confirm', 'dst');
  }
}

export const rdpDecoder: Decoder = {
  name: 'rdp',
  family: 'tcp',
  keys: [RDP_PORT],
  match: (pkt) => connectionTpdu(pkt.data, pkt.payloadOffset, pkt.payloadEnd) !== -1,
  decode,
};
