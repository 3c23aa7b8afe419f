// capture -> link/IP parse -> decoders -> inventory.
//
// The hot path (every packet) is: reset the one reused PacketView, parse the
// headers by offset (and those of a frame carried in a mirroring tunnel),
// note the sender in the store, and look up the decoders registered for the
// EtherType, the IP protocol or the UDP/TCP ports. Only packets of a decoded
// protocol pay for more, and a byte-identical repeat of a packet a decoder
// saw from the same sender (its transaction id aside; or, for cyclic polling,
// one with the same repeat key) only refreshes timestamps (repeat-cache.ts).
// Nothing a packet contains can throw out of `process`: header damage is
// counted as malformed, and a decoder that throws on a packet has that packet
// counted against its protocol. A TCP message that one segment only begins
// (a large TLS ClientHello, an HTTP device description) is gathered from the
// segments that follow and decoded once, whole (message-reassembly.ts).
//
// Before any of that, with the native addon built, the frame memo
// (frame-memo.ts) recognises a batch's frames that change nothing but
// last-seen, in C, and those are replayed: their devices seen, their
// decoders' repeats counted, without parsing them here.
//
// The header parse stays in JavaScript. A C addon that parsed a whole batch's
// headers in one call was measured (callgrind, the benchmark's mix): copying
// its two dozen fields per frame into the PacketView cost ~380 instructions,
// about what parsing them here costs, so the pipeline gained 2%, not worth a
// second parser to keep equal to this one.
import type { DeviceRecord } from '@hark/contracts/inventory';
import type { FrameBatch } from './capture/frames.js';
import { type CaptureSource, type ReadCaptureOptions, readCaptureBatches } from './capture/reader.js';
import type { CapturedPacket, CaptureFormat } from './capture/types.js';
import { DecoderIndex, FamilyCode, LEADS } from './decoders/registry.js';
import type { Decoder } from './decoders/types.js';
import { FrameMemo, VERDICT_BITS, VERDICT_HIT, VERDICT_SENDER, VERDICT_TCP } from './frame-memo.js';
import type { Device } from './inventory/device.js';
import { DeviceStore } from './inventory/store.js';
import { LearnedEndpoints } from './learned-endpoints.js';
import { MAX_MESSAGE, MessageReassembler } from './message-reassembly.js';
import { IpProto } from './packet/ethertypes.js';
import { parsePacket } from './packet/parse.js';
import { decapsulate, mayCarryTunnel } from './packet/tunnel.js';
import { LearnedServer, PacketView, ParseResult } from './packet/view.js';
import { RepeatCache } from './repeat-cache.js';

export interface PipelineStats {
  packets: number;
  bytes: number;
  /** Frames whose headers are damaged, plus protocol payloads a decoder rejected. */
  malformed: number;
  /** Frames of a link type hark does not parse yet. */
  unsupportedLink: number;
  /** Packets successfully decoded, per protocol. */
  decoded: Record<string, number>;
  /** Packets a decoder rejected as malformed, per protocol. */
  decodeErrors: Record<string, number>;
  /** Of the decoded packets, those that repeated an earlier one byte for byte and were not decoded again. */
  repeats: number;
  /** Frames the frame memo recognised as changing nothing but last-seen, replayed without being parsed (frame-memo.ts). */
  replayed: number;
  /** Frames read from inside a mirroring or overlay tunnel (ERSPAN, GRE, VXLAN, Geneve; see packet/tunnel.ts). */
  decapsulated: number;
  /** TCP messages gathered from several segments and decoded whole. */
  reassembled: number;
  /** TCP messages whose gathering ended before they were whole (a segment lost or unseen, the connection closed, a bound) and that were decoded as far as they went. */
  reassemblyIncomplete: number;
}

export interface PipelineOptions {
  decoders?: DecoderIndex;
  store?: DeviceStore;
  /**
   * Skip decoding byte-identical repeats (default true). The inventory is the
   * same either way; tests turn it off to prove that.
   */
  skipRepeats?: boolean;
  /** The repeat cache's slots: a power of two, at least 2 (default REPEAT_SLOTS, 4096). */
  repeatSlots?: number;
  /**
   * Replay frames the native frame memo recognises (default true, where the
   * addon is built; never with skipRepeats: false). The inventory is the same
   * either way; tests turn it off to prove that.
   */
  frameMemo?: boolean;
}

/**
 * Frames judged by the frame memo in one native call. Its commits reach it
 * between calls, so a smaller slice replays a repeat sooner after its first
 * copy; each call costs ~1 us.
 */
const MEMO_SLICE = 256;

/** The port whose decoders (HTTP, UPnP, HNAP, WS-Discovery metadata) a learned HTTP server's segments get. */
const HTTP_PORT = 80;

export class Pipeline {
  readonly store: DeviceStore;
  private readonly counts: PipelineStats;
  private readonly decoders: DecoderIndex;
  /** Per decoder (by position in decoders.decoders): packets decoded, and rejected as malformed. */
  private readonly decodedBy: Float64Array;
  private readonly rejectedBy: Float64Array;
  /**
   * Per decoder: 1 where it declares `announces`, `repeatKey`, `messageLength`.
   * Decoders are objects of many shapes, so reading those properties per
   * packet is a megamorphic load each; read once here (callgrind: ~1% fewer
   * instructions per packet of the benchmark's mix).
   */
  private readonly announcing: Uint8Array;
  private readonly keyed: Uint8Array;
  private readonly measuring: Uint8Array;
  /** Each decoder's match() and repeatKey(), by position, for the same reason (called with the decoder as `this`). */
  private readonly matchers: readonly Decoder['match'][];
  /**
   * Per decoder, 1 where it declares leadingBytes; and per decoder, LEADS
   * bytes: 1 at a first payload byte (256: none) it is offered.
   */
  private readonly leading: Uint8Array;
  private readonly leads: Uint8Array;
  private readonly repeatKeys: readonly Decoder['repeatKey'][];
  private readonly view = new PacketView();
  private readonly repeats: RepeatCache | undefined;
  private readonly messages: MessageReassembler;
  /** The packet being decoded continues a gathered message: it begins none (message-reassembly.ts). */
  private continuation = false;
  /** HTTP servers devices announced on ports the decoders' table does not hold, and the decoders they get. */
  private readonly httpServers = new LearnedEndpoints();
  private readonly learnedPorts = this.httpServers.ports;
  private readonly httpOrdinals: readonly number[];
  private readonly memo: FrameMemo | undefined;
  /**
   * While processing a frame the memo gave a key: whether it changed nothing
   * but last-seen so far, and the repeats it was (their decoders and devices).
   */
  private recording = false;
  private unchanged = true;
  private readonly repeatOrdinals: number[] = [];
  private readonly repeatDevices: Device[] = [];

  constructor(options: PipelineOptions = {}) {
    this.decoders = options.decoders ?? new DecoderIndex();
    this.store = options.store ?? new DeviceStore();
    this.repeats =
      options.skipRepeats === false
        ? undefined
        : new RepeatCache(this.decoders.decoders, options.repeatSlots);
    this.decodedBy = new Float64Array(this.decoders.decoders.length);
    this.rejectedBy = new Float64Array(this.decoders.decoders.length);
    const flags = (has: (d: Decoder) => boolean) =>
      Uint8Array.from(this.decoders.decoders, (d) => (has(d) ? 1 : 0));
    this.announcing = flags((d) => d.announces === true);
    this.keyed = flags((d) => d.repeatKey !== undefined);
    this.measuring = flags((d) => d.messageLength !== undefined);
    this.matchers = this.decoders.decoders.map((d) => d.match);
    this.leading = flags((d) => d.leadingBytes !== undefined);
    this.leads = new Uint8Array(this.decoders.decoders.length * LEADS);
    for (const [ordinal, d] of this.decoders.decoders.entries())
      for (const byte of d.leadingBytes ?? []) this.leads[ordinal * LEADS + byte] = 1;
    this.repeatKeys = this.decoders.decoders.map((d) => d.repeatKey);
    this.httpOrdinals = this.decoders.candidateOrdinals(FamilyCode.tcp, HTTP_PORT);
    this.memo =
      this.repeats !== undefined && options.frameMemo !== false ? FrameMemo.create(this.decoders) : undefined;
    this.store.onHttpServer = (ip4, port) => this.httpServers.add(ip4, port);
    this.counts = {
      packets: 0,
      bytes: 0,
      malformed: 0,
      unsupportedLink: 0,
      decoded: {},
      decodeErrors: {},
      repeats: 0,
      replayed: 0,
      decapsulated: 0,
      reassembled: 0,
      reassemblyIncomplete: 0,
    };
    const all = this.decoders.decoders;
    this.messages = new MessageReassembler(
      (ordinal, view, data, start, end) => messageLengthOf(all[ordinal]!, view, data, start, end),
      (view, ordinals, complete) => {
        for (const ordinal of ordinals) this.decodeGathered(ordinal, view, complete);
      },
    );
  }

  /**
   * The counters so far. Per-protocol counts are kept per decoder in arrays
   * (a keyed property update per decoded packet showed as ~4% of the
   * pipeline's time) and summed by protocol name here.
   */
  get stats(): PipelineStats {
    const stats = this.counts;
    const all = this.decoders.decoders;
    for (const d of all) {
      stats.decoded[d.name] = 0;
      stats.decodeErrors[d.name] = 0;
    }
    for (let i = 0; i < all.length; i++) {
      const name = all[i]!.name;
      stats.decoded[name]! += this.decodedBy[i]!;
      stats.decodeErrors[name]! += this.rejectedBy[i]!;
    }
    stats.reassembled = this.messages.completed;
    stats.reassemblyIncomplete = this.messages.incomplete;
    return stats;
  }

  process(packet: CapturedPacket): void {
    const data = packet.data;
    this.processFrame(
      data,
      0,
      data.length,
      packet.originalLength,
      packet.linkType,
      packet.interfaceId,
      packet.timestampMs,
    );
  }

  /** The frames [from, to) of a reader's batch (all of them by default), read in place. */
  processBatch(batch: FrameBatch, from = 0, to = batch.length): void {
    const memo = this.memo;
    if (memo === undefined) {
      // The columns read once per batch, not per frame as processFrameOf does: this loop is every frame's
      // without the addon (through processFrameOf the benchmark read 3.68 M pkt/s without the memo, 3.87 so).
      const { buffers, starts, ends, originalLengths, linkTypes, interfaceIds, timestampsMs } = batch;
      for (let i = from; i < to; i++)
        this.processFrame(
          buffers[i]!,
          starts[i]!,
          ends[i]!,
          originalLengths[i]!,
          linkTypes[i]!,
          interfaceIds[i]!,
          timestampsMs[i]!,
        );
      return;
    }
    // A batch is judged a slice at a time, each slice's commits made before the next is judged: a
    // frame repeating one earlier in the same read is replayed too.
    for (let slice = from; slice < to; slice += MEMO_SLICE)
      this.processSlice(memo, batch, slice, Math.min(to, slice + MEMO_SLICE));
  }

  private processSlice(memo: FrameMemo, batch: FrameBatch, from: number, to: number): void {
    memo.judge(batch, from, to);
    const verdicts = memo.verdicts;
    const { originalLengths, timestampsMs } = batch;
    const { committed, generations, firstDevice, secondDevice, firstOrdinal, ports } = memo;
    const stats = this.counts;
    const store = this.store;
    const learned = this.learnedPorts;
    // Kept small, so that the common replay stays inlined here: processing a frame is another method.
    for (let i = from; i < to; i++) {
      const verdict = verdicts[i]!;
      const slot = verdict >> VERDICT_BITS;
      // The common replay, inline: a key that sees one or two devices (whose generations have not moved)
      // and counts one decoder's repeat, with no TCP message being gathered and no learned port.
      const device =
        verdict >= 0 && (verdict & VERDICT_HIT) !== 0 && committed[slot] === 2 ? firstDevice[slot] : null;
      const second = device ? secondDevice[slot] : undefined;
      if (
        device !== null &&
        (device === undefined ? 0 : device.generation) + (second === undefined ? 0 : second.generation) ===
          generations[slot] &&
        this.messages.size === 0 &&
        ((verdict & VERDICT_TCP) === 0 ||
          (learned[ports[i]! >>> 16] === 0 && learned[ports[i]! & 0xffff] === 0))
      ) {
        stats.packets++;
        stats.bytes += originalLengths[i]!;
        stats.replayed++;
        if (device !== undefined) store.seenOne(device, timestampsMs[i]!);
        if (second !== undefined) store.seenOne(second, timestampsMs[i]!);
        const ordinal = firstOrdinal[slot]!;
        if (ordinal >= 0) {
          this.decodedBy[ordinal]!++;
          stats.repeats++;
        }
        continue;
      }
      if (verdict < 0) this.processFrameOf(batch, i);
      else if ((verdict & VERDICT_HIT) === 0) this.processJudged(memo, batch, i, verdict);
      else {
        const replay = this.replay(memo, verdict, i, originalLengths[i]!, timestampsMs[i]!);
        // NOT_NOW: a TCP segment while a message is gathered, or on a learned HTTP port: processed, its key kept.
        if (replay === Replay.CHANGED) this.processJudged(memo, batch, i, verdict);
        else if (replay === Replay.NOT_NOW) this.processFrameOf(batch, i);
      }
    }
    memo.flush();
  }

  private processFrameOf(batch: FrameBatch, i: number): void {
    this.processFrame(
      batch.buffers[i]!,
      batch.starts[i]!,
      batch.ends[i]!,
      batch.originalLengths[i]!,
      batch.linkTypes[i]!,
      batch.interfaceIds[i]!,
      batch.timestampsMs[i]!,
    );
  }

  /** Processes frame i, whose key the memo holds, and settles what replaying the key does. */
  private processJudged(memo: FrameMemo, batch: FrameBatch, i: number, verdict: number): void {
    this.recording = true;
    this.unchanged = true;
    this.repeatOrdinals.length = 0;
    this.repeatDevices.length = 0;
    this.processFrameOf(batch, i);
    this.recording = false;
    // A touch key means its sender seen, whatever else this frame did: no decoder reads a frame so keyed,
    // and a TCP message it continued, or a learned HTTP port, is checked again at every replay.
    const sender = (verdict & VERDICT_SENDER) !== 0;
    memo.settle(
      verdict,
      memo.versions[i]!,
      sender || this.unchanged ? this.replayOfFrame(sender) : undefined,
    );
  }

  /**
   * Frame i of the batch has a committed memo key: does what processing it
   * would, if that is still only seeing its devices again.
   */
  private replay(
    memo: FrameMemo,
    verdict: number,
    i: number,
    originalLength: number,
    timestampMs: number,
  ): Replay {
    const slot = verdict >> VERDICT_BITS;
    if (memo.committed[slot] === 0) return Replay.CHANGED;
    const messages = this.messages;
    if ((verdict & VERDICT_TCP) !== 0) {
      const ports = memo.ports[i]!;
      const learned = this.learnedPorts;
      if (messages.size > 0 || learned[ports >>> 16] !== 0 || learned[ports & 0xffff] !== 0)
        return Replay.NOT_NOW;
    }
    if (!memo.current(slot)) return Replay.CHANGED;
    const stats = this.counts;
    stats.packets++;
    stats.bytes += originalLength;
    stats.replayed++;
    if (messages.size > 0) messages.expire(timestampMs);
    const store = this.store;
    const first = memo.firstDevice[slot];
    if (first !== undefined) store.seenOne(first, timestampMs);
    const second = memo.secondDevice[slot];
    if (second !== undefined) store.seenOne(second, timestampMs);
    const others = memo.otherDevices[slot];
    if (others !== undefined) store.seen(others, timestampMs);
    const ordinal = memo.firstOrdinal[slot]!;
    if (ordinal >= 0) {
      this.decodedBy[ordinal]!++;
      stats.repeats++;
      const more = memo.otherOrdinals[slot];
      if (more !== undefined) {
        for (let k = 0; k < more.length; k++) this.decodedBy[more[k]!]!++;
        stats.repeats += more.length;
      }
    }
    return Replay.DONE;
  }

  /** What replaying the frame just processed does: its sender seen, and its repeats (unless `senderOnly`). */
  private replayOfFrame(senderOnly: boolean): { devices: readonly Device[]; ordinals: readonly number[] } {
    const sender = this.store.sender(this.view);
    if (senderOnly) return { devices: sender ? [sender] : [], ordinals: [] };
    const devices = sender ? [sender, ...this.repeatDevices] : this.repeatDevices.slice();
    return { devices, ordinals: this.repeatOrdinals.slice() };
  }

  /** The frame data[start, end). */
  private processFrame(
    data: Buffer,
    start: number,
    end: number,
    originalLength: number,
    linkType: number,
    interfaceId: number,
    timestampMs: number,
  ): void {
    const stats = this.counts;
    stats.packets++;
    stats.bytes += originalLength;
    const v = this.view;
    v.resetFrame(data, start, end, linkType, interfaceId, timestampMs);
    const result = parsePacket(v);
    if (result !== ParseResult.OK) {
      this.unchanged = false;
      if (result === ParseResult.UNSUPPORTED_LINK) stats.unsupportedLink++;
      else stats.malformed++;
      return;
    }
    this.store.touch(v);
    // Mirrored traffic: the tunnel's sender is a device too, and the frame inside is what is decoded.
    if (mayCarryTunnel(v))
      for (let inner = decapsulate(v); inner !== undefined; inner = decapsulate(v)) {
        this.unchanged = false;
        stats.decapsulated++;
        if (inner === ParseResult.MALFORMED) {
          stats.malformed++;
          return;
        }
        this.store.touch(v);
      }
    const messages = this.messages;
    this.continuation = false;
    if (messages.size > 0) {
      messages.expire(v.timestampMs);
      if (v.ipProto === IpProto.TCP && v.srcPort >= 0 && !v.laterFragment)
        this.continuation = messages.segment(v);
      if (this.continuation) this.unchanged = false;
    }
    const index = this.decoders;
    const link = index.candidateOrdinals(FamilyCode.link, v.etherType);
    for (let i = 0; i < link.length; i++) this.run(link[i]!, v);
    if (v.ipVersion === 0 || v.laterFragment) return;
    const byProto = index.candidateOrdinals(FamilyCode.ip, v.ipProto);
    for (let i = 0; i < byProto.length; i++) this.run(byProto[i]!, v);
    if (v.srcPort < 0) return;
    const family: FamilyCode | -1 =
      v.ipProto === IpProto.UDP ? FamilyCode.udp : v.ipProto === IpProto.TCP ? FamilyCode.tcp : -1;
    // A TCP segment without payload (a handshake, an ACK, a FIN) holds nothing a port's decoders read:
    // they read messages, and none reads the TCP header (the frame memo's native half relies on this).
    if (family === -1 || (family === FamilyCode.tcp && v.payloadEnd === v.payloadOffset)) return;
    const byDst = index.candidateOrdinals(family, v.dstPort);
    for (let i = 0; i < byDst.length; i++) this.run(byDst[i]!, v);
    // Two typed-array reads per TCP segment: is either port one a device announced its HTTP server on?
    const learnedPorts = this.learnedPorts;
    if (family === FamilyCode.tcp && (learnedPorts[v.srcPort] !== 0 || learnedPorts[v.dstPort] !== 0))
      this.runLearned(v, byDst);
    if (v.srcPort === v.dstPort) return;
    const bySrc = index.candidateOrdinals(family, v.srcPort);
    for (let i = 0; i < bySrc.length; i++) {
      const d = bySrc[i]!;
      if (!listed(byDst, d)) this.run(d, v);
    }
  }

  /**
   * A segment to or from an HTTP server a device announced: the HTTP decoders its ports do not already
   * give it (run before those of its source port, which are none of them: the server's port is not listed).
   */
  private runLearned(v: PacketView, byDst: readonly number[]): void {
    const servers = this.httpServers;
    if (servers.has(v.srcIp4, v.srcPort)) v.learnedServer = LearnedServer.SOURCE;
    else if (servers.has(v.dstIp4, v.dstPort)) v.learnedServer = LearnedServer.DESTINATION;
    else return;
    this.unchanged = false;
    const bySrc = this.decoders.candidateOrdinals(FamilyCode.tcp, v.srcPort);
    const http = this.httpOrdinals;
    for (let i = 0; i < http.length; i++) {
      const d = http[i]!;
      if (!listed(byDst, d) && !listed(bySrc, d)) this.run(d, v);
    }
  }

  private run(ordinal: number, v: PacketView): void {
    if (this.leading[ordinal] === 1) {
      const o = v.payloadOffset;
      if (this.leads[ordinal * LEADS + (o < v.payloadEnd ? v.data[o]! : 256)] === 0) return;
    }
    const decoder = this.decoders.decoders[ordinal]!;
    // A TCP message this segment only begins is matched and decoded once whole, or once given up
    // (message-reassembly.ts). Measured only where the segment does not match (a first segment too short for
    // match() to judge) or is about to be decoded: a repeat was measured whole the first time.
    const gathers =
      this.measuring[ordinal] === 1 &&
      v.ipProto === IpProto.TCP &&
      v.payloadEnd > v.payloadOffset &&
      !this.continuation;
    if (!this.matchers[ordinal]!.call(decoder, v)) {
      if (gathers && this.holdUnfinished(ordinal, decoder, v)) this.unchanged = false;
      return;
    }
    const store = this.store;
    // No key without a cache to look it up in (skipRepeats: false decodes every packet).
    const key =
      this.repeats !== undefined && this.keyed[ordinal] === 1
        ? repeatKeyOf(decoder, this.repeatKeys[ordinal]!, v)
        : -1;
    const repeats = this.announcing[ordinal] === 1 || key >= 0 ? this.repeats : undefined;
    if (repeats) {
      const devices = repeats.find(ordinal, v, key);
      if (devices) {
        store.seen(devices, v.timestampMs);
        this.decodedBy[ordinal]!++;
        this.counts.repeats++;
        if (this.recording) {
          this.repeatOrdinals.push(ordinal);
          for (let k = 0; k < devices.length; k++) this.repeatDevices.push(devices[k]!);
        }
        return;
      }
    }
    this.unchanged = false;
    if (gathers && this.holdUnfinished(ordinal, decoder, v)) return;
    if (repeats) store.beginTrace();
    try {
      decoder.decode(v, store);
      this.decodedBy[ordinal]!++;
      if (repeats) {
        const devices = store.endTrace();
        if (devices) repeats.remember(ordinal, v, devices, key);
      }
    } catch {
      if (repeats) store.endTrace();
      this.counts.malformed++;
      this.rejectedBy[ordinal]!++;
    }
  }

  /** Follows the connection when the segment in `v` begins a message it does not hold whole; true if so. */
  private holdUnfinished(ordinal: number, decoder: Decoder, v: PacketView): boolean {
    const wanted = messageLengthOf(decoder, v, v.data, v.payloadOffset, v.payloadEnd);
    if (wanted <= v.payloadEnd - v.payloadOffset) return false;
    this.messages.hold(ordinal, v, wanted);
    return true;
  }

  /**
   * A message gathered from segments (message-reassembly.ts) for a decoder
   * that measured its first. One cut short (a segment lost, the connection
   * closed) that the decoder rejects is not counted as malformed: what is
   * missing was never seen, not damaged.
   */
  private decodeGathered(ordinal: number, view: PacketView, complete: boolean): void {
    const decoder = this.decoders.decoders[ordinal]!;
    try {
      if (!decoder.match(view)) return;
      decoder.decode(view, this.store);
      this.decodedBy[ordinal]!++;
    } catch {
      if (!complete) return;
      this.counts.malformed++;
      this.rejectedBy[ordinal]!++;
    }
  }

  /**
   * Decodes, as far as they went, the TCP messages still being gathered: call
   * when the capture ends (buildInventory does). A live capture needs no call:
   * a message is given up after a bounded time.
   */
  flush(): void {
    this.messages.flush();
  }
}

/** What replay() did with a frame: replayed it; found its devices changed; left it, only this time. */
enum Replay {
  DONE,
  CHANGED,
  NOT_NOW,
}

/** ordinals includes d: a loop, as Array.prototype.includes is a builtin call per packet for lists of a few. */
function listed(ordinals: readonly number[], d: number): boolean {
  for (let i = 0; i < ordinals.length; i++) if (ordinals[i] === d) return true;
  return false;
}

/** The decoder's message length (at most MAX_MESSAGE), or 0 when it throws: the segment is decoded as it is. */
function messageLengthOf(decoder: Decoder, v: PacketView, data: Buffer, start: number, end: number): number {
  try {
    return Math.min(decoder.messageLength!(v, data, start, end), MAX_MESSAGE);
  } catch {
    return 0;
  }
}

/** The decoder's repeat key, or -1: a key it cannot compute (a damaged header) leaves the packet to decode(), which counts it. */
function repeatKeyOf(decoder: Decoder, repeatKey: NonNullable<Decoder['repeatKey']>, v: PacketView): number {
  try {
    return repeatKey.call(decoder, v) ?? -1;
  } catch {
    return -1;
  }
}

export interface InventoryResult {
  format: CaptureFormat | undefined;
  devices: DeviceRecord[];
  stats: PipelineStats;
}

/** Reads a whole capture and returns its inventory. Throws CaptureFormatError for a damaged capture. */
export async function buildInventory(
  source: CaptureSource,
  options: PipelineOptions & Pick<ReadCaptureOptions, 'signal'> = {},
): Promise<InventoryResult> {
  const pipeline = new Pipeline(options);
  let format: CaptureFormat | undefined;
  const readOptions: ReadCaptureOptions = {
    onFormat: (f) => {
      format = f;
    },
    reuseBuffers: true,
  };
  if (options.signal) readOptions.signal = options.signal;
  for await (const batch of readCaptureBatches(source, readOptions)) pipeline.processBatch(batch);
  pipeline.flush();
  return { format, devices: pipeline.store.toRecords(), stats: pipeline.stats };
}
