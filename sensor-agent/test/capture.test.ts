import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { type CapturedPacket, CaptureFormatError, LinkType, readCapture } from '../src/capture/index.js';
import { tsharkAvailable } from './reframe.js';
import { MISSING, manifest, pcap } from './support.js';

async function collect(
  source: Parameters<typeof readCapture>[0],
  chunkSize?: number,
): Promise<CapturedPacket[]> {
  const out: CapturedPacket[] = [];
  for await (const p of readCapture(source, chunkSize ? { chunkSize } : {})) out.push(p);
  return out;
}

const tmp = mkdtempSync(join(tmpdir(), 'hark-capture-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe.skipIf(MISSING)('capture readers on the shared captures', () => {
  const entries = manifest();

  it('lists the captures of MANIFEST.md', () => {
    expect(entries.length).toBeGreaterThanOrEqual(60);
  });

  it.each(entries.map((e) => [e.file, e] as const))(
    '%s parses completely: packet count and format as MANIFEST states',
    async (_f, entry) => {
      let format: string | undefined;
      let packets = 0;
      for await (const p of readCapture(pcap(entry.file), { onFormat: (f) => (format = f) })) {
        packets++;
        expect(p.data.length).toBeLessThanOrEqual(p.originalLength);
      }
      expect(packets).toBe(entry.packets);
      expect(format).toBe(entry.format); // sniffed from the magic number, whatever the extension says
    },
  );

  it('reports the link types MANIFEST names (SLL v1, SLL v2, NULL, Ethernet)', async () => {
    const linkOf = async (file: string) => (await collect(pcap(file)))[0]!.linkType;
    expect(await linkOf('zeek__linux_dlt_sll2.pcap')).toBe(LinkType.LINUX_SLL2);
    expect(await linkOf('ndpi__rtsp.pcap')).toBe(LinkType.LINUX_SLL); // pcapng named .pcap
    expect(await linkOf('cisagov-icsnpp-s7comm__s7comm_plus.pcap')).toBe(LinkType.LINUX_SLL);
    expect(await linkOf('ndpi__opc-ua.pcap')).toBe(LinkType.NULL);
    expect(await linkOf('iti__tia_s300_goOnline.pcapng')).toBe(LinkType.ETHERNET); // classic pcap named .pcapng
  });

  it('pcapng with two interfaces keeps per-interface ids and timestamp resolutions', async () => {
    // tshark: interface 0 stamps in nanoseconds (1767663089.500330493), interface 1 in microseconds.
    const packets = await collect(pcap('zeek__pcapng-multi-interface.pcapng'));
    expect(packets.map((p) => p.interfaceId)).toEqual([0, 0, 1, 1, 1, 1]);
    expect(packets[0]!.seconds).toBe(1767663089);
    expect(packets[0]!.nanos).toBe(500330493);
    expect(packets[2]!.seconds).toBe(1767663437);
    expect(packets[2]!.nanos).toBe(111897000);
    expect(packets.every((p) => p.linkType === LinkType.ETHERNET)).toBe(true);
  });

  it('reads microsecond pcap timestamps exactly', async () => {
    // tshark frame.time_epoch of the first LLDP frame in zeek__lldp.pcap
    const [p] = await collect(pcap('zeek__lldp.pcap'));
    expect(new Date(p!.timestampMs).toISOString().slice(0, 10)).toBe('2009-11-18');
    expect(p!.nanos % 1000).toBe(0);
  });

  it('gives the same packets whatever the chunking, and from a Readable', async () => {
    // Records read in place within a chunk, and joined where they straddle two or many chunks.
    const fingerprint = (packets: CapturedPacket[]) =>
      packets.map(
        (p) => `${p.seconds}.${p.nanos} ${p.interfaceId} ${p.originalLength} ${p.data.toString('hex')}`,
      );
    for (const name of ['ndpi__netbios.pcap' /* pcapng */, 'iti__modbus_test.pcap']) {
      const whole = fingerprint(await collect(pcap(name)));
      expect(whole.length, name).toBeGreaterThan(100);
      for (const chunkSize of [7, 16, 100, 1000, 4096])
        expect(
          fingerprint(await collect(pcap(name), chunkSize)),
          `${name} in ${chunkSize}-byte chunks`,
        ).toEqual(whole);
    }
    const bytes = readFileSync(pcap('arkime__wireshark-dhcp.pcap'));
    const chunks: Buffer[] = [];
    for (let i = 0; i < bytes.length; i += 13) chunks.push(bytes.subarray(i, i + 13));
    const fromStream = await collect(Readable.from(chunks));
    expect(fromStream.map((p) => p.data.toString('hex'))).toEqual(
      (await collect(pcap('arkime__wireshark-dhcp.pcap'))).map((p) => p.data.toString('hex')),
    );
  });

  it('reads big-endian pcapng (a real capture rewritten by a big-endian writer, as tshark reads it)', async () => {
    // ndpi__netbios.pcap is little-endian pcapng: a section header with string options, one interface
    // description, 261 enhanced packet blocks. Every length, number and option header is rewritten
    // big-endian; option values here are strings, which keep their bytes.
    const src = readFileSync(pcap('ndpi__netbios.pcap'));
    const out = Buffer.from(src);
    const swap32 = (o: number) => out.writeUInt32BE(src.readUInt32LE(o), o);
    const swap16 = (o: number) => out.writeUInt16BE(src.readUInt16LE(o), o);
    const options = (from: number, to: number) => {
      for (let p = from; p + 4 <= to; ) {
        const code = src.readUInt16LE(p);
        const length = src.readUInt16LE(p + 2);
        swap16(p);
        swap16(p + 2);
        if (code === 0) break;
        p += 4 + ((length + 3) & ~3);
      }
    };
    let blocks = 0;
    for (let o = 0; o < src.length; blocks++) {
      const type = src.readUInt32LE(o);
      const length = src.readUInt32LE(o + 4);
      swap32(o);
      swap32(o + 4);
      swap32(o + length - 4);
      if (type === 0x0a0d0d0a) {
        swap32(o + 8); // byte-order magic
        swap16(o + 12);
        swap16(o + 14);
        out.writeBigUInt64BE(src.readBigUInt64LE(o + 16), o + 16);
        options(o + 24, o + length - 4);
      } else if (type === 1) {
        swap16(o + 8);
        swap16(o + 10);
        swap32(o + 12);
        options(o + 16, o + length - 4);
      } else if (type === 6) {
        for (const f of [8, 12, 16, 20, 24]) swap32(o + f);
        options(o + 28 + ((src.readUInt32LE(o + 20) + 3) & ~3), o + length - 4);
      } else {
        throw new Error(`block type ${type} not expected in this capture`);
      }
      o += length;
    }
    expect(blocks).toBe(263);
    const file = join(tmp, 'netbios-be.pcapng');
    writeFileSync(file, out);
    expect(out.readUInt32BE(8)).toBe(0x1a2b3c4d);
    const original = await collect(pcap('ndpi__netbios.pcap'));
    const rewritten = await collect(file);
    expect(
      rewritten.map((p) => [p.seconds, p.nanos, p.linkType, p.interfaceId, p.data.toString('hex')]),
    ).toEqual(original.map((p) => [p.seconds, p.nanos, p.linkType, p.interfaceId, p.data.toString('hex')]));
    if (!tsharkAvailable()) return;
    const times = (f: string) =>
      execFileSync('tshark', ['-r', f, '-T', 'fields', '-e', 'frame.time_epoch', '-e', 'frame.len'], {
        encoding: 'utf8',
      });
    expect(times(file)).toBe(times(pcap('ndpi__netbios.pcap')));
  });

  it('reads big-endian and nanosecond pcap (a real capture rewritten in those encodings)', async () => {
    const src = readFileSync(pcap('zeek__dhcp.pcap'));
    const original = await collect(pcap('zeek__dhcp.pcap'));
    // Re-encode header and records big-endian with nanosecond fractions.
    const out = Buffer.alloc(src.length);
    out.writeUInt32BE(0xa1b23c4d, 0);
    out.writeUInt16BE(src.readUInt16LE(4), 4);
    out.writeUInt16BE(src.readUInt16LE(6), 6);
    out.writeUInt32BE(src.readUInt32LE(16), 16);
    out.writeUInt32BE(src.readUInt32LE(20), 20);
    let o = 24;
    while (o < src.length) {
      const incl = src.readUInt32LE(o + 8);
      out.writeUInt32BE(src.readUInt32LE(o), o);
      out.writeUInt32BE(src.readUInt32LE(o + 4) * 1000, o + 4);
      out.writeUInt32BE(incl, o + 8);
      out.writeUInt32BE(src.readUInt32LE(o + 12), o + 12);
      src.copy(out, o + 16, o + 16, o + 16 + incl);
      o += 16 + incl;
    }
    const file = join(tmp, 'be-nano.pcap');
    writeFileSync(file, out);
    const rewritten = await collect(file);
    expect(rewritten.length).toBe(original.length);
    rewritten.forEach((p, i) => {
      expect(p.seconds).toBe(original[i]!.seconds);
      expect(p.nanos).toBe(original[i]!.nanos);
      expect(p.data.equals(original[i]!.data)).toBe(true);
    });
  });

  it('reads a big-endian pcapng section (the multi-interface capture re-encoded big-endian)', async () => {
    const original = await collect(pcap('zeek__pcapng-multi-interface.pcapng'));
    // Interface 0 stamps in nanoseconds (if_tsresol 9), interface 1 in microseconds (the default).
    const resolution = [9, 6];
    const block = (type: number, body: Buffer) => {
      const padded = Buffer.concat([body, Buffer.alloc((4 - (body.length % 4)) % 4)]);
      const b = Buffer.alloc(12 + padded.length);
      b.writeUInt32BE(type, 0);
      b.writeUInt32BE(b.length, 4);
      padded.copy(b, 8);
      b.writeUInt32BE(b.length, b.length - 4);
      return b;
    };
    const shb = Buffer.alloc(16);
    shb.writeUInt32BE(0x1a2b3c4d, 0);
    shb.writeUInt16BE(1, 4);
    shb.writeBigInt64BE(-1n, 8);
    const idb = (tsresol: number) => {
      const b = Buffer.alloc(16);
      b.writeUInt16BE(LinkType.ETHERNET, 0);
      b.writeUInt32BE(0, 4);
      b.writeUInt16BE(9, 8); // if_tsresol
      b.writeUInt16BE(1, 10);
      b[12] = tsresol;
      return b; // options end with opt_endofopt (zeros) after the padded value
    };
    const blocks = [block(0x0a0d0d0a, shb), block(1, idb(resolution[0]!)), block(1, idb(resolution[1]!))];
    for (const p of original) {
      const units =
        BigInt(p.seconds) * 10n ** BigInt(resolution[p.interfaceId]!) +
        BigInt(p.nanos) / 10n ** BigInt(9 - resolution[p.interfaceId]!);
      const head = Buffer.alloc(20);
      head.writeUInt32BE(p.interfaceId, 0);
      head.writeUInt32BE(Number(units >> 32n), 4);
      head.writeUInt32BE(Number(units & 0xffffffffn), 8);
      head.writeUInt32BE(p.data.length, 12);
      head.writeUInt32BE(p.originalLength, 16);
      blocks.push(block(6, Buffer.concat([head, p.data])));
    }
    const file = join(tmp, 'be.pcapng');
    writeFileSync(file, Buffer.concat(blocks));
    const reread = await collect(file);
    expect(reread.map((p) => [p.interfaceId, p.seconds, p.nanos, p.data.toString('hex')])).toEqual(
      original.map((p) => [p.interfaceId, p.seconds, p.nanos, p.data.toString('hex')]),
    );
  });

  it('a truncated capture yields the packets before the cut, then errors naming the byte offset', async () => {
    const bytes = readFileSync(pcap('tcpdump__LLDP_and_CDP.pcap'));
    // Cut inside the 4th record: header 24 + three whole records.
    let recordStart = 24;
    for (let i = 0; i < 3; i++) recordStart += 16 + bytes.readUInt32LE(recordStart + 8);
    const file = join(tmp, 'cut.pcap');
    writeFileSync(file, bytes.subarray(0, recordStart + 30));
    const seen: CapturedPacket[] = [];
    const error = await (async () => {
      try {
        for await (const p of readCapture(file)) seen.push(p);
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(seen.length).toBe(3);
    expect(error).toBeInstanceOf(CaptureFormatError);
    expect((error as CaptureFormatError).offset).toBe(recordStart);
    expect((error as Error).message).toContain(`byte offset ${recordStart}`);
  });

  it('a truncated pcapng errors with the offset of the incomplete block', async () => {
    const bytes = readFileSync(pcap('zeek__pcapng-multi-interface.pcapng'));
    const file = join(tmp, 'cut.pcapng');
    writeFileSync(file, bytes.subarray(0, bytes.length - 10));
    await expect(collect(file)).rejects.toThrow(/truncated.*byte offset \d+/);
  });

  it('a file that is not a capture is rejected at offset 0, whatever its name', async () => {
    const file = join(tmp, 'fake.pcap');
    copyFileSync(pcap('MANIFEST.md'), file);
    await expect(collect(file)).rejects.toThrow(
      /not a pcap or pcapng capture \(magic .*\) \(at byte offset 0\)/,
    );
  });
});
