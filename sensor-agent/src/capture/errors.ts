/**
 * Raised when a capture cannot be read any further: a bad magic number, a
 * block or record whose length makes no sense, or a file that ends inside a
 * record. `offset` is the absolute byte offset (from the start of the stream)
 * where the bad structure starts, so an operator can inspect it with a hex
 * dump; the message always names it too.
 */
export class CaptureFormatError extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(`${message} (at byte offset ${offset})`);
    this.name = 'CaptureFormatError';
  }
}
