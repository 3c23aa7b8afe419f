// The frame memo: frames that change nothing but last-seen, recognised in C.
//
// On a segment most frames tell the inventory nothing new. A frame of a
// protocol no decoder reads (the bulk of TCP and UDP traffic) only tells that
// its sender, whose MAC and IP are already known, was seen; a byte-identical
// repeat of an announcement already decoded (an SSDP NOTIFY, an LLDP frame, a
// BACnet I-Am: over half of the benchmark's mix) only refreshes the devices
// its first copy landed on (repeat-cache.ts). The JavaScript pipeline reaches
// those verdicts for ~90 and ~230 ns a frame (headers, dispatch, match(), the
// repeat cache's hash and compare); this puts them before it, in native code
// over a slice of a batch in one call (native/frame_memo.c, in the pipeline
// addon: native-addon.ts), for ~40 ns, and
// a replay costs JavaScript ~35 more.
//
// Native code only recognises a frame, by one of two keys:
// - a touch key, the sender's MAC and IP, for a frame with no decoder for its
//   EtherType, IP protocol or ports (the dispatch tables of the DecoderIndex),
//   or none for a payload that begins so (Decoder.leadingBytes: a TLS
//   segment of encrypted data, a UDP datagram on an ephemeral port that no
//   DCE/RPC begins);
// - a frame key, every byte of the frame but the IPv4 identification and
//   checksum, for a frame with decoders;
// - a poll key, for a TCP segment or a datagram only a decoder with a native
//   repeat key reads (Decoder.nativeRepeatKey: Modbus/TCP, EtherNet/IP,
//   BACnet/IP): what the repeat cache compares (addresses, TTL, ports) and
//   that key, computed in C as the decoder's repeatKey() does; where it gives
//   none, a datagram keeps its frame key and a segment of an announcing
//   decoder is keyed by its payload but for its transaction identifier.
//   Other TCP segments with decoders get none (their sequence numbers make
//   every one new, and reassembly is JavaScript's).
// A frame its parse does not go through but that carries no TCP (802.3, a
// later IPv4 fragment, IPv6 behind extension headers) gets a frame key;
// anything else it does not mirror exactly (other link types, MPLS, PPPoE,
// tunnels, damaged headers) is left to the pipeline whole.
//
// What a key means is JavaScript's. The first time a key is seen the pipeline
// processes the frame as always, noting whether it changed nothing but
// last-seen (every decoder that matched found it a repeat; no tunnel, no
// reassembly, no learned HTTP port; the sender's MAC and IP known) and which
// devices it refreshed; once the slice is done it commits the keys that did.
// A later frame with a committed key is replayed: those devices are seen and
// those decoders count a repeat, as the pipeline would have done, unless a
// device changed generation since (Device.generation: an address changing
// hands, a merge), in which case the frame is processed again and its key
// committed anew. A TCP frame is replayed only while no TCP message is being
// gathered and neither of its ports is a learned HTTP server's.
//
// The inventory is the same with and without the memo (a test proves it on
// every shared capture); only what is counted as decoded may move, as a
// replayed repeat does not refresh the repeat cache's slots. Without the addon
// (no C toolchain at install) the pipeline works as before.
import type { FrameBatch } from './capture/frames.js';
import type { DecoderIndex } from './decoders/registry.js';
import { type Device, generationBumpCount } from './inventory/device.js';
import { type PipelineAddon, pipelineAddon } from './native-addon.js';

/**
 * Keys remembered (two ways per set), each kind in sets of its own: senders'
 * MACs and IPs (a few dozen bytes each), and frames of up to 1536 bytes. They
 * hold a site of thousands of senders and their announcement cycles; the
 * keys' bytes stay within 4 MiB (native/frame_memo.c's KEY_BYTES), the slots
 * and the columns here take ~2 MB more.
 */
const TOUCH_SLOTS = 8192;
const FRAME_SLOTS = 16384;

/**
 * A verdict's bits (native/frame_memo.c): found and committed; a TCP segment
 * (its ports are in `ports`); a touch key (its sender's MAC and IP alone).
 * The slot is verdict >> VERDICT_BITS.
 */
export const VERDICT_HIT = 1;
export const VERDICT_TCP = 2;
export const VERDICT_SENDER = 4;
export const VERDICT_BITS = 3;

export class FrameMemo {
  /** Per frame of the batch last judged: -1 (process it), or slot << VERDICT_BITS | VERDICT_* bits. */
  verdicts = new Int32Array(1024);
  /** Per frame, the version of its slot's key (a commit names it). */
  versions = new Int32Array(1024);
  /** Per TCP frame, its source port << 16 | destination port. */
  ports = new Int32Array(1024);
  // What replaying each slot's committed key does, column by column: its devices are seen, each of its
  // decoders counts a repeat. Columns, not an object per slot: a replay then reads one array element
  // per fact, not an entry object, its arrays and their elements (a cache miss each at a busy site).
  /** 1 where the slot has a meaning; 2 where that is no more than two devices seen and one decoder's repeat. */
  readonly committed: Uint8Array;
  /** The first two of its devices (undefined: none), and the others (rarely any). */
  readonly firstDevice: (Device | undefined)[];
  readonly secondDevice: (Device | undefined)[];
  readonly otherDevices: (readonly Device[] | undefined)[];
  /** The first decoder that counts a repeat (-1: none), and the others. */
  readonly firstOrdinal: Int32Array;
  readonly otherOrdinals: (readonly number[] | undefined)[];
  /** Its devices' generations summed when committed: a replay is valid while the sum is unchanged. */
  readonly generations: Float64Array;
  /** generationBumpCount() when the sum was last found unchanged: while it still reads so, no device's moved. */
  readonly bumps: Float64Array;
  private commits = new Int32Array(3 * 256);
  private commitCount = 0;

  private constructor(
    private readonly addon: PipelineAddon,
    private readonly handle: unknown,
    slots: number,
  ) {
    this.committed = new Uint8Array(slots);
    this.firstDevice = new Array<Device | undefined>(slots).fill(undefined);
    this.secondDevice = new Array<Device | undefined>(slots).fill(undefined);
    this.otherDevices = new Array<readonly Device[] | undefined>(slots).fill(undefined);
    this.firstOrdinal = new Int32Array(slots).fill(-1);
    this.otherOrdinals = new Array<readonly number[] | undefined>(slots).fill(undefined);
    this.generations = new Float64Array(slots);
    this.bumps = new Float64Array(slots);
  }

  /** A memo for the decoders of `index`, or undefined without the addon. */
  static create(index: DecoderIndex): FrameMemo | undefined {
    const addon = pipelineAddon().addon;
    if (!addon) return undefined;
    const [link, ip, udp, tcp] = index.dispatchTables;
    const handle = addon.create(
      link!,
      ip!,
      udp!,
      tcp!,
      index.leadingTable,
      index.keyedTable,
      TOUCH_SLOTS,
      FRAME_SLOTS,
    );
    return new FrameMemo(addon, handle, TOUCH_SLOTS + FRAME_SLOTS);
  }

  /** Fills verdicts[from, to) (and versions, ports) for the batch's frames, a native call per buffer they lie in. */
  judge(batch: FrameBatch, from: number, to: number): void {
    if (this.verdicts.length < to) {
      const n = Math.max(to, this.verdicts.length * 2);
      this.verdicts = new Int32Array(n);
      this.versions = new Int32Array(n);
      this.ports = new Int32Array(n);
    }
    const { buffers, starts, ends, linkTypes, interfaceIds } = batch;
    for (let run = from; run < to; ) {
      const buffer = buffers[run]!;
      let end = run + 1;
      while (end < to && buffers[end] === buffer) end++;
      this.addon.judge(
        this.handle,
        buffer,
        starts,
        ends,
        linkTypes,
        interfaceIds,
        run,
        end,
        this.verdicts,
        this.versions,
        this.ports,
      );
      run = end;
    }
  }

  /** Whether none of the slot's devices changed generation since it was committed. */
  current(slot: number): boolean {
    const bumps = generationBumpCount();
    if (this.bumps[slot] === bumps) return true;
    const first = this.firstDevice[slot];
    const second = this.secondDevice[slot];
    let generation =
      (first === undefined ? 0 : first.generation) + (second === undefined ? 0 : second.generation);
    const others = this.otherDevices[slot];
    if (others !== undefined) for (let k = 0; k < others.length; k++) generation += others[k]!.generation;
    if (generation !== this.generations[slot]) return false;
    this.bumps[slot] = bumps;
    return true;
  }

  /**
   * After the pipeline processed a frame whose verdict was `verdict`: what
   * replaying its key does from now on (these devices seen, these decoders
   * counting a repeat), or nothing when the frame changed more than
   * last-seen (its key is not replayed).
   */
  settle(
    verdict: number,
    version: number,
    replay: { devices: readonly Device[]; ordinals: readonly number[] } | undefined,
  ): void {
    const slot = verdict >> VERDICT_BITS;
    // Cleared when the frame changed more: a later hit on the slot in this batch (judged before the
    // commit below reaches the native half) then finds nothing and is processed.
    this.committed[slot] = 0;
    if (replay) {
      // A device named twice (the sender, and what a repeat landed on) is seen once.
      const devices = [...new Set(replay.devices)];
      this.committed[slot] = devices.length <= 2 && replay.ordinals.length <= 1 ? 2 : 1;
      let generation = 0;
      for (const d of devices) generation += d.generation;
      this.firstDevice[slot] = devices[0];
      this.secondDevice[slot] = devices[1];
      this.otherDevices[slot] = devices.length > 2 ? devices.slice(2) : undefined;
      this.firstOrdinal[slot] = replay.ordinals[0] ?? -1;
      this.otherOrdinals[slot] = replay.ordinals.length > 1 ? replay.ordinals.slice(1) : undefined;
      this.generations[slot] = generation;
      this.bumps[slot] = generationBumpCount();
    }
    if (this.commitCount * 3 === this.commits.length) {
      const grown = new Int32Array(this.commits.length * 2);
      grown.set(this.commits);
      this.commits = grown;
    }
    const at = this.commitCount++ * 3;
    this.commits[at] = slot;
    this.commits[at + 1] = version;
    this.commits[at + 2] = replay ? 1 : 0;
  }

  /** Hands the batch's commits to the native half (call once the batch is processed). */
  flush(): void {
    if (this.commitCount === 0) return;
    this.addon.commit(this.handle, this.commits, this.commitCount);
    this.commitCount = 0;
  }
}
