// The pipeline's native addon (native/addon.c): the frame memo's judgement
// (native/frame_memo.c, see frame-memo.ts) and the pcap record scanner
// (native/pcap_records.c, see capture/pcap.ts). `make build` compiles it where
// a C toolchain is present; without it both fall back to JavaScript (the same
// results, slower), so it is loaded once, lazily, and its absence is a value.
import { createRequire } from 'node:module';

export interface PipelineAddon {
  /** A frame memo over the decoder index's tables (frame-memo.ts); its handle. */
  create(
    link: Uint8Array,
    ip: Uint8Array,
    udp: Uint8Array,
    tcp: Uint8Array,
    leading: Uint8Array,
    keyed: Uint8Array,
    touchSlots: number,
    frameSlots: number,
  ): unknown;
  judge(
    memo: unknown,
    buffer: Buffer,
    starts: Int32Array,
    ends: Int32Array,
    linkTypes: Int32Array,
    interfaceIds: Int32Array,
    from: number,
    to: number,
    verdicts: Int32Array,
    versions: Int32Array,
    ports: Int32Array,
  ): void;
  commit(memo: unknown, triples: Int32Array, count: number): void;
  /** Repeat key `kind` (Decoder.nativeRepeatKey) of a segment's payload buffer[start, end), or -1: for tests. */
  repeatKey(
    kind: number,
    buffer: Buffer,
    start: number,
    end: number,
    srcPort: number,
    dstPort: number,
  ): number;
  /**
   * Appends the pcap records lying whole in buffer[from, end) to a FrameBatch's
   * columns from index `count`, as many as they have room for; `state` becomes
   * [offset after the last appended, count, offset of a corrupt record or -1].
   */
  scanPcap(
    buffer: Buffer,
    from: number,
    end: number,
    littleEndian: number,
    nano: number,
    linkType: number,
    starts: Int32Array,
    ends: Int32Array,
    originalLengths: Float64Array,
    timestampsMs: Float64Array,
    seconds: Float64Array,
    nanos: Float64Array,
    linkTypes: Int32Array,
    interfaceIds: Int32Array,
    count: number,
    state: Float64Array,
  ): void;
}

let loaded: { addon?: PipelineAddon; error?: string } | undefined;

/** The addon, or why it is not available (not built, or built for another Node). */
export function pipelineAddon(): { addon?: PipelineAddon; error?: string } {
  if (loaded) return loaded;
  try {
    loaded = {
      addon: createRequire(import.meta.url)('../native/build/Release/hark_pipeline.node') as PipelineAddon,
    };
  } catch (error) {
    loaded = { error: (error as Error).message.split('\n')[0] };
  }
  return loaded;
}
