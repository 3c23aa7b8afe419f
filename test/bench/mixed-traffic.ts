// The mixed traffic the agent benchmarks replay: real captures of IT, IoT and
// OT protocols from ../shared/pcaps (never copied here), concatenated.
import { closeSync, existsSync, openSync, writeSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type CapturedPacket, FrameBatch, readCapture } from '@hark/sensor-agent';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** Ethernet captures with a mix of IT, IoT and OT traffic (all LINKTYPE_ETHERNET, so they concatenate into one pcap). */
export const MIXED_TRAFFIC_FILES = [
  'iti__EIP-IPAddressChangeAttempt.pcap',
  'iti__modbus_test.pcap',
  'cisagov-icsnpp-bacnet__bacnet_example.pcap',
  'ndpi__gnutella.pcap',
  'cisagov-icsnpp-profinet-io-cm__profinet_io_cm_mixed_1.pcap',
  'iotsentinel__D-LinkCam__Setup-A-1-STA.pcap',
  'zeek__wikipedia.pcap',
  'suricata-verify__sip-method__sip.pcap',
];

export function pcapsDir(): string {
  for (const c of [
    process.env.HARK_SHARED_PCAPS,
    join(REPO, '..', 'shared', 'pcaps'),
    join(REPO, 'shared', 'pcaps'),
  ])
    if (c && existsSync(join(c, 'MANIFEST.md'))) return c;
  throw new Error('shared captures not found: set HARK_SHARED_PCAPS');
}

/**
 * Classic pcap of the packets, repeated `loops` times, for the peer tools: the
 * records are built once and written `loops` times, so a file of millions of
 * packets is never held whole.
 */
export function writePcap(path: string, packets: readonly CapturedPacket[], loops = 1): void {
  const header = Buffer.alloc(24);
  header.writeUInt32LE(0xa1b2c3d4, 0);
  header.writeUInt16LE(2, 4);
  header.writeUInt16LE(4, 6);
  header.writeUInt32LE(262144, 16);
  header.writeUInt32LE(1, 20);
  const parts: Buffer[] = [];
  for (const p of packets) {
    const r = Buffer.alloc(16);
    r.writeUInt32LE(p.seconds >>> 0, 0);
    r.writeUInt32LE(Math.floor(p.nanos / 1000), 4);
    r.writeUInt32LE(p.data.length, 8);
    r.writeUInt32LE(p.originalLength, 12);
    parts.push(r, p.data);
  }
  const records = Buffer.concat(parts);
  const fd = openSync(path, 'w');
  try {
    writeSync(fd, header);
    for (let i = 0; i < loops; i++) writeSync(fd, records);
  } finally {
    closeSync(fd);
  }
}

/** Every packet of the mix, in order, each with its own copy of the bytes. */
export async function loadMixedTraffic(): Promise<CapturedPacket[]> {
  const dir = pcapsDir();
  const packets: CapturedPacket[] = [];
  for (const f of MIXED_TRAFFIC_FILES)
    for await (const p of readCapture(join(dir, f))) packets.push({ ...p, data: Buffer.from(p.data) });
  return packets;
}

/**
 * The packets in memory as a capture reader or the libpcap ring holds frames:
 * one after another in one buffer, read in place through a FrameBatch.
 */
export function inMemoryFrames(packets: readonly CapturedPacket[]): FrameBatch {
  const memory = Buffer.concat(packets.map((p) => p.data));
  const frames = new FrameBatch();
  for (let i = 0, at = 0; i < packets.length; at += packets[i]!.data.length, i++) {
    const p = packets[i]!;
    frames.push(memory, at, at + p.data.length, p.originalLength, p.seconds, p.nanos, p.linkType, 0);
  }
  return frames;
}
