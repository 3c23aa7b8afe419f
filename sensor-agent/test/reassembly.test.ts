// Messages that span TCP segments (src/message-reassembly.ts): real TLS
// ClientHellos, UPnP descriptions and HNAP answers from the shared captures,
// cut into smaller segments as a stack with a smaller MSS (or a browser's
// post-quantum key share) would send them. tshark reads every cut capture
// back and must find the same message in it, so a cut that is not valid TCP
// fails here, not in hark.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { CapturedPacket } from '../src/capture/index.js';
import { ALL_DECODERS } from '../src/decoders/registry.js';
import type { Decoder } from '../src/decoders/types.js';
import { parsePacket } from '../src/packet/parse.js';
import { PacketView, ParseResult } from '../src/packet/view.js';
import { Pipeline } from '../src/pipeline.js';
import {
  loadPackets,
  splitSegment,
  tcpPayloadOffset,
  tsharkAvailable,
  tsharkFields,
  writePcap,
} from './reframe.js';
import { MISSING, manifest, mustFindMac, pcap, RecordingStore, run } from './support.js';

const tmp = mkdtempSync(join(tmpdir(), 'hark-reassembly-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const TSHARK = tsharkAvailable();

/** Captures with TLS ClientHellos over Ethernet and IPv4 (MANIFEST.md's TLS-ClientHello row). */
const HELLO_CAPTURES = [
  'ndpi__chrome.pcap',
  'ndpi__iphone.pcap',
  'ndpi__android.pcap',
  'suricata-verify__ja4-tls__input.pcap',
  'iotsentinel__D-LinkSwitch__Setup-A-1-STA.pcap',
];

/** The pipeline's observations of `names` (all by default; as "sender name value", sorted and unique) and its counters. */
function observed(packets: readonly CapturedPacket[], names?: readonly string[]) {
  const store = new RecordingStore();
  const pipeline = new Pipeline({ store });
  for (const p of packets) pipeline.process(p);
  pipeline.flush();
  const facts = store.recorded
    .filter((o) => names === undefined || names.includes(o.name))
    .map((o) => `${o.mac >= 0 ? o.mac.toString(16) : o.ip} ${o.name} ${o.value}`);
  return { facts: [...new Set(facts)].sort(), stats: pipeline.stats, devices: store.toRecords() };
}

/** Where the IPv4 header of a frame lies: after Ethernet, or after BSD loopback's address family (NULL). */
const ipOffsetOf = (p: CapturedPacket) => (p.linkType === 0 ? 4 : 14);

/** Cuts every `size` bytes of a payload. */
const every = (size: number) => (n: number) =>
  Array.from({ length: Math.ceil(n / size) - 1 }, (_, i) => (i + 1) * size);

/** `packets` with the frames at `indexes` each replaced by the segments `cut` makes of them. */
function recut(
  packets: readonly CapturedPacket[],
  indexes: ReadonlySet<number>,
  cut: (payloadLength: number) => number[],
): CapturedPacket[] {
  return packets.flatMap((p, i) => {
    if (!indexes.has(i)) return [p];
    const ip = ipOffsetOf(p);
    const length = p.data.length - tcpPayloadOffset(p.data, ip);
    return splitSegment(p.data, cut(length), ip).map((data) => ({ ...p, data, originalLength: data.length }));
  });
}

/**
 * Frame indexes (0-based) of the TCP segments with a payload over Ethernet/IPv4 (what splitSegment
 * cuts) in which tshark's `field` has a value `wanted` accepts (any value by default).
 */
function framesWith(
  file: string,
  field: string,
  wanted: (value: string) => boolean = () => true,
): Set<number> {
  return new Set(
    tsharkFields(pcap(file), ['frame.number', 'eth.type', 'tcp.len', field])
      .filter((r) => r[1] === '0x0800' && Number(r[2]) > 0 && r[3] !== '' && wanted(r[3]!))
      .map((r) => Number(r[0]) - 1),
  );
}

/** Segments that begin a TLS ClientHello. */
const hellosIn = (file: string) =>
  framesWith(file, 'tls.handshake.type', (types) => types.split(',').includes('1'));

describe.skipIf(MISSING || !TSHARK)('TLS ClientHellos cut into several segments', () => {
  it('give the SNI and JA4 the uncut hellos give, and tshark reads the same server names in them', async () => {
    let hellos = 0;
    for (const file of HELLO_CAPTURES) {
      const packets = await loadPackets(file);
      const frames = hellosIn(file);
      expect(frames.size, file).toBeGreaterThan(0);
      hellos += frames.size;
      const whole = observed(packets, ['tlsSni', 'ja4']);
      expect(
        whole.facts.some((f) => f.includes(' ja4 ')),
        file,
      ).toBe(true);
      // In two near the middle, in three, and with a first segment of only the record header and a byte.
      for (const cut of [(n: number) => [n >> 1], (n: number) => [n >> 2, n >> 1], () => [6]]) {
        const packetsCut = recut(packets, frames, cut);
        const cutFile = join(tmp, `cut-${file}`);
        writePcap(cutFile, packetsCut);
        const names = (f: string) =>
          tsharkFields(f, ['tls.handshake.extensions_server_name'])
            .map((r) => r[0])
            .filter((s) => s !== '')
            .sort();
        expect(names(cutFile), file).toEqual(names(pcap(file)));
        const split = observed(packetsCut, ['tlsSni', 'ja4']);
        expect(split.facts, file).toEqual(whole.facts);
        expect(split.stats.reassembled, file).toBeGreaterThanOrEqual(frames.size);
      }
    }
    expect(hellos).toBeGreaterThanOrEqual(20);
  }, 120_000);

  it('a lost segment leaves the JA4 out and nothing else; retransmitted and overlapping ones are read once', async () => {
    const file = 'ndpi__chrome.pcap';
    const packets = await loadPackets(file);
    const frames = hellosIn(file);
    const whole = observed(packets, ['tlsSni', 'ja4']);
    /** Each hello's frame sent as the segments `arrange` makes of it (given its payload's length). */
    const sent = (arrange: (frame: Buffer, n: number) => Buffer[]) =>
      packets.flatMap((p, i) =>
        frames.has(i)
          ? arrange(p.data, p.data.length - tcpPayloadOffset(p.data)).map((data) => ({ ...p, data }))
          : [p],
      );
    // The middle segment never reaches the sensor: the SNI (when it is in the first) stays, the JA4 cannot be had.
    const lost = observed(
      sent((f, n) => {
        const [a, , c] = splitSegment(f, [n >> 2, n >> 1]);
        return [a!, c!];
      }),
      ['tlsSni', 'ja4'],
    );
    expect(lost.facts.filter((f) => f.includes(' ja4 '))).toEqual([]);
    expect(lost.facts.every((f) => whole.facts.includes(f))).toBe(true);
    expect(lost.stats.reassembled).toBe(0);
    // Every segment twice, as a sender whose ACKs were lost sends them.
    const twice = observed(
      sent((f, n) => splitSegment(f, [n >> 2, n >> 1]).flatMap((s) => [s, s])),
      ['tlsSni', 'ja4'],
    );
    expect(twice.facts).toEqual(whole.facts);
    // A resend that overlaps what came: the second and third segments again as one.
    const overlapping = observed(
      sent((f, n) => {
        const [a, b] = splitSegment(f, [n >> 2, n >> 1]);
        const [, bc] = splitSegment(f, [n >> 2]);
        return [a!, b!, bc!];
      }),
      ['tlsSni', 'ja4'],
    );
    expect(overlapping.facts).toEqual(whole.facts);
    expect(twice.stats.malformed).toBe(whole.stats.malformed);
  }, 60_000);

  it('gathers at most 128 messages at once: the oldest is given up for the next', async () => {
    // One real hello replayed from 200 client ports: every first segment, then every second one.
    const file = 'suricata-verify__ja4-tls__input.pcap';
    const packets = await loadPackets(file);
    const index = [...hellosIn(file)][0]!;
    const hello = packets[index]!;
    const tcp = 14 + (hello.data[14]! & 0x0f) * 4;
    const firsts: CapturedPacket[] = [];
    const seconds: CapturedPacket[] = [];
    for (let port = 40000; port < 40200; port++) {
      const [first, second] = splitSegment(hello.data, [40]);
      for (const piece of [first!, second!]) piece.writeUInt16BE(port, tcp);
      firsts.push({ ...hello, data: first! });
      seconds.push({ ...hello, data: second! });
    }
    const { stats } = observed([...firsts, ...seconds], ['ja4']);
    expect(stats.reassembled).toBe(128);
  });
});

describe.skipIf(MISSING || !TSHARK)('HTTP responses cut into several segments', () => {
  it('HNAP: the D-Link camera names its vendor, model, firmware and what it is, as tshark reassembles it', async () => {
    const file = 'iotsentinel__D-LinkCam__Setup-A-1-STA.pcap';
    // tshark's reassembled body of each GetDeviceSettings answer.
    const bodies = tsharkFields(pcap(file), ['http.file_data'])
      .map((r) => r[0] ?? '')
      .filter((body) => body.includes('GetDeviceSettingsResponse'));
    expect(bodies.length).toBeGreaterThan(0);
    const element = (name: string) => new RegExp(`<${name}>([^<]*)</${name}>`).exec(bodies[0]!)?.[1];

    const { devices } = await run(file);
    const cam = mustFindMac(devices, 'b0:c5:54:25:5b:0e');
    expect(cam.manufacturer?.value).toBe(element('VendorName'));
    expect(cam.model?.value).toBe(element('ModelName'));
    expect(cam.firmwareVersion?.value).toBe(element('FirmwareVersion'));
    expect(cam.firmwareVersion?.evidence[0]).toMatchObject({
      protocol: 'hnap',
      field: 'GetDeviceSettingsResponse.FirmwareVersion',
    });
    expect(element('ModelDescription')).toBe('Wireless Internet Camera');
    expect(cam.type?.value).toBe('camera');

    // Cut into 200-byte segments, the answer's later elements are read only once it is gathered.
    const packets = await loadPackets(file);
    const answers = framesWith(file, 'http.response.code');
    const small = recut(packets, answers, every(200));
    const cutFile = join(tmp, 'cut-hnap.pcap');
    writePcap(cutFile, small);
    const tsharkBodies = tsharkFields(cutFile, ['http.file_data']).filter((r) => r[0] !== '');
    expect(tsharkBodies.length).toBe(
      tsharkFields(pcap(file), ['http.file_data']).filter((r) => r[0] !== '').length,
    );
    const cut = observed(small, ['manufacturer', 'model', 'firmwareVersion', 'systemDescription']);
    const whole = observed(packets, ['manufacturer', 'model', 'firmwareVersion', 'systemDescription']);
    expect(cut.facts).toEqual(whole.facts);
    expect(cut.stats.reassembled).toBeGreaterThan(whole.stats.reassembled);
  }, 60_000);

  it("UPnP: the Roku's description cut into 100-byte segments names what the uncut one names", async () => {
    const file = 'ndpi__anyconnect-vpn.pcap';
    const packets = await loadPackets(file);
    const answers = framesWith(file, 'http.response.code');
    const whole = observed(packets, ['manufacturer', 'model', 'serialNumber', 'upnpUuid', 'hostname']);
    const small = recut(packets, answers, every(100));
    const cut = observed(small, ['manufacturer', 'model', 'serialNumber', 'upnpUuid', 'hostname']);
    expect(cut.facts).toEqual(whole.facts);
    const roku = mustFindMac(cut.devices, 'd8:31:34:20:77:fb');
    expect(roku.model?.value).toBe('Roku Express 3900X');
    expect(roku.serialNumber?.value).toBe('YG004J486863');
  }, 60_000);
});

/** The TCP decoders of each port. */
const TCP_DECODERS = (() => {
  const byPort = new Map<number, Decoder[]>();
  for (const d of ALL_DECODERS.filter((d) => d.family === 'tcp'))
    for (const port of d.keys) byPort.set(port, [...(byPort.get(port) ?? []), d]);
  return byPort;
})();

/**
 * The decoder that a real IPv4 TCP segment (over Ethernet or BSD loopback)
 * holds exactly one whole message of (as that decoder measures it), if any,
 * when every decoder of its ports gathers messages: a segment to cut.
 */
function wholeMessageIn(p: CapturedPacket): string | undefined {
  const ethernet = p.linkType === 1 && p.data.length > 14 && p.data.readUInt16BE(12) === 0x0800;
  const loopback =
    p.linkType === 0 && p.data.length > 4 && (p.data.readUInt32LE(0) === 2 || p.data.readUInt32BE(0) === 2);
  if (!ethernet && !loopback) return undefined;
  const v = new PacketView();
  v.reset(p.data, p.linkType, 0, p.timestampMs);
  if (parsePacket(v) !== ParseResult.OK || v.ipProto !== 6) return undefined;
  const n = v.payloadEnd - v.payloadOffset;
  const decoders = [...(TCP_DECODERS.get(v.dstPort) ?? []), ...(TCP_DECODERS.get(v.srcPort) ?? [])];
  if (n < 3 || decoders.some((d) => d.messageLength === undefined)) return undefined;
  for (const d of decoders)
    if (d.match(v) && d.messageLength!(v, v.data, v.payloadOffset, v.payloadEnd) === n) return d.name;
  return undefined;
}

describe.skipIf(MISSING)('every real TCP message, cut in three', () => {
  it('gives every fact the uncut capture gives, and no other', async () => {
    const cutBy = new Map<string, number>();
    for (const { file } of manifest()) {
      const packets = await loadPackets(file);
      const cut = new Set<number>();
      for (const [i, p] of packets.entries()) {
        const name = wholeMessageIn(p);
        if (!name) continue;
        cut.add(i);
        cutBy.set(name, (cutBy.get(name) ?? 0) + 1);
      }
      if (cut.size === 0) continue;
      const whole = observed(packets);
      const inThree = observed(recut(packets, cut, (n) => [Math.floor(n / 3), Math.floor((2 * n) / 3)]));
      expect(inThree.facts, file).toEqual(whole.facts);
      expect(inThree.stats.reassembled, file).toBeGreaterThan(0);
    }
    // The gathering decoders with real messages in the corpus had them cut (no Kerberos over TCP in it).
    for (const name of ['tls', 'http', 'smb', 'enip', 'modbus', 's7comm', 'opcua'])
      expect(cutBy.get(name) ?? 0, name).toBeGreaterThan(0);
  }, 240_000);
});
