/**
 * Gathers incoming chunks until a record of known size is complete. Chunks
 * are only concatenated when a record straddles them, and then only once the
 * whole record has arrived, so a huge record split over many chunks is
 * copied once (no quadratic re-concatenation).
 */
export class ChunkAccumulator {
  private chunks: Buffer[] = [];
  private size = 0;
  /** Absolute stream offset of the first byte held. */
  offset = 0;

  get length(): number {
    return this.size;
  }

  append(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.size += chunk.length;
  }

  /** Returns a contiguous view of at least `n` held bytes, or undefined if fewer are held. */
  peek(n: number): Buffer | undefined {
    if (this.size < n) return undefined;
    const first = this.chunks[0]!;
    if (first.length >= n) return first;
    const joined = Buffer.concat(this.chunks, this.size);
    this.chunks = [joined];
    return joined;
  }

  /** Drops `n` bytes from the front. */
  consume(n: number): void {
    this.offset += n;
    this.size -= n;
    while (n > 0) {
      const first = this.chunks[0]!;
      if (first.length <= n) {
        this.chunks.shift();
        n -= first.length;
      } else {
        this.chunks[0] = first.subarray(n);
        n = 0;
      }
    }
  }
}
