/**
 * Gathers incoming chunks until a record of known size is complete. Records
 * are read in place, at `start` in the first chunk; only a record that
 * straddles two chunks is copied, once it has fully arrived, and only its own
 * bytes (a huge record split over many chunks is copied once, and the chunk
 * it ends in is not). Consuming moves `start`, so reading a record allocates
 * nothing here.
 */
export class ChunkAccumulator {
  private chunks: Buffer[] = [];
  private size = 0;
  /** Where the first held byte lies in the buffer peek() returns. */
  start = 0;
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

  /**
   * Makes the first `n` held bytes contiguous and returns the buffer that
   * holds them from `start` on (with whatever follows them in the same
   * chunk), or undefined if fewer than `n` are held.
   */
  peek(n: number): Buffer | undefined {
    if (this.size < n) return undefined;
    const chunks = this.chunks;
    const first = chunks[0]!;
    if (first.length - this.start >= n) return first;
    const joined = Buffer.allocUnsafe(n);
    let at = 0;
    let i = 0;
    let from = this.start;
    for (;;) {
      const c = chunks[i]!;
      const take = Math.min(c.length - from, n - at);
      c.copy(joined, at, from, from + take);
      at += take;
      if (from + take < c.length) {
        from += take;
        break;
      }
      i++;
      from = 0;
      if (at === n) break;
    }
    // chunks[0, i) are in `joined`; the rest of chunks[i] (from `from`) and after stay as they are.
    const rest =
      i < chunks.length ? [from > 0 ? chunks[i]!.subarray(from) : chunks[i]!, ...chunks.slice(i + 1)] : [];
    this.chunks = [joined, ...rest];
    this.start = 0;
    return joined;
  }

  /** Whether any held bytes lie in `memory` (a reader about to refill it must not). */
  holds(memory: ArrayBufferLike): boolean {
    for (const c of this.chunks) if (c.buffer === memory) return true;
    return false;
  }

  /** Drops `n` bytes from the front. */
  consume(n: number): void {
    this.offset += n;
    this.size -= n;
    let s = this.start + n;
    const chunks = this.chunks;
    while (chunks.length > 0 && s >= chunks[0]!.length) {
      s -= chunks[0]!.length;
      chunks.shift();
    }
    this.start = chunks.length > 0 ? s : 0;
  }
}
