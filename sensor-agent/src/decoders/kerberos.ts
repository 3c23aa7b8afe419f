// Kerberos AS-REQ (RFC 4120 §5.4.1, DER per X.690) on UDP and TCP 88: a
// domain member asking its KDC for a ticket. When the computer itself logs
// on, the client principal is its machine account ("NAME$", MS-KILE
// §3.1.5.2); older Windows also lists its NetBIOS name among the request's
// addresses (HostAddress type 20). Either names the sender. User principals
// are never reported. Of a reply only its kind is read (it is encrypted where
// it would say more): whoever answers AS-REQs on port 88 is a KDC.
import { IpProto } from '../packet/ethertypes.js';
import type { PacketView } from '../packet/view.js';
import { berChildren, berElement, berField } from './ber.js';
import type { Decoder, ObservationSink } from './types.js';
import { emitForLocalSender } from './util.js';

const KERBEROS_PORT = 88;
const AS_REQ = 0x6a; // [APPLICATION 10]
const AS_REP = 0x6b; // [APPLICATION 11]
const KRB_ERROR = 0x7e; // [APPLICATION 30]: "pre-authentication required" is a KDC's usual first answer
const SEQUENCE = 0x30;
const ADDRESS_NETBIOS = 20;
/** A machine account: a NetBIOS computer name (up to 15 characters) and "$". */
const MACHINE_ACCOUNT = /^([A-Za-z0-9][A-Za-z0-9._-]{0,14})\$$/;

function decode(pkt: PacketView, sink: ObservationSink): void {
  const b = pkt.data;
  let o = pkt.payloadOffset;
  const end = pkt.payloadEnd;
  // Over TCP a 4-byte record mark (the message's length) precedes it (RFC 4120 §7.2.2).
  if (pkt.ipProto === IpProto.TCP) o += 4;
  if (pkt.srcPort === KERBEROS_PORT) {
    if (b[o] === AS_REP || b[o] === KRB_ERROR)
      emitForLocalSender(pkt, sink, 'kerberos', 'role', 'kerberos:kdc', 0.8, 'reply');
    return;
  }
  if (b[o] !== AS_REQ) return; // TGS-REQ and the rest name services, not the sender
  const message = berElement(b, o, end);
  const request = berElement(b, message.start, message.end);
  if (request.tag !== SEQUENCE) throw new RangeError('AS-REQ is not a SEQUENCE');
  const body = berField(b, berChildren(b, request), 4);
  if (!body || body.tag !== SEQUENCE) throw new RangeError('AS-REQ without a request body');
  const parts = berChildren(b, body);
  const emit = (name: 'hostname' | 'netbiosName', value: string, confidence: number, f: string) =>
    emitForLocalSender(pkt, sink, 'kerberos', name, value, confidence, f);

  // cname [1] PrincipalName: name-type [0], name-string [1] SEQUENCE OF KerberosString.
  const cname = berField(b, parts, 1);
  if (cname?.tag === SEQUENCE) {
    const strings = berField(b, berChildren(b, cname), 1);
    const first = strings?.tag === SEQUENCE ? berChildren(b, strings)[0] : undefined;
    const account = first ? b.toString('utf8', first.start, first.end) : '';
    const machine = MACHINE_ACCOUNT.exec(account);
    if (machine) {
      emit('hostname', machine[1]!, 0.7, 'as_req.cname');
      emit('netbiosName', machine[1]!.toUpperCase(), 0.75, 'as_req.cname');
    }
  }
  // addresses [9] SEQUENCE OF HostAddress { addr-type [0], address [1] OCTET STRING }.
  const addresses = berField(b, parts, 9);
  if (addresses?.tag === SEQUENCE)
    for (const address of berChildren(b, addresses)) {
      if (address.tag !== SEQUENCE) continue;
      const pair = berChildren(b, address);
      const type = berField(b, pair, 0);
      const value = berField(b, pair, 1);
      if (!type || !value || type.end - type.start !== 1 || b[type.start] !== ADDRESS_NETBIOS) continue;
      const name = b.toString('latin1', value.start, value.end).replace(/[\s\0]+$/, '');
      if (/^[\x21-\x7e][\x20-\x7e]{0,14}$/.test(name)) {
        emit('hostname', name, 0.7, 'as_req.addresses.netbios');
        emit('netbiosName', name.toUpperCase(), 0.75, 'as_req.addresses.netbios');
      }
    }
}

export const kerberosDecoder: Decoder = {
  name: 'kerberos',
  family: 'udp',
  keys: [KERBEROS_PORT],
  match: (pkt) =>
    (pkt.dstPort === KERBEROS_PORT || pkt.srcPort === KERBEROS_PORT) &&
    pkt.payloadEnd - pkt.payloadOffset > 8,
  decode,
};

/** The same over TCP, where large requests go. */
export const kerberosTcpDecoder: Decoder = {
  ...kerberosDecoder,
  family: 'tcp',
  // RFC 4120 §7.2.2: a 4-byte record mark (its high bit reserved) gives the request's length.
  // Requests only (the answers are the KDC's, with nothing of the client in them).
  messageLength: (pkt, b, start, end) =>
    pkt.dstPort !== KERBEROS_PORT ? 0 : end - start < 4 ? 4 : 4 + (b.readUInt32BE(start) & 0x7fffffff),
};
