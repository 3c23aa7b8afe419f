// Test helpers that carry real frames in other encapsulations and link
// types, built from their specifications, for the link and tunnel tests
// (the shared corpus has no capture of most of them). tshark reads every
// file written here back, so a helper that got a header wrong fails its test.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type CapturedPacket, readCapture } from '../src/capture/index.js';
import { Pipeline, type PipelineOptions } from '../src/pipeline.js';
import { checksum } from '../src/simulate/encoders.js';

import { pcap } from './support.js';

export const MIRROR_MAC = Buffer.from('001b21a0b0c1', 'hex');
const COLLECTOR_MAC = Buffer.from('001b21a0b0c2', 'hex');

/** An IPv4 header (10.99.0.1 -> 10.99.0.2, TTL 64) for `payload` of `protocol`. */
export function ipv4(protocol: number, payload: Buffer): Buffer {
  const ip = Buffer.alloc(20);
  ip[0] = 0x45;
  ip.writeUInt16BE(20 + payload.length, 2);
  ip[8] = 64;
  ip[9] = protocol;
  Buffer.from([10, 99, 0, 1, 10, 99, 0, 2]).copy(ip, 12);
  ip.writeUInt16BE(checksum(ip), 10);
  return Buffer.concat([ip, payload]);
}

/** An Ethernet frame from the mirroring switch (MIRROR_MAC) carrying an IPv4 packet of `protocol`. */
export function outerFrame(protocol: number, transport: Buffer): Buffer {
  return Buffer.concat([COLLECTOR_MAC, MIRROR_MAC, Buffer.from([0x08, 0x00]), ipv4(protocol, transport)]);
}

export function udp(dstPort: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(8);
  h.writeUInt16BE(49152, 0);
  h.writeUInt16BE(dstPort, 2);
  h.writeUInt16BE(8 + payload.length, 4);
  return Buffer.concat([h, payload]); // checksum 0: none (RFC 768)
}

/** GRE (RFC 2784/2890) with checksum, key and sequence number when asked. */
export function gre(
  protocol: number,
  payload: Buffer,
  o: { checksum?: boolean; key?: number; seq?: number } = {},
): Buffer {
  const flags = (o.checksum ? 0x80 : 0) | (o.key !== undefined ? 0x20 : 0) | (o.seq !== undefined ? 0x10 : 0);
  const parts = [Buffer.from([flags, 0, protocol >> 8, protocol & 0xff])];
  if (o.checksum) parts.push(Buffer.alloc(4));
  for (const n of [o.key, o.seq]) {
    if (n === undefined) continue;
    const w = Buffer.alloc(4);
    w.writeUInt32BE(n);
    parts.push(w);
  }
  const out = Buffer.concat([...parts, payload]);
  if (o.checksum) out.writeUInt16BE(checksum(out), 4);
  return out;
}

/** Ethernet frame pieces: destination, source, the EtherType after any VLAN tags, and where the payload starts. */
export function ethernetParts(frame: Buffer): {
  dst: Buffer;
  src: Buffer;
  etherType: number;
  payload: Buffer;
} {
  return {
    dst: frame.subarray(0, 6),
    src: frame.subarray(6, 12),
    etherType: frame.readUInt16BE(12),
    payload: frame.subarray(14),
  };
}

/** Where the TCP payload of an Ethernet/IPv4/TCP frame starts (of another link, with its IPv4 header at `ip`). */
export function tcpPayloadOffset(frame: Buffer, ip = 14): number {
  const tcp = ip + (frame[ip]! & 0x0f) * 4;
  return tcp + (frame[tcp + 12]! >> 4) * 4;
}

/**
 * The frame's Ethernet, IPv4 and TCP headers around another payload (to
 * another destination port when given): the IPv4 total length and header
 * checksum are made right; the TCP checksum is left as decoders and tshark
 * (which does not verify it by default) leave it.
 */
export function withTcpPayload(frame: Buffer, payload: Buffer, dstPort?: number, ip = 14): Buffer {
  const tcp = ip + (frame[ip]! & 0x0f) * 4;
  const out = Buffer.concat([frame.subarray(0, tcpPayloadOffset(frame, ip)), payload]);
  if (dstPort !== undefined) out.writeUInt16BE(dstPort, tcp + 2);
  out.writeUInt16BE(out.length - ip, ip + 2);
  out.writeUInt16BE(0, ip + 10);
  out.writeUInt16BE(checksum(out.subarray(ip, tcp)), ip + 10);
  return out;
}

/**
 * The Ethernet/IPv4/TCP frame's payload as several segments, cut at the
 * payload offsets `cuts`, each with the sequence number of its first byte, as
 * a stack with a smaller MSS would have sent it. Only the last keeps a FIN.
 * A frame of another link has its IPv4 header at `ip`.
 */
export function splitSegment(frame: Buffer, cuts: readonly number[], ip = 14): Buffer[] {
  const tcp = ip + (frame[ip]! & 0x0f) * 4;
  const payload = frame.subarray(tcpPayloadOffset(frame, ip));
  const seq = frame.readUInt32BE(tcp + 4);
  const bounds = [0, ...cuts, payload.length];
  const pieces: Buffer[] = [];
  for (let i = 0; i + 1 < bounds.length; i++) {
    const piece = withTcpPayload(frame, payload.subarray(bounds[i], bounds[i + 1]), undefined, ip);
    piece.writeUInt32BE((seq + bounds[i]!) >>> 0, tcp + 4);
    if (i + 2 < bounds.length) piece[tcp + 13]! &= ~0x01;
    pieces.push(piece);
  }
  return pieces;
}

export function tsharkAvailable(): boolean {
  try {
    execFileSync('tshark', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    console.warn(
      'tshark is not installed (apt-get install tshark): rebuilt frames are not cross-checked against it',
    );
    return false;
  }
}

/** tshark's protocol chain (frame.protocols) of every frame of a capture file. */
export function tsharkLayers(file: string): string[] {
  return execFileSync('tshark', ['-n', '-r', file, '-T', 'fields', '-e', 'frame.protocols'], {
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  })
    .trim()
    .split('\n');
}

/** Calls `use` with a pcap file of `packets` that lives only for the call. */
export function withCaptureFile<T>(packets: CapturedPacket[], use: (file: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), 'hark-tshark-'));
  try {
    const file = join(dir, 'capture.pcap');
    writePcap(file, packets);
    return use(file);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** tshark's values of `fields` for every one of `packets`, a row per packet: they are written to a pcap for it. */
export function tsharkOn(packets: CapturedPacket[], fields: string[], options: string[] = []): string[][] {
  return withCaptureFile(packets, (file) => tsharkFields(file, fields, options));
}

/** tshark's values of `fields` for every frame of a capture file, a row per frame; `options` such as `-o` preferences. */
export function tsharkFields(file: string, fields: string[], options: string[] = []): string[][] {
  return execFileSync(
    'tshark',
    ['-n', ...options, '-r', file, '-T', 'fields', ...fields.flatMap((f) => ['-e', f])],
    {
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
    },
  )
    .trimEnd()
    .split('\n')
    .map((line) => line.split('\t'));
}

/** An Ethernet frame as a captured packet, whole, at `timestampMs` (by default 2023-11-14). */
export function packetOf(data: Buffer, timestampMs = 1_700_000_000_000): CapturedPacket {
  return {
    data,
    linkType: 1,
    interfaceId: 0,
    timestampMs,
    seconds: Math.floor(timestampMs / 1000),
    nanos: (timestampMs % 1000) * 1e6,
    originalLength: data.length,
  };
}

/** A classic pcap of `packets` with the given link type. */
export function writePcap(path: string, packets: CapturedPacket[], linkType = 1): void {
  const header = Buffer.alloc(24);
  header.writeUInt32LE(0xa1b2c3d4, 0);
  header.writeUInt16LE(2, 4);
  header.writeUInt16LE(4, 6);
  header.writeUInt32LE(262144, 16);
  header.writeUInt32LE(linkType, 20);
  const parts: Buffer[] = [header];
  for (const p of packets) {
    const r = Buffer.alloc(16);
    r.writeUInt32LE(p.seconds, 0);
    r.writeUInt32LE(Math.floor(p.nanos / 1000), 4);
    r.writeUInt32LE(p.data.length, 8);
    r.writeUInt32LE(p.data.length, 12);
    parts.push(r, p.data);
  }
  writeFileSync(path, Buffer.concat(parts));
}

/** Every packet of a shared capture, each with its own copy of the bytes. */
export async function loadPackets(name: string): Promise<CapturedPacket[]> {
  const packets: CapturedPacket[] = [];
  for await (const p of readCapture(pcap(name))) packets.push({ ...p, data: Buffer.from(p.data) });
  return packets;
}

/** The inventory and counters of a pipeline fed `packets` (skipping repeats unless told not to). */
export function inventoryOf(packets: CapturedPacket[], options: PipelineOptions = {}) {
  const pipeline = new Pipeline(options);
  for (const p of packets) pipeline.process(p);
  pipeline.flush();
  return { devices: pipeline.store.toRecords(), stats: pipeline.stats };
}

/** A BER TLV with a short-form (or one-byte long-form) length. */
export function tlv(tag: number, value: Buffer | string): Buffer {
  const v = typeof value === 'string' ? Buffer.from(value, 'latin1') : value;
  const length = v.length < 128 ? Buffer.from([v.length]) : Buffer.from([0x81, v.length]);
  return Buffer.concat([Buffer.from([tag]), length, v]);
}

/**
 * A data segment to `serverPort` among `packets` and one answering it on the
 * same connection (Ethernet/IPv4 frames), to carry other payloads.
 */
export function connectionTo(
  packets: CapturedPacket[],
  serverPort: number,
): { toServer: CapturedPacket; fromServer: CapturedPacket } {
  const tcpOf = (p: CapturedPacket) => {
    const d = p.data;
    if (p.linkType !== 1 || d.readUInt16BE(12) !== 0x0800 || d[23] !== 6) return undefined;
    const tcp = 14 + (d[14]! & 0x0f) * 4;
    const data = 14 + d.readUInt16BE(16) - tcpPayloadOffset(d); // by the IP length: frames are padded
    const syn = (d[tcp + 13]! & 0x02) !== 0;
    return { src: d.readUInt16BE(tcp), dst: d.readUInt16BE(tcp + 2), data, syn };
  };
  const toServer = packets.find((p) => {
    const t = tcpOf(p);
    return t !== undefined && t.dst === serverPort && t.data > 0 && !t.syn;
  });
  if (!toServer) throw new Error(`no data segment to port ${serverPort}`);
  const client = tcpOf(toServer)!.src;
  const fromServer = packets.find((p) => {
    const t = tcpOf(p);
    return t !== undefined && t.src === serverPort && t.dst === client && t.data > 0;
  });
  if (!fromServer) throw new Error(`no answer from port ${serverPort} on the connection`);
  return { toServer, fromServer };
}

/**
 * Segments of that connection with other payloads, on other ports when
 * given. Each direction's sequence numbers advance by what it sent, so that
 * tshark reads every segment as new data, not a retransmission.
 */
export function conversation(
  { toServer, fromServer }: { toServer: CapturedPacket; fromServer: CapturedPacket },
  ports: { client?: number; server?: number } = {},
): (direction: 'toServer' | 'fromServer', payload: Buffer) => CapturedPacket {
  const sent = { toServer: 0, fromServer: 0 };
  let at = 0;
  return (direction, payload) => {
    const frame = withTcpPayload((direction === 'toServer' ? toServer : fromServer).data, payload);
    const tcp = 14 + (frame[14]! & 0x0f) * 4;
    const [clientAt, serverAt] = direction === 'toServer' ? [tcp, tcp + 2] : [tcp + 2, tcp];
    if (ports.client !== undefined) frame.writeUInt16BE(ports.client, clientAt);
    if (ports.server !== undefined) frame.writeUInt16BE(ports.server, serverAt);
    frame.writeUInt32BE((frame.readUInt32BE(tcp + 4) + sent[direction]) >>> 0, tcp + 4);
    sent[direction] += payload.length;
    return packetOf(frame, 1_700_000_000_000 + at++);
  };
}
