import type { CapturedPacket } from './types.js';

const INITIAL_CAPACITY = 1024;

/**
 * The frames of one read, kept as offsets into the buffers that hold them
 * (column by column) rather than as an object and a Buffer view per frame:
 * creating a Buffer view costs ~50 ns, and an object ~20 ns more, which was a
 * fifth of a packet's whole cost through the pipeline from a file. The hot
 * consumers (Pipeline.processBatch) read the columns; `packet(i)` builds the
 * CapturedPacket of one frame for everyone else.
 *
 * A batch is reused by its reader: consume it before asking for the next.
 * The buffers it points into are not written again by the reader, so a
 * packet(i) taken from it stays valid, unless the reader was asked to reuse
 * its read buffers (readCaptureBatches' `reuseBuffers`).
 */
export class FrameBatch {
  length = 0;
  /** The buffer each frame lies in (mostly one chunk for the whole batch). */
  buffers: Buffer[] = [];
  /** Where each frame's captured bytes start and end (exclusive) in its buffer. */
  starts = new Int32Array(INITIAL_CAPACITY);
  ends = new Int32Array(INITIAL_CAPACITY);
  originalLengths = new Float64Array(INITIAL_CAPACITY);
  /** See CapturedPacket: milliseconds since the epoch, and the exact seconds and nanoseconds. */
  timestampsMs = new Float64Array(INITIAL_CAPACITY);
  seconds = new Float64Array(INITIAL_CAPACITY);
  nanos = new Float64Array(INITIAL_CAPACITY);
  linkTypes = new Int32Array(INITIAL_CAPACITY);
  interfaceIds = new Int32Array(INITIAL_CAPACITY);

  push(
    buffer: Buffer,
    start: number,
    end: number,
    originalLength: number,
    seconds: number,
    nanos: number,
    linkType: number,
    interfaceId: number,
  ): void {
    const i = this.length;
    if (i === this.starts.length) this.grow();
    this.buffers[i] = buffer;
    this.starts[i] = start;
    this.ends[i] = end;
    this.originalLengths[i] = originalLength;
    this.timestampsMs[i] = seconds * 1000 + nanos / 1e6;
    this.seconds[i] = seconds;
    this.nanos[i] = nanos;
    this.linkTypes[i] = linkType;
    this.interfaceIds[i] = interfaceId;
    this.length = i + 1;
  }

  /** Makes room for one frame more at least: for a scanner that writes the columns in place (capture/pcap.ts). */
  reserve(): void {
    if (this.length === this.starts.length) this.grow();
  }

  /** Frames [length, to) were written to the columns in place by a scanner; they lie in `buffer`. */
  appended(buffer: Buffer, to: number): void {
    for (let i = this.length; i < to; i++) this.buffers[i] = buffer;
    this.length = to;
  }

  /** Frame i as a CapturedPacket (its data a view of the reader's buffer, as readCapture has always handed out). */
  packet(i: number): CapturedPacket {
    return {
      timestampMs: this.timestampsMs[i]!,
      seconds: this.seconds[i]!,
      nanos: this.nanos[i]!,
      linkType: this.linkTypes[i]!,
      interfaceId: this.interfaceIds[i]!,
      originalLength: this.originalLengths[i]!,
      data: this.buffers[i]!.subarray(this.starts[i]!, this.ends[i]!),
    };
  }

  /**
   * Empties the batch for the next read. The buffer references stay until
   * overwritten (a chunk or two held a little longer), so that the array
   * is not grown again from nothing for every read.
   */
  clear(): void {
    this.length = 0;
  }

  private grow(): void {
    const n = this.starts.length * 2;
    this.starts = widen(this.starts, new Int32Array(n));
    this.ends = widen(this.ends, new Int32Array(n));
    this.originalLengths = widen(this.originalLengths, new Float64Array(n));
    this.timestampsMs = widen(this.timestampsMs, new Float64Array(n));
    this.seconds = widen(this.seconds, new Float64Array(n));
    this.nanos = widen(this.nanos, new Float64Array(n));
    this.linkTypes = widen(this.linkTypes, new Int32Array(n));
    this.interfaceIds = widen(this.interfaceIds, new Int32Array(n));
  }
}

function widen<T extends Int32Array | Float64Array>(from: T, to: T): T {
  to.set(from as never);
  return to;
}
