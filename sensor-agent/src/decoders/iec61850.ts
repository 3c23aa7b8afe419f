// IEC 61850 substation messages straight on Ethernet (IEC 61850-8-1 Annex A
// GOOSE, EtherType 0x88B8; IEC 61850-9-2 Sampled Values, 0x88BA): protection
// relays and bay controllers publish GOOSE, merging units publish sampled
// values, each as multicast from its own MAC, again and again. The header
// (APPID, length) precedes a BER-encoded PDU whose first fields name the
// publisher's control block: a GOOSE gocbRef is "<logical device>/LLN0$GO$<name>",
// and the logical device's name begins with the IED's name from the
// substation's configuration (SCL), the identity engineers know it by.
// Sampled values name their stream (svID) instead.
import type { PacketView } from '../packet/view.js';
import { type BerElement, berChildren, berElement } from './ber.js';
import type { Decoder, ObservationSink } from './types.js';
import { observation, text } from './util.js';

const ETHERTYPE_GOOSE = 0x88b8;
const ETHERTYPE_SV = 0x88ba;
/** APPID, Length, Reserved 1, Reserved 2 (IEC 61850-8-1 Annex A, IEC 61850-9-2 §5.3.3). */
const HEADER = 8;
const GOOSE_PDU = 0x61;
const SAV_PDU = 0x60;
/** goosePdu's first field (context tag [0]): gocbRef. */
const GOCB_REF = 0x80;
/** savPdu: seqASDU [2], each ASDU a SEQUENCE whose svID is [0]. */
const SEQ_ASDU = 0xa2;
const SV_ID = 0x80;

interface Publisher {
  goose: boolean;
  /** gocbRef, or the first ASDU's svID. */
  reference: string;
}

/** The PDU's publisher identity; throws RangeError on a PDU that is not well-formed BER. */
function publisherOf(pkt: PacketView): Publisher {
  const b = pkt.data;
  const o = pkt.l3Offset;
  if (pkt.l3End - o < HEADER + 2) throw new RangeError('IEC 61850 frame shorter than its header');
  const length = b.readUInt16BE(o + 2);
  if (length < HEADER + 2) throw new RangeError(`IEC 61850 length ${length} shorter than its header`);
  const end = Math.min(pkt.l3End, o + length);
  const pdu = berElement(b, o + HEADER, end);
  const fields = berChildren(b, pdu, 16);
  const value = (list: BerElement[], tag: number) => {
    const f = list.find((x) => x.tag === tag);
    return f ? text(b, f.start, f.end) : '';
  };
  if (pdu.tag === GOOSE_PDU) {
    const reference = value(fields, GOCB_REF);
    if (reference === '') throw new RangeError('GOOSE PDU without a gocbRef');
    return { goose: true, reference };
  }
  if (pdu.tag === SAV_PDU) {
    const seq = fields.find((f) => f.tag === SEQ_ASDU);
    if (!seq) throw new RangeError('sampled values PDU without its ASDUs');
    const first = berChildren(b, seq, 1)[0];
    if (!first) throw new RangeError('sampled values PDU with no ASDU');
    const reference = value(berChildren(b, first, 16), SV_ID);
    if (reference === '') throw new RangeError('sampled values ASDU without an svID');
    return { goose: false, reference };
  }
  throw new RangeError(`IEC 61850 PDU tag 0x${pdu.tag.toString(16)} is neither GOOSE nor sampled values`);
}

/** A 31-bit hash of the publisher's identity: what a repeat must share to tell nothing new. */
function keyOf(p: Publisher): number {
  let h = p.goose ? 0x2b : 0x5d;
  for (let i = 0; i < p.reference.length; i++) h = Math.imul(h ^ p.reference.charCodeAt(i), 0x01000193);
  return h >>> 1;
}

export const iec61850Decoder: Decoder = {
  name: 'iec61850',
  family: 'link',
  keys: [ETHERTYPE_GOOSE, ETHERTYPE_SV],
  match: (pkt) => pkt.l3End - pkt.l3Offset >= HEADER + 2,
  // A publisher retransmits the same control block's message with new sequence numbers and values (GOOSE
  // repeats every few ms to seconds; sampled values 4000 times a second): its identity is the key.
  repeatKey: (pkt) => keyOf(publisherOf(pkt)),
  decode(pkt: PacketView, sink: ObservationSink): void {
    const p = publisherOf(pkt);
    const mac = pkt.srcMac;
    const emit = (
      name: 'role' | 'stationName' | 'hostname',
      value: string,
      confidence: number,
      field: string,
    ) => {
      if (value !== '')
        sink.observe(observation(pkt, mac, undefined, 'iec61850', name, value, confidence, field));
    };
    if (p.goose) {
      emit('role', 'iec61850:goose-publisher', 0.9, 'goose.gocbRef');
      // The logical device: the IED's name and the LD instance, as the SCL file joins them.
      const device = p.reference.split('/')[0]!;
      emit('stationName', device, 0.8, 'goose.gocbRef');
      emit('hostname', device, 0.4, 'goose.gocbRef');
    } else {
      emit('role', 'iec61850:sv-publisher', 0.9, 'sv.svID');
      emit('stationName', p.reference, 0.7, 'sv.svID');
    }
  },
};
