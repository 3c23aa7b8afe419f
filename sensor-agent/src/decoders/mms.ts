// MMS (ISO 9506, the client/server protocol of IEC 61850-8-1 substations and
// of other ISO-stack controllers) on TCP 102: RFC 1006 TPKT, ISO 8073 COTP
// DT, then the ISO session (8327) and presentation (8823) layers around the
// MMS PDU. The side listening on 102 that answers MMS is a server: an IED
// (protection relay, bay controller), a gateway or a controller; the side
// that sends it requests is a client (SCADA, a station gateway, an
// engineering tool). The answer to an Identify request (ISO 9506-2 §10.3,
// confirmed service 2) names the server's vendor, model and revision, the
// identity IEC 61850 tools and Defender for IoT show for an IED.
//
// Only the data phase is read (session GIVE-TOKENS and DATA-TRANSFER SPDUs,
// presentation fully-encoded user data). The connect phase (session CONNECT
// and ACCEPT around ACSE and the MMS Initiate) carries no identity, and an
// association's first data-phase PDU gives the same roles. S7comm shares the
// port and the COTP layer; its PDUs (protocol id 0x32/0x72) are not MMS.
// ICCP (TASE.2) between control centres rides on MMS too, so a server's type
// (an IED) is a weak guess that a desktop OS or other evidence outweighs.
import type { PacketView } from '../packet/view.js';
import { type BerElement, berChildren, berElement } from './ber.js';
import { firstDataTpdu, forEachDataTpdu, ISO_TSAP_PORT, onIsoTsap, tpktMessageLength } from './tpkt.js';
import type { Decoder, ObservationSink } from './types.js';
import { emitForHost, text } from './util.js';

/** The SPDU identifier of the data phase's GIVE TOKENS and DATA TRANSFER alike (ISO 8327-1 §8.3). */
const SPDU_DATA_PHASE = 0x01;
/** ISO 8823 user data: fully-encoded-data [APPLICATION 1], a SEQUENCE OF PDV-list. */
const FULLY_ENCODED_DATA = 0x61;
const PDV_LIST = 0x30;
/** PDV-list presentation-data-values: single-ASN1-type [0]. */
const SINGLE_ASN1_TYPE = 0xa0;
/** MMSpdu choices (ISO 9506-2 §7.1). */
const CONFIRMED_REQUEST = 0xa0;
const CONFIRMED_RESPONSE = 0xa1;
const CONFIRMED_ERROR = 0xa2;
const UNCONFIRMED = 0xa3;
/** ConfirmedServiceResponse identify [2], Identify-Response fields [0] [1] [2] (IMPLICIT VisibleString). */
const IDENTIFY_RESPONSE = 0xa2;
const INTEGER = 0x02;
const VENDOR_NAME = 0x80;
const MODEL_NAME = 0x81;
const REVISION = 0x82;

export const mmsDecoder: Decoder = {
  name: 'mms',
  family: 'tcp',
  keys: [ISO_TSAP_PORT],
  // An Identify answer split over segments is gathered whole.
  messageLength: tpktMessageLength,
  // A TPKT, COTP DT and the two data-phase SPDUs at the least.
  match: (pkt) => onIsoTsap(pkt, 11),
  // Polling (reads, reports) repeats the same roles in every PDU: one key per direction and PDU kind.
  // What is no MMS (S7comm shares the port) says nothing: one key more. An Identify answer, or a
  // segment of several TPKTs, is decoded every time.
  repeatKey(pkt) {
    const b = pkt.data;
    const o = pkt.payloadOffset;
    const data = firstDataTpdu(b, o, pkt.payloadEnd);
    if (!data || b.readUInt16BE(o + 2) !== pkt.payloadEnd - o) return undefined;
    try {
      const mms = mmsPdu(b, data.userData, data.tpktEnd);
      if (!mms) return NOT_MMS_KEY;
      if (mms.tag === CONFIRMED_RESPONSE && isIdentify(b, mms)) return undefined;
      return (mms.tag & 0x1f) + (pkt.srcPort === ISO_TSAP_PORT ? 32 : 0);
    } catch {
      return undefined;
    }
  },
  decode(pkt: PacketView, sink: ObservationSink): void {
    const b = pkt.data;
    const fromServer = pkt.srcPort === ISO_TSAP_PORT;
    forEachDataTpdu(b, pkt.payloadOffset, pkt.payloadEnd, (userData, tpktEnd) => {
      const mms = mmsPdu(b, userData, tpktEnd);
      if (mms) report(pkt, sink, b, mms, fromServer);
    });
  },
};

/** The repeat key of a PDU that is no MMS; those of MMS PDUs are their tag's number, plus 32 from a server. */
const NOT_MMS_KEY = 64;

/** The MMS PDU inside a data-phase session and presentation wrapping at `o`; undefined for anything else. */
function mmsPdu(b: Buffer, o: number, end: number): BerElement | undefined {
  // GIVE TOKENS then DATA TRANSFER, each SI, LI and LI bytes of parameters (ISO 8327-1 §8.2.1).
  for (let spdu = 0; spdu < 2; spdu++) {
    if (o + 2 > end || b[o] !== SPDU_DATA_PHASE) return undefined;
    let li = b[o + 1]!;
    o += 2;
    if (li === 0xff) {
      if (o + 2 > end) return undefined;
      li = b.readUInt16BE(o);
      o += 2;
    }
    o += li;
  }
  if (o >= end || b[o] !== FULLY_ENCODED_DATA) return undefined;
  // From here on the bytes claim to be MMS: damage is malformed MMS, counted as such.
  const userData = berElement(b, o, end);
  const pdv = berChildren(b, userData, 1)[0];
  if (pdv?.tag !== PDV_LIST) throw new RangeError('presentation user data without a PDV list');
  const value = berChildren(b, pdv, 4).find((f) => f.tag === SINGLE_ASN1_TYPE);
  if (!value) return undefined;
  return berElement(b, value.start, value.end);
}

function report(
  pkt: PacketView,
  sink: ObservationSink,
  b: Buffer,
  mms: BerElement,
  fromServer: boolean,
): void {
  const tag = mms.tag;
  if (fromServer) {
    if (tag !== CONFIRMED_RESPONSE && tag !== CONFIRMED_ERROR && tag !== UNCONFIRMED) return;
    emitForHost(pkt, sink, 'mms', 'role', 'mms:server', 0.85, 'mms.confirmed_response');
    emitForHost(pkt, sink, 'mms', 'role', 'mms:client', 0.6, 'mms.confirmed_response', 'dst');
    if (tag === CONFIRMED_RESPONSE) identify(pkt, sink, b, mms);
    return;
  }
  if (tag !== CONFIRMED_REQUEST) return;
  emitForHost(pkt, sink, 'mms', 'role', 'mms:client', 0.8, 'mms.confirmed_request');
  emitForHost(pkt, sink, 'mms', 'role', 'mms:server', 0.6, 'mms.confirmed_request', 'dst');
}

/** A confirmed response's service: invokeID, then the service response ([2] for Identify). */
function serviceOf(b: Buffer, response: BerElement): BerElement | undefined {
  const [invokeId, service] = berChildren(b, response, 2);
  return invokeId?.tag === INTEGER ? service : undefined;
}

const isIdentify = (b: Buffer, response: BerElement): boolean =>
  serviceOf(b, response)?.tag === IDENTIFY_RESPONSE;

/** An Identify answer: the server's vendor, model and revision. */
function identify(pkt: PacketView, sink: ObservationSink, b: Buffer, response: BerElement): void {
  const service = serviceOf(b, response);
  if (service?.tag !== IDENTIFY_RESPONSE) return;
  const id = berChildren(b, service, 4);
  const value = (tag: number) => {
    const f = id.find((x) => x.tag === tag);
    return f ? text(b, f.start, f.end).trim() : '';
  };
  // What the server says of itself, as S7 SZLs and CIP identities do: near certain.
  emitForHost(pkt, sink, 'mms', 'manufacturer', value(VENDOR_NAME), 0.85, 'mms.identify.vendorName');
  emitForHost(pkt, sink, 'mms', 'model', value(MODEL_NAME), 0.85, 'mms.identify.modelName');
  emitForHost(pkt, sink, 'mms', 'firmwareVersion', value(REVISION), 0.8, 'mms.identify.revision');
}
