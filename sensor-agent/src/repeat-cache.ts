// Discovery traffic repeats itself: an mDNS announcement, an SSDP NOTIFY, an
// LLDP frame, a BACnet I-Am or an NBNS broadcast goes out byte for byte the
// same every few seconds for as long as the device is up. Measured on the real
// captures the benchmark replays, 33-75% of the packets of the
// discovery-heavy ones are exact repeats of an earlier packet from the same
// sender. Decoding such a packet again yields the same observations with a
// later timestamp, and the store's merge rules make those a no-op apart from
// the devices' last-seen time, as long as none of the devices they landed on
// changed generation (see Device.generation for when that does not hold).
// Generations are per device: an address changing hands or two devices
// merging elsewhere on the segment leaves every other device's slots valid
// (a store-wide counter had a busy site's whole cache decoded again on each
// such change). So the pipeline remembers, per sender and decoder, the packets it
// decoded and which devices their observations landed on; a byte-identical
// repeat only refreshes those devices' timestamps. A sender's announcements
// come in cycles (an SSDP NOTIFY per service type, an mDNS answer per
// record set, a BACnet device's properties read one by one), so each
// distinct packet keeps its own slot, and a transaction identifier the
// decoder declares (DNS and NBNS ids, BACnet invoke ids) is not compared.
//
// Decoders that declare `repeatKey` (cyclic OT polling, whose packets differ
// in transaction ids and values but not in what they tell) are compared by
// that key instead of their bytes, with the same addresses, ports and TTL.
//
// Only decoders that declare `announces` or `repeatKey` use it. The cache is
// two-way set associative: a hash of sender, destination port, IPv4
// addresses, and key or sampled content picks a set of two slots, and a miss
// replaces the one used less recently. It is bounded (slots x at most
// MAX_BYTES) and costs one hash and one or two memcmps per decoded packet.
// Two ways because a direct-mapped table spent, on the benchmark's mix, a
// quarter of its decodes on pairs that kept evicting each other: answers of
// one sender that differ only in bytes the sampled hash skips (an ENIP
// identity whose revision changed), or two streams whose hashes collide.
// Compared: the addresses, TTL/hop limit and ports the decoders read (none
// for a `portBlind` decoder, whose clients ask from a new ephemeral port each
// time), and the protocol bytes; not the IPv4 identification or checksums,
// which change from one copy of a datagram to the next.
import type { Decoder } from './decoders/types.js';
import { type Device, generationBumpCount } from './inventory/device.js';
import type { PacketView } from './packet/view.js';

/**
 * 4096 slots hold a busy segment's announcement cycles: on the benchmark's mix,
 * 16384 skipped 0.8% more packets (direct-mapped), for up to four times the
 * memory (a slot keeps up to MAX_BYTES).
 */
const REPEAT_SLOTS = 4096;
const WAYS = 2;
/** Larger payloads are not discovery announcements; they are decoded every time. */
const MAX_BYTES = 1536;
/** IPv6 source and destination addresses are 32 contiguous bytes of the header. */
const IP6_ADDRESSES = 32;
const TWO_32 = 4294967296;

class Slot {
  /** The decoder's position in the pipeline's decoder list, -1 while unused. */
  decoder = -1;
  /** The sum of the devices' generations when remembered: any bump since changes it. */
  generation = -1;
  /** generationBumpCount() when the sum was last found unchanged: while it still reads so, no device's moved. */
  bumps = -1;
  sender = -1;
  dstMac = -1;
  etherType = -1;
  snap = -1;
  ipVersion = 0;
  srcIp4 = 0;
  dstIp4 = 0;
  ttl = 0;
  srcPort = -1;
  dstPort = -1;
  /** The decoder's repeatKey, or -1 when the protocol bytes are compared. */
  key = -1;
  /** Where the transaction identifier lies in the protocol bytes (not compared), or -1. */
  tidOffset = -1;
  /** IPv6 addresses (when ipVersion is 6), then the compared protocol bytes. */
  length = 0;
  bytes: Buffer = Buffer.alloc(0);
  /** `bytes` as a DataView, for comparing four bytes at a time. */
  words: DataView = new DataView(new ArrayBuffer(0));
  devices: readonly Device[] = [];
}

export class RepeatCache {
  /**
   * Each decoder's transaction identifier, by position: read once here, as a
   * property of decoders of many shapes it was a megamorphic load per packet.
   */
  private readonly tids: readonly (Decoder['transactionId'] | undefined)[];
  /** Per decoder, 1 where it is `portBlind`: its packets' ports are neither hashed nor compared. */
  private readonly portBlind: Uint8Array;
  /** Set k's ways are slots[2k] and slots[2k + 1]. */
  private readonly slots: (Slot | undefined)[];
  /** Per set, the way last found or filled: a miss replaces the other. */
  private readonly recent: Uint8Array;
  /** The number of sets less one: a mask, as the number is a power of two. */
  private readonly setMask: number;
  /** The packet's buffer as a DataView: made once per buffer (a capture reader's chunk holds thousands of frames). */
  private data: Buffer | undefined;
  private dataWords: DataView = new DataView(new ArrayBuffer(0));
  /** The slot the last find() chose for remember() to fill. */
  private index = 0;
  /** The transaction identifier's offset found by the last find(), reused by remember(). */
  private tidOffset = -1;

  /** A cache of `slots` slots (a power of two, at least 2) for the packets of `decoders`, which find() and remember() name by position. */
  constructor(decoders: readonly Decoder[], slots = REPEAT_SLOTS) {
    if (!Number.isInteger(Math.log2(slots)) || slots < WAYS)
      throw new RangeError(`repeat cache slots must be a power of two, at least ${WAYS}: got ${slots}`);
    this.slots = new Array(slots).fill(undefined);
    this.recent = new Uint8Array(slots / WAYS);
    this.setMask = slots / WAYS - 1;
    this.tids = decoders.map((d) => d.transactionId);
    this.portBlind = Uint8Array.from(decoders, (d) => (d.portBlind === true ? 1 : 0));
  }

  /**
   * The devices that the previous decoding of this very packet landed on, when
   * `v` repeats it byte for byte (its transaction identifier aside) and none
   * of those devices changed generation since; else undefined. `decoder` is
   * the decoder's position in the list the cache was made for.
   */
  find(decoder: number, v: PacketView, key = -1): readonly Device[] | undefined {
    const sender = v.srcMac >= 0 ? v.srcMac : v.srcIp4;
    const keyed = key >= 0;
    const start = v.ipVersion === 0 ? v.l3Offset : v.payloadOffset;
    const end = v.ipVersion === 0 ? v.l3End : v.payloadEnd;
    const tid = keyed ? undefined : this.tids[decoder];
    let tidOffset = tid ? tid.offset(v) : -1;
    if (tidOffset >= 0 && tidOffset + tid!.length > end - start) tidOffset = -1;
    this.tidOffset = tidOffset;
    const ports = this.portBlind[decoder] === 0;
    // The key (or the content) and the IPv4 addresses join the set's hash: a poller cycling
    // through unit ids or targets, a sender cycling through its announcements, or one MAC
    // answering for many BACnet addresses keeps a slot per unit, announcement or address pair
    // instead of evicting one with the next.
    let h =
      (keyed
        ? Math.imul(key + 1, 0x165667b1)
        : contentHash(v.data, start, end, tidOffset, tidOffset >= 0 ? tid!.length : 0)) ^
      // The low 32 bits, without a floating-point modulo (see MacMap's hash).
      Math.imul(sender | 0, 0x9e3779b1) ^
      Math.imul(Math.floor(sender / TWO_32), 0x85ebca6b) ^
      Math.imul(((ports ? v.dstPort : 0) & 0xffff) + (v.ipVersion << 16), 0x27d4eb2f) ^
      Math.imul(v.srcIp4 | 0, 0xc2b2ae35) ^
      Math.imul(v.dstIp4 | 0, 0x27220a95);
    h ^= h >>> 15;
    const set = h & this.setMask;
    const first = set * WAYS;
    const recent = this.recent[set]!;
    // The way found last is tried first: a sender's repeats tend to come in runs.
    for (let w = 0; w < WAYS; w++) {
      const way = w === 0 ? recent : recent ^ 1;
      const s = this.slots[first + way];
      if (s === undefined || !this.holds(s, decoder, v, sender, key, start, end, ports)) continue;
      // Found: a repeat, unless its devices changed since (then decoded again, and remembered here).
      this.index = first + way;
      this.recent[set] = way;
      const bumps = generationBumpCount();
      if (s.bumps === bumps) return s.devices;
      if (generationOf(s.devices) !== s.generation) return undefined;
      s.bumps = bumps;
      return s.devices;
    }
    // A miss: an unused way, else the one not used last.
    const fill = this.slots[first + recent] === undefined ? recent : recent ^ 1;
    this.index = first + fill;
    this.recent[set] = fill;
    return undefined;
  }

  /** Whether slot `s` holds this packet for this decoder (find() computed the rest of the arguments). */
  private holds(
    s: Slot,
    decoder: number,
    v: PacketView,
    sender: number,
    key: number,
    start: number,
    end: number,
    ports: boolean,
  ): boolean {
    const tidOffset = this.tidOffset;
    if (
      s.decoder !== decoder ||
      s.sender !== sender ||
      s.dstMac !== v.dstMac ||
      s.ipVersion !== v.ipVersion ||
      s.key !== key ||
      s.tidOffset !== tidOffset
    )
      return false;
    const b = v.data;
    let at = 0;
    if (v.ipVersion === 0) {
      if (s.etherType !== v.etherType || s.snap !== snapOf(v)) return false;
    } else {
      if (s.ttl !== v.ttl || (ports && (s.srcPort !== v.srcPort || s.dstPort !== v.dstPort))) return false;
      if (v.ipVersion === 4) {
        if (s.srcIp4 !== v.srcIp4 || s.dstIp4 !== v.dstIp4) return false;
      } else {
        const a = v.srcIp6Offset;
        if (
          s.length < IP6_ADDRESSES ||
          !sameBytes(this.wordsOf(b), b, a, a + IP6_ADDRESSES, s.words, s.bytes, 0, IP6_ADDRESSES)
        )
          return false;
        at = IP6_ADDRESSES;
      }
    }
    if (key >= 0) return true;
    if (tidOffset < 0) return sameBytes(this.wordsOf(b), b, start, end, s.words, s.bytes, at, s.length);
    // Around the transaction identifier: before it, then after it.
    const cut = start + tidOffset;
    const resume = Math.min(end, cut + this.tids[decoder]!.length);
    return (
      end - start === s.length - at &&
      sameBytes(this.wordsOf(b), b, start, cut, s.words, s.bytes, at, at + tidOffset) &&
      sameBytes(this.wordsOf(b), b, resume, end, s.words, s.bytes, at + (resume - start), s.length)
    );
  }

  private wordsOf(b: Buffer): DataView {
    if (b !== this.data) {
      this.data = b;
      this.dataWords = new DataView(b.buffer, b.byteOffset, b.byteLength);
    }
    return this.dataWords;
  }

  /** Records that `v`, just decoded by `decoder`, landed on `devices` (call right after a find() that missed), in the slot find() chose. */
  remember(decoder: number, v: PacketView, devices: readonly Device[], key = -1): void {
    const ip6 = v.ipVersion === 6;
    const start = v.ipVersion === 0 ? v.l3Offset : v.payloadOffset;
    // Keyed: the key stands for the protocol bytes, none are kept.
    const end = key >= 0 ? start : v.ipVersion === 0 ? v.l3End : v.payloadEnd;
    const length = end - start + (ip6 ? IP6_ADDRESSES : 0);
    if (length > MAX_BYTES || (ip6 && v.srcIp6Offset < 0)) return;
    let s = this.slots[this.index];
    if (!s) {
      s = new Slot();
      this.slots[this.index] = s;
    }
    s.decoder = decoder;
    s.generation = generationOf(devices);
    s.bumps = generationBumpCount();
    s.sender = v.srcMac >= 0 ? v.srcMac : v.srcIp4;
    s.dstMac = v.dstMac;
    s.etherType = v.etherType;
    s.snap = snapOf(v);
    s.ipVersion = v.ipVersion;
    s.srcIp4 = v.srcIp4;
    s.dstIp4 = v.dstIp4;
    s.ttl = v.ttl;
    s.srcPort = v.srcPort;
    s.dstPort = v.dstPort;
    s.key = key;
    s.tidOffset = key >= 0 ? -1 : this.tidOffset;
    // The slot's buffer is reused while it is large enough: a miss allocates only when a slot grows.
    if (s.bytes.length < length) {
      s.bytes = Buffer.allocUnsafe(Math.max(length, 256));
      s.words = new DataView(s.bytes.buffer, s.bytes.byteOffset, s.bytes.byteLength);
    }
    let at = 0;
    if (ip6) at += copyBytes(v.data, v.srcIp6Offset, v.srcIp6Offset + IP6_ADDRESSES, s.bytes, 0);
    copyBytes(v.data, start, end, s.bytes, at);
    s.length = length;
    s.devices = devices;
  }
}

function generationOf(devices: readonly Device[]): number {
  let sum = 0;
  for (let i = 0; i < devices.length; i++) sum += devices[i]!.generation;
  return sum;
}

/** Bytes sampled for the content hash: enough to tell apart the packets of a sender's announcement cycle. */
const SAMPLES = 16;

/**
 * A cheap hash of the compared protocol bytes b[start, end): their length and
 * SAMPLES bytes spread over them, none from the transaction identifier.
 * Packets that differ only where it does not look share a slot and evict
 * each other (decoded again, never wrong: find() compares every byte).
 */
function contentHash(b: Buffer, start: number, end: number, tidOffset: number, tidLength: number): number {
  const n = end - start;
  let h = Math.imul(n + 1, 0x165667b1);
  const step = n > SAMPLES ? Math.floor(n / SAMPLES) : 1;
  const tidEnd = tidOffset + tidLength;
  for (let i = n - 1, k = 0; i >= 0 && k < SAMPLES; i -= step, k++)
    if (i < tidOffset || i >= tidEnd) h = Math.imul(h ^ b[start + i]!, 0x01000193);
  return h;
}

function snapOf(v: PacketView): number {
  return v.snapOui < 0 ? -1 : v.snapOui * 65536 + v.snapPid;
}

/** Copies a[start, end) to b at `at`: a byte loop for short runs, the native copy beyond. */
function copyBytes(a: Buffer, start: number, end: number, b: Buffer, at: number): number {
  const n = end - start;
  if (n > 64) return a.copy(b, at, start, end);
  for (let i = 0; i < n; i++) b[at + i] = a[start + i]!;
  return n;
}

/**
 * a[aStart, aEnd) equals b[bStart, bEnd), four bytes at a time through their
 * DataViews (Buffer.compare's native call cost more than the comparison for
 * the few hundred bytes of an announcement).
 */
function sameBytes(
  aWords: DataView,
  a: Buffer,
  aStart: number,
  aEnd: number,
  bWords: DataView,
  b: Buffer,
  bStart: number,
  bEnd: number,
): boolean {
  const n = aEnd - aStart;
  if (n !== bEnd - bStart) return false;
  let i = 0;
  // Little-endian: equality does not care about byte order, and on x86 and ARM it needs no byte swap.
  for (; i + 4 <= n; i += 4)
    if (aWords.getInt32(aStart + i, true) !== bWords.getInt32(bStart + i, true)) return false;
  for (; i < n; i++) if (a[aStart + i] !== b[bStart + i]) return false;
  return true;
}
