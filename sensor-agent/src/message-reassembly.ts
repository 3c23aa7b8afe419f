// Gathers a TCP message that one segment only begins, so that its decoders
// read it whole.
//
// Identity over TCP mostly lies in one message at the start of a stream
// direction, and more and more of those outgrow a segment: a browser's TLS
// ClientHello with a post-quantum key share (X25519MLKEM768, the default in
// Chrome and Firefox since 2024) is ~1.8 KB, so its JA4 (and often its SNI,
// whose place among the extensions Chrome shuffles) is in the second segment
// of a 1460-byte MSS; a UPnP device description, an HNAP settings answer or
// an IPP attribute list runs to several KB; some Modbus and S7 stacks send a
// header and its PDU in separate segments. Decoders that declare
// `messageLength` (decoders/types.ts) say how long the message a segment
// begins is; when the segment does not hold it whole, this module follows
// that direction of the connection, appends the segments that continue it
// in sequence order, and hands the message to its decoders once.
//
// It is deliberately not a general TCP reassembler (Zeek's or Suricata's):
// it follows one message per direction, never a stream, and only while a
// decoder asks. The message is decoded once, when whole. What it gathers is
// bounded: MAX_OPEN directions at once (the oldest is given up when a new
// one would not fit), MAX_MESSAGE bytes each, and IDLE_MS of capture time
// per message. A gap (a lost or unseen segment), a FIN or RST, the bound or
// the time ends the gathering with what it has: a message cut short is
// decoded as far as it got, as it would have been without reassembly, so
// nothing its first segment told is lost. Retransmitted and overlapping
// segments are read once. Segments that arrive before the message's first
// one (reordered) are not waited for.
import { PacketView } from './packet/view.js';

/** Directions gathered at once; at most MAX_OPEN x MAX_MESSAGE bytes (4 MiB) in all. */
const MAX_OPEN = 128;
/** A message longer than this is decoded from its first MAX_MESSAGE bytes. */
export const MAX_MESSAGE = 32 * 1024;
/** A message not complete after this much capture time is decoded as it is. */
const IDLE_MS = 10_000;
const FIN = 0x01;
const RST = 0x04;
const IPV6_ADDRESSES = 32;

/** The message's length given its bytes data[start, end) so far (see Decoder.messageLength). */
export type MessageLength = (
  ordinal: number,
  view: PacketView,
  data: Buffer,
  start: number,
  end: number,
) => number;
/** Decodes a gathered message (`complete`: whole, not cut short) with the decoders (by ordinal) that asked for it. */
export type MessageHandler = (view: PacketView, decoders: readonly number[], complete: boolean) => void;

class Gathering {
  /** The first segment's layers over `bytes`: its frame up to the payload, then the message so far. */
  readonly view = new PacketView();
  bytes: Buffer;
  /** Where the message begins in `bytes`, and how far it has been gathered. */
  readonly start: number;
  end: number;
  nextSeq: number;
  wanted: number;
  readonly startedMs: number;
  readonly decoders: number[];

  constructor(
    readonly key: number,
    v: PacketView,
    ordinal: number,
    wanted: number,
  ) {
    const headers = v.payloadOffset - v.frameStart;
    const payload = v.payloadEnd - v.payloadOffset;
    // A length the decoder cannot tell yet (an open HTTP head) asks for MAX_MESSAGE: start smaller and grow.
    this.bytes = Buffer.allocUnsafe(headers + Math.min(wanted, Math.max(2 * payload, 4096)));
    v.data.copy(this.bytes, 0, v.frameStart, v.payloadEnd);
    this.view.copyRebased(v, this.bytes);
    this.start = headers;
    this.end = headers + payload;
    this.nextSeq = (v.tcpSeq + payload) >>> 0;
    this.wanted = wanted;
    this.startedMs = v.timestampMs;
    this.decoders = [ordinal];
  }

  get gathered(): number {
    return this.end - this.start;
  }

  /** Appends data[from, to), growing `bytes` up to MAX_MESSAGE; returns false when the bound cut it. */
  append(data: Buffer, from: number, to: number): boolean {
    const room = this.start + MAX_MESSAGE - this.end;
    const n = Math.min(to - from, room);
    if (this.end + n > this.bytes.length) {
      const grown = Buffer.allocUnsafe(
        Math.min(this.start + MAX_MESSAGE, Math.max(this.end + n, 2 * this.bytes.length)),
      );
      this.bytes.copy(grown, 0, 0, this.end);
      this.bytes = grown;
      this.view.data = grown;
    }
    data.copy(this.bytes, this.end, from, from + n);
    this.end += n;
    this.nextSeq = (this.nextSeq + n) >>> 0;
    return n === to - from;
  }
}

export class MessageReassembler {
  /** By flow hash; insertion order is age, so the oldest is first. */
  private readonly open = new Map<number, Gathering>();
  /** Messages decoded whole after gathering, and those decoded cut short (a gap, a bound, a closed connection). */
  completed = 0;
  incomplete = 0;

  constructor(
    private readonly lengthOf: MessageLength,
    private readonly deliver: MessageHandler,
  ) {}

  get size(): number {
    return this.open.size;
  }

  /**
   * The segment in `v` begins a message of `wanted` bytes that it does not
   * hold whole, for the decoder `ordinal`: follow the connection, and decode
   * the message (with the first segment's headers and time) once gathered.
   */
  hold(ordinal: number, v: PacketView, wanted: number): void {
    const key = flowKey(v);
    const g = this.open.get(key);
    if (g !== undefined) {
      // A second decoder of the same segment (HTTP heads and UPnP descriptions share one) joins it.
      if (sameFlow(g.view, v) && g.view.tcpSeq === v.tcpSeq) {
        if (!g.decoders.includes(ordinal)) g.decoders.push(ordinal);
        if (wanted > g.wanted) g.wanted = wanted;
        return;
      }
      // Another message on this direction (or a flow with the same hash): the new one is followed.
      this.finish(g, false);
    }
    if (this.open.size >= MAX_OPEN) this.finish(this.open.values().next().value!, false);
    this.open.set(key, new Gathering(key, v, ordinal, wanted));
  }

  /**
   * A TCP segment: if it continues a message being gathered, appends it (and
   * decodes the message once whole) and returns true: its bytes begin no
   * message of their own.
   */
  segment(v: PacketView): boolean {
    const payload = v.payloadEnd - v.payloadOffset;
    if (payload === 0 && (v.tcpFlags & (FIN | RST)) === 0) return false;
    const g = this.open.get(flowKey(v));
    if (g === undefined || !sameFlow(g.view, v)) return false;
    // Sequence numbers wrap at 2^32: the signed difference says before or after.
    const ahead = (v.tcpSeq - g.nextSeq) | 0;
    if (ahead > 0) {
      // A segment is missing (lost, or not seen by this sensor): the message ends where the gap begins.
      this.finish(g, false);
      return false;
    }
    // A retransmission or an overlap: only what lies past the gathered bytes is new.
    // Up to the length asked for, asking again as it grows: a header alone (an MBAP, a TPKT) tells the length
    // only once it is whole, and an HTTP head its body's once it has ended.
    for (let from = v.payloadOffset - ahead; from < v.payloadEnd; ) {
      const to = Math.min(v.payloadEnd, from + (g.wanted - g.gathered));
      if (!g.append(v.data, from, to)) {
        this.finish(g, false);
        return true;
      }
      from = to;
      g.wanted = this.wantedBy(g);
      if (g.gathered >= g.wanted) {
        this.finish(g, true);
        return true;
      }
    }
    // The sender is done: what it sent is the whole message (an HTTP body that ends with the connection).
    if ((v.tcpFlags & FIN) !== 0) this.finish(g, true);
    else if ((v.tcpFlags & RST) !== 0) this.finish(g, false);
    return true;
  }

  /** Gives up the messages begun more than IDLE_MS of capture time before `nowMs`. */
  expire(nowMs: number): void {
    for (const g of this.open.values()) {
      if (nowMs - g.startedMs <= IDLE_MS) return;
      this.finish(g, false);
    }
  }

  /** Decodes every message still being gathered as far as it got (the capture has ended). */
  flush(): void {
    for (const g of [...this.open.values()]) this.finish(g, false);
  }

  /** The largest length the message's decoders ask for now (an open HTTP head asks again as it grows). */
  private wantedBy(g: Gathering): number {
    let wanted = 0;
    for (const d of g.decoders) wanted = Math.max(wanted, this.lengthOf(d, g.view, g.bytes, g.start, g.end));
    return Math.min(wanted, MAX_MESSAGE);
  }

  private finish(g: Gathering, complete: boolean): void {
    this.open.delete(g.key);
    if (complete) this.completed++;
    else this.incomplete++;
    g.view.payloadEnd = g.end;
    this.deliver(g.view, g.decoders, complete);
  }
}

/** A hash of the direction: addresses and ports (collisions are told apart by sameFlow). */
function flowKey(v: PacketView): number {
  let h = Math.imul(v.srcPort * 65536 + v.dstPort, 0x9e3779b1);
  if (v.ipVersion === 4) {
    h ^= Math.imul(v.srcIp4 | 0, 0x85ebca6b);
    h ^= Math.imul(v.dstIp4 | 0, 0xc2b2ae35);
  } else {
    const b = v.data;
    for (let i = 0; i < IPV6_ADDRESSES; i++) h = Math.imul(h ^ b[v.srcIp6Offset + i]!, 0x01000193);
  }
  return (h ^ (h >>> 15)) >>> 0;
}

function sameFlow(a: PacketView, b: PacketView): boolean {
  if (a.ipVersion !== b.ipVersion || a.srcPort !== b.srcPort || a.dstPort !== b.dstPort) return false;
  if (a.ipVersion === 4) return a.srcIp4 === b.srcIp4 && a.dstIp4 === b.dstIp4;
  return (
    a.data.compare(
      b.data,
      b.srcIp6Offset,
      b.srcIp6Offset + IPV6_ADDRESSES,
      a.srcIp6Offset,
      a.srcIp6Offset + IPV6_ADDRESSES,
    ) === 0
  );
}
