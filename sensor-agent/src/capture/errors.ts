/**
 * Raised when a capture cannot be read any further: a bad magic number, a
 * block or record whose length makes no sense, a file that ends inside a
 * record, or damaged compression. `offset` is the absolute byte offset (from
 * the start of the stream) where the bad structure starts, so an operator can
 * inspect it with a hex dump; the message always names it too. In a
 * compressed capture it counts the decompressed bytes, or the compressed ones
 * where the compression itself is damaged: `within` says which.
 */
export class CaptureFormatError extends Error {
  constructor(
    /** What is wrong, without the offset. */
    readonly detail: string,
    readonly offset: number,
    /** Which bytes the offset counts, when not the capture's own: "of the compressed file". */
    readonly within?: string,
  ) {
    super(`${detail} (at byte offset ${offset}${within ? ` ${within}` : ''})`);
    this.name = 'CaptureFormatError';
  }
}
