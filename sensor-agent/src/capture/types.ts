import type { FrameBatch } from './frames.js';

/**
 * One captured frame as the readers hand it out. `data` is a subarray of the
 * reader's chunk (zero-copy): it stays valid after the iterator moves on
 * because the reader never writes into a buffer it has handed out, but it
 * keeps that chunk alive, so copy it if you retain it for long.
 */
export interface CapturedPacket {
  /** Milliseconds since the Unix epoch, with the sub-millisecond part as a fraction. */
  timestampMs: number;
  /** Whole seconds since the epoch and the nanoseconds within that second: the exact timestamp. */
  seconds: number;
  nanos: number;
  /** LINKTYPE_* value (https://www.tcpdump.org/linktypes.html) of the interface the frame came from. */
  linkType: number;
  /** pcapng interface index; always 0 for classic pcap. */
  interfaceId: number;
  /** Bytes on the wire; `data.length` is less when the capture was truncated by the snap length. */
  originalLength: number;
  data: Buffer;
}

export type CaptureFormat = 'pcap' | 'pcapng';

/**
 * A push parser: feed it chunks in order, it appends complete frames to `out`.
 * Keeping the format logic synchronous (and the async plumbing in one place,
 * reader.ts) makes the formats easy to test and costs no promise per record.
 */
export interface CaptureParser {
  readonly format: CaptureFormat;
  /** Parses as much of `chunk` (plus what was left over) as forms whole records. */
  push(chunk: Buffer, out: FrameBatch): void;
  /** Whether bytes of an incomplete record it holds lie in `memory` (see readCaptureBatches' `reuseBuffers`). */
  holds(memory: ArrayBufferLike): boolean;
  /** Called at end of input: throws CaptureFormatError when a record was cut short. */
  end(): void;
}
