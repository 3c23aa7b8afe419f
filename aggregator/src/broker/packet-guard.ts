// Bounds the size of every MQTT packet a client sends, before the broker
// buffers it. aedes has no such limit: its parser accumulates a packet of up
// to 256 MiB in memory, so one client could exhaust the aggregator. This reads
// only the MQTT fixed header (type byte + variable-length "remaining length")
// of each packet as bytes stream past, and cuts the connection as soon as a
// header announces a packet above the limit, without buffering anything.
import { Duplex } from 'node:stream';

export class PacketTooLarge extends Error {
  constructor(
    readonly size: number,
    readonly limit: number,
  ) {
    super(`MQTT packet of ${size} bytes exceeds the ${limit} byte limit`);
    this.name = 'PacketTooLarge';
  }
}

/** Incremental MQTT frame scanner: feed it the byte stream, it throws on an oversized or malformed frame. */
export class FrameScanner {
  private state: 'type' | 'length' | 'body' = 'type';
  private length = 0;
  private lengthBytes = 0;
  private remaining = 0;

  constructor(private readonly limit: number) {}

  feed(chunk: Uint8Array): void {
    let i = 0;
    while (i < chunk.length) {
      if (this.state === 'type') {
        i += 1;
        this.state = 'length';
        this.length = 0;
        this.lengthBytes = 0;
      } else if (this.state === 'length') {
        const byte = chunk[i++]!;
        this.length += (byte & 0x7f) * 128 ** this.lengthBytes;
        this.lengthBytes += 1;
        if (byte & 0x80) {
          if (this.lengthBytes === 4) throw new Error('malformed MQTT remaining length');
          continue;
        }
        const size = 1 + this.lengthBytes + this.length;
        if (size > this.limit) throw new PacketTooLarge(size, this.limit);
        this.remaining = this.length;
        this.state = this.remaining === 0 ? 'type' : 'body';
      } else {
        const take = Math.min(this.remaining, chunk.length - i);
        i += take;
        this.remaining -= take;
        if (this.remaining === 0) this.state = 'type';
      }
    }
  }
}

/**
 * A Duplex over a socket that passes bytes through unchanged once the scanner
 * has vetted them. aedes reads its connection in paused mode (`read()`), so
 * the guard must be a stream of its own rather than a 'data' listener.
 */
export class GuardedConnection extends Duplex {
  private readonly scanner: FrameScanner;

  constructor(
    private readonly socket: Duplex,
    limit: number,
    onTooLarge: (err: Error) => void,
  ) {
    super({ allowHalfOpen: false });
    this.scanner = new FrameScanner(limit);
    socket.on('data', (chunk: Buffer) => {
      try {
        this.scanner.feed(chunk);
      } catch (err) {
        onTooLarge(err as Error);
        this.destroy(err as Error);
        return;
      }
      if (!this.push(chunk)) socket.pause();
    });
    let ended = false;
    socket.on('end', () => {
      ended = true;
      this.push(null);
    });
    socket.on('error', (err) => this.destroy(err));
    // After a clean end, let the broker read what is still buffered (e.g. a
    // DISCONNECT, which suppresses the will) before tearing the stream down.
    socket.on('close', () => {
      if (!ended || this.readableEnded) this.destroy();
      else this.once('end', () => this.destroy());
    });
  }

  override _read(): void {
    this.socket.resume();
  }

  override _write(chunk: Buffer, encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.socket.write(chunk, encoding, callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.socket.end(callback);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.socket.destroy();
    callback(error);
  }
}
