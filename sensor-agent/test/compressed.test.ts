// Compressed captures (gzip, zstd), as Wireshark and tshark open them: real
// captures compressed here, at test time, by Node's zlib (the same formats
// gzip(1) and zstd(1) write).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { constants, gzipSync, zstdCompressSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import {
  type CapturedPacket,
  CaptureFormatError,
  readCapture,
  readCaptureBatches,
} from '../src/capture/index.js';
import { buildInventory } from '../src/pipeline.js';
import { pcapFileHeader, pcapRecord } from '../src/simulate/pcap-writer.js';
import { MISSING, pcap } from './support.js';

const tmp = mkdtempSync(join(tmpdir(), 'hark-compressed-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const COMPRESSORS = {
  gzip: gzipSync,
  // With the content checksum, as zstd(1) writes by default.
  zstd: (bytes: Buffer) => zstdCompressSync(bytes, { params: { [constants.ZSTD_c_checksumFlag]: 1 } }),
} as const;

function compressed(name: string, kind: keyof typeof COMPRESSORS, bytes = readFileSync(pcap(name))): string {
  const file = join(tmp, `${name}.${kind}`);
  writeFileSync(file, COMPRESSORS[kind](bytes));
  return file;
}

/** The packets read before an error, and the error. */
async function readUntilError(file: string): Promise<{ packets: CapturedPacket[]; error: unknown }> {
  const packets: CapturedPacket[] = [];
  try {
    for await (const p of readCapture(file)) packets.push(p);
  } catch (error) {
    return { packets, error };
  }
  return { packets, error: undefined };
}

describe.skipIf(MISSING)('compressed captures', () => {
  it.each([
    ['iotsentinel__D-LinkCam__Setup-A-1-STA.pcap', 'gzip'],
    ['iotsentinel__D-LinkCam__Setup-A-1-STA.pcap', 'zstd'],
    ['zeek__pcapng-multi-interface.pcapng', 'gzip'],
    ['iti__wincc_s400_production.pcapng', 'zstd'],
  ] as const)('%s, %s-compressed, gives the inventory of the capture itself', async (name, kind) => {
    const plain = await buildInventory(pcap(name));
    let told: string | undefined;
    const packed = await buildInventory(compressed(name, kind));
    expect(packed.format).toBe(plain.format);
    expect(packed.stats.packets).toBe(plain.stats.packets);
    expect(packed.devices).toEqual(plain.devices);
    for await (const _ of readCaptureBatches(compressed(name, kind), { onCompression: (c) => (told = c) }));
    expect(told).toBe(kind);
  });

  it('an uncompressed capture is told as such', async () => {
    let told: string | undefined = 'unset';
    for await (const _ of readCaptureBatches(pcap('zeek__mdns.pcap'), { onCompression: (c) => (told = c) }));
    expect(told).toBeUndefined();
  });

  it.each(['gzip', 'zstd'] as const)(
    'a %s capture cut short yields the packets before the cut, then names the compressed offset',
    async (kind) => {
      // Big enough that half of it holds whole zstd blocks (up to 128 KiB of capture each).
      const name = 'iti__EIP-IPAddressChangeAttempt.pcap';
      const whole = readFileSync(compressed(name, kind));
      const file = join(tmp, `cut.${kind}`);
      writeFileSync(file, whole.subarray(0, whole.length >> 1));
      const { packets, error } = await readUntilError(file);
      expect(packets.length).toBeGreaterThan(0);
      expect(error).toBeInstanceOf(CaptureFormatError);
      expect((error as CaptureFormatError).offset).toBe(whole.length >> 1);
      expect((error as Error).message).toMatch(
        new RegExp(`${kind} compression of this capture is damaged or cut short .*of the compressed file`),
      );
    },
  );

  it('a zstd capture altered in its last block ends in an error, not in quietly altered packets', async () => {
    // The frame's checksum is checked at its end: the blocks before it have been handed on by then.
    const name = 'iotsentinel__D-LinkCam__Setup-A-1-STA.pcap';
    const bytes = readFileSync(compressed(name, 'zstd'));
    bytes[bytes.length - 40]! ^= 0x01;
    const file = join(tmp, 'altered.zst');
    writeFileSync(file, bytes);
    const { error } = await readUntilError(file);
    expect(error).toBeInstanceOf(CaptureFormatError);
    expect((error as Error).message).toMatch(/zstd compression .* of the compressed file/);
  });

  it('a damaged capture inside good compression names the offset in the decompressed bytes', async () => {
    const name = 'tcpdump__LLDP_and_CDP.pcap';
    const bytes = Buffer.from(readFileSync(pcap(name)));
    // The second record claims 2^31 captured bytes: corrupt past any snap length.
    const second = 24 + 16 + bytes.readUInt32LE(24 + 8);
    bytes.writeUInt32LE(0x8000_0000, second + 8);
    const { error } = await readUntilError(compressed(name, 'gzip', bytes));
    expect(error).toBeInstanceOf(CaptureFormatError);
    expect((error as CaptureFormatError).offset).toBe(second);
    expect((error as Error).message).toContain(`at byte offset ${second} of the gzip-decompressed capture`);
  });

  it('compressed bytes that are not a capture are rejected as such', async () => {
    const file = join(tmp, 'text.gz');
    writeFileSync(file, gzipSync(Buffer.from('not a capture at all')));
    const { error } = await readUntilError(file);
    expect((error as Error).message).toMatch(
      /not a pcap or pcapng capture .* \(at byte offset 0 of the gzip-decompressed capture\)/,
    );
  });
});

describe('compressed capture streams', () => {
  it('a reader stopped early closes its source, compressed or not', async () => {
    for (const wrap of [(b: Buffer) => b, gzipSync]) {
      let closed = false;
      const record = pcapRecord(0, Buffer.alloc(60));
      const whole = wrap(Buffer.concat([pcapFileHeader(), ...Array.from({ length: 1000 }, () => record)]));
      const source = (async function* () {
        try {
          for (let at = 0; at < whole.length; at += 512) yield whole.subarray(at, at + 512);
        } finally {
          closed = true;
        }
      })();
      for await (const _ of readCapture(source)) break;
      expect(closed).toBe(true);
    }
  });
});
