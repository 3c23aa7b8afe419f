// Writes classic pcap (microsecond, little-endian, Ethernet): the format every
// tool reads. Used by the simulator; buffered so a large site is written in
// few syscalls.

import { once } from 'node:events';
import { createWriteStream, type WriteStream } from 'node:fs';

const LINKTYPE_ETHERNET = 1;

export function pcapFileHeader(linkType = LINKTYPE_ETHERNET, snapLen = 262144): Buffer {
  const h = Buffer.alloc(24);
  h.writeUInt32LE(0xa1b2c3d4, 0);
  h.writeUInt16LE(2, 4);
  h.writeUInt16LE(4, 6);
  h.writeUInt32LE(snapLen, 16);
  h.writeUInt32LE(linkType, 20);
  return h;
}

export function pcapRecord(timestampMs: number, frame: Buffer): Buffer {
  const h = Buffer.alloc(16);
  const seconds = Math.floor(timestampMs / 1000);
  h.writeUInt32LE(seconds, 0);
  h.writeUInt32LE(Math.round((timestampMs - seconds * 1000) * 1000), 4);
  h.writeUInt32LE(frame.length, 8);
  h.writeUInt32LE(frame.length, 12);
  return h;
}

export class PcapWriter {
  private readonly out: WriteStream;
  private pending: Buffer[] = [];
  private pendingBytes = 0;

  constructor(path: string) {
    this.out = createWriteStream(path);
    this.pending.push(pcapFileHeader());
  }

  async write(timestampMs: number, frame: Buffer): Promise<void> {
    this.pending.push(pcapRecord(timestampMs, frame), frame);
    this.pendingBytes += 16 + frame.length;
    if (this.pendingBytes >= 1 << 20) await this.flush();
  }

  private async flush(): Promise<void> {
    const chunk = Buffer.concat(this.pending);
    this.pending = [];
    this.pendingBytes = 0;
    if (!this.out.write(chunk)) await once(this.out, 'drain');
  }

  async close(): Promise<void> {
    await this.flush();
    this.out.end();
    await once(this.out, 'finish');
  }
}
