// Skipping byte-identical repeats, and cyclic polling with the same repeat
// key (src/repeat-cache.ts), is an optimisation only: on every real capture
// the inventory must be exactly what decoding every packet gives, last-seen
// times included. Device generations are what make that hold when the store
// changes between two copies of a packet.
import { describe, expect, it } from 'vitest';
import { type CapturedPacket, readCapture } from '../src/capture/index.js';
import type { Observation } from '../src/decoders/index.js';
import { DecoderIndex } from '../src/decoders/registry.js';
import type { Decoder } from '../src/decoders/types.js';
import { DeviceStore } from '../src/inventory/store.js';
import { IpProto, PacketView, ParseResult, parsePacket } from '../src/packet/index.js';
import { buildInventory, Pipeline } from '../src/pipeline.js';
import { ethernet, ip4, ipv4Udp, mdnsAnnouncement } from '../src/simulate/encoders.js';
import { packetOf } from './reframe.js';
import { MISSING, manifest, pcap } from './support.js';

describe.skipIf(MISSING)('repeat skipping on the real captures', () => {
  it('yields the same inventory as decoding every packet, and does skip', async () => {
    let skipped = 0;
    const skippedBy: Record<string, number> = {};
    for (const { file } of manifest()) {
      const every = await buildInventory(pcap(file), { skipRepeats: false });
      // Without the frame memo (frame-memo.test.ts compares it with this path): the repeat cache alone.
      const skipping = await buildInventory(pcap(file), { skipRepeats: true, frameMemo: false });
      expect(skipping.devices, file).toEqual(every.devices);
      const { repeats, ...rest } = skipping.stats;
      expect({ ...rest, repeats: 0 }, file).toEqual(every.stats);
      skipped += repeats;
      skippedBy[file] = repeats;
    }
    // Discovery-heavy captures repeat themselves: the comparison above is not between two identical code paths.
    expect(skipped).toBeGreaterThan(1000);
    expect(skippedBy['iotsentinel__D-LinkCam__Setup-A-1-STA.pcap']).toBeGreaterThan(100);
    expect(skippedBy['cisagov-icsnpp-profinet-io-cm__profinet_io_cm_mixed_1.pcap']).toBeGreaterThan(100);
    // Cyclic OT polling, compared by repeat key: the Modbus master's reads of rotating unit ids,
    // the BACnet poller's requests and the present values answered, DNP3 polls and responses,
    // IEC 104 traffic.
    expect(skippedBy['iti__modbus_test.pcap']).toBeGreaterThan(2000);
    expect(skippedBy['cisagov-icsnpp-bacnet__bacnet_example.pcap']).toBeGreaterThan(2000);
    expect(skippedBy['zeek__dnp3.pcap']).toBeGreaterThan(50); // DNP3 master and outstation polling
    expect(skippedBy['iti__dnp3_test_data_part1.pcap']).toBeGreaterThan(50);
    expect(skippedBy['iti__090813_diverse.pcap']).toBeGreaterThan(50); // IEC 104 measurands, S frames, TESTFR
    expect(skippedBy['cisagov-icsnpp-enip__enip_cip_example.pcap']).toBeGreaterThan(350); // CIP I/O on UDP 2222
    // EtherNet/IP explicit messaging: a firmware update's requests, and its answers, which differ
    // every time and carry no identity (the one Get_Attribute_All reply, which does, is decoded).
    expect(skippedBy['iti__EIP-FirmwareChange.pcap']).toBeGreaterThan(10_000);
    // An HMI's S7comm variable reads and the PLC's acknowledgements (and MMS finding none in them).
    expect(skippedBy['iti__wincc_s400_production.pcapng']).toBeGreaterThan(2000);
    // PROFINET IO CM record writes and their answers, keyed by their RPC header.
    expect(skippedBy['cisagov-icsnpp-profinet-io-cm__profinet_io_cm.pcap']).toBeGreaterThan(250);
  });
});

describe.skipIf(MISSING)('repeat skipping across captures', () => {
  it('yields the same inventory as decoding every packet when addresses change hands and devices merge', async () => {
    // Every capture one after another, twice: unrelated sites reuse addresses (192.168.1.x), so
    // addresses move between devices and devices merge, bumping generations, again and again.
    const packets: CapturedPacket[] = [];
    for (const { file } of manifest())
      for await (const p of readCapture(pcap(file))) packets.push({ ...p, data: Buffer.from(p.data) });
    const twice = [...packets, ...packets.map((p) => ({ ...p, timestampMs: p.timestampMs + 1e12 }))];
    const run = (skipRepeats: boolean) => {
      const pipeline = new Pipeline({ skipRepeats });
      for (const p of twice) pipeline.process(p);
      return pipeline;
    };
    const every = run(false);
    const skipping = run(true);
    expect(skipping.store.toRecords()).toEqual(every.store.toRecords());
    expect(skipping.stats.repeats).toBeGreaterThan(packets.length / 4);
    const bumped = skipping.store.devices().filter((d) => d.generation > 0).length;
    expect(bumped).toBeGreaterThan(10);
  }, 120_000);
});

describe.skipIf(MISSING)('transaction identifiers on the real captures', () => {
  const index = new DecoderIndex();

  /** A copy of the frame with the transaction id a decoder declares for it inverted, or undefined when none does. */
  function withTransactionIdInverted(packet: CapturedPacket): Buffer | undefined {
    const v = new PacketView();
    v.reset(packet.data, packet.linkType, packet.interfaceId, packet.timestampMs);
    if (parsePacket(v) !== ParseResult.OK) return undefined;
    const family = v.ipProto === IpProto.UDP ? 'udp' : v.ipProto === IpProto.TCP ? 'tcp' : undefined;
    const decoders = [
      ...index.candidates('link', v.etherType),
      ...(family && v.ipVersion !== 0
        ? [...index.candidates(family, v.dstPort), ...index.candidates(family, v.srcPort)]
        : []),
    ];
    for (const d of decoders) {
      if (!d.transactionId || !d.match(v)) continue;
      const offset = d.transactionId.offset(v);
      if (offset < 0) continue;
      const start = (v.ipVersion === 0 ? v.l3Offset : v.payloadOffset) + offset;
      const copy = Buffer.from(packet.data);
      for (let i = start; i < start + d.transactionId.length && i < copy.length; i++)
        copy[i] = copy[i]! ^ 0xa5;
      return copy;
    }
    return undefined;
  }

  it('a copy under another transaction id reports exactly what the original does, and is skipped as a repeat', async () => {
    const { changed, skippedCopies } = await copiesCompared(withTransactionIdInverted);
    // NBNS, mDNS, LLMNR and DNS message ids, BACnet invoke ids: enough of them that this compares something.
    expect(changed).toBeGreaterThan(5000);
    expect(skippedCopies).toBeGreaterThan(changed / 2);
  });
});

describe.skipIf(MISSING)('ephemeral ports on the real captures', () => {
  const index = new DecoderIndex();
  const portBlind = index.decoders.filter((d) => d.portBlind);

  /**
   * A copy of the frame in which the client's port (the one that did not choose a port-blind
   * decoder that matches it) is another ephemeral port, or undefined when no such decoder matches.
   */
  function fromAnotherPort(packet: CapturedPacket): Buffer | undefined {
    const v = new PacketView();
    v.reset(packet.data, packet.linkType, packet.interfaceId, packet.timestampMs);
    if (parsePacket(v) !== ParseResult.OK || v.ipProto !== IpProto.UDP || v.tunnelDepth > 0) return undefined;
    const d = portBlind.find((d) => (d.keys.includes(v.dstPort) || d.keys.includes(v.srcPort)) && d.match(v));
    if (!d) return undefined;
    const at = d.keys.includes(v.dstPort) ? v.payloadOffset - 8 : v.payloadOffset - 6;
    const old = packet.data.readUInt16BE(at);
    // Another ephemeral port, that chooses the same decoders as the client's did.
    const chosen = (port: number) =>
      index
        .candidates('udp', port)
        .map((c) => c.name)
        .join();
    const port = 49152 + ((old * 7919 + 1) % 16000);
    if (port === old || chosen(port) !== chosen(old)) return undefined;
    const copy = Buffer.from(packet.data);
    copy.writeUInt16BE(port, at);
    return copy;
  }

  it('a query asked again from another port, and its answer, report what the originals do and are repeats', async () => {
    // KNXnet/IP's searches are port-blind too; the shared captures have none (knx-peer.test.ts runs real ones).
    expect(portBlind.map((d) => d.name).sort()).toEqual(['dns', 'knxnetip', 'llmnr', 'mdns', 'ssdp', 'wsd']);
    const { changed, skippedCopies } = await copiesCompared(fromAnotherPort);
    // DNS and LLMNR queries, SSDP searches and WS-Discovery probes from ephemeral ports, and their answers.
    expect(changed).toBeGreaterThan(100);
    expect(skippedCopies).toBeGreaterThan(changed / 2);
  }, 120_000);
});

describe.skipIf(MISSING)('an EtherNet/IP answer keyed by its command', () => {
  it('that overruns its message after a well-formed one is still counted as malformed', async () => {
    // The first answer of the firmware update's session that carries data items and no identity.
    let answer: CapturedPacket | undefined;
    let payload = 0;
    for await (const packet of readCapture(pcap('iti__EIP-FirmwareChange.pcap'))) {
      const v = new PacketView();
      v.reset(packet.data, packet.linkType, packet.interfaceId, packet.timestampMs);
      if (parsePacket(v) !== ParseResult.OK || v.ipProto !== IpProto.TCP || v.srcPort !== 44818) continue;
      const b = v.data;
      const o = v.payloadOffset;
      // SendRRData, status 0, data: interface handle and timeout, the item count, a null address item
      // (type and length 0), then the data item, whose service is no Get_Attribute_All reply (0x81).
      if (v.payloadEnd - o < 44 || b.readUInt16LE(o) !== 0x6f || b.readUInt32LE(o + 8) !== 0) continue;
      if (b.readUInt16LE(o + 24 + 6 + 2 + 2) !== 0 || b[o + 24 + 6 + 2 + 4 + 4] === 0x81) continue;
      answer = { ...packet, data: Buffer.from(packet.data) };
      payload = o;
      break;
    }
    expect(answer).toBeDefined();
    const overrun = Buffer.from(answer!.data);
    // Interface handle(4), timeout(2), item count(2), then the second item's type and length.
    const secondItem = payload + 24 + 8 + 4 + overrun.readUInt16LE(payload + 24 + 8 + 2);
    overrun.writeUInt16LE(0xffff, secondItem + 2);
    for (const skipRepeats of [true, false]) {
      const pipeline = new Pipeline({ skipRepeats });
      pipeline.process(answer!);
      pipeline.process({ ...answer!, timestampMs: answer!.timestampMs + 1 });
      expect(pipeline.stats.repeats).toBe(skipRepeats ? 1 : 0);
      pipeline.process({ ...answer!, data: overrun, timestampMs: answer!.timestampMs + 2 });
      expect(pipeline.stats.decodeErrors.enip, `skipRepeats ${skipRepeats}`).toBe(1);
      expect(pipeline.stats.decoded.enip).toBe(2);
    }
  });
});

describe('a repeat names other devices than its sender', () => {
  // A Bonjour sleep proxy (RFC 6762 section 15) answers for a sleeping printer: the facts are
  // about 10.0.0.7, the frame comes from the proxy at 10.0.0.2. Only the store's record of
  // which devices the first copy named can move the printer's last-seen time on a skipped copy.
  const proxy = Buffer.from('001b1b00000a', 'hex');
  const frame = mdnsAnnouncement(proxy, '10.0.0.7', 'printer', []);
  ip4('10.0.0.2').copy(frame, 14 + 12);

  it.each([true, false])('moves its last-seen time (skipRepeats %s)', (skipRepeats) => {
    const pipeline = new Pipeline({ skipRepeats });
    for (const timestampMs of [1000, 5000, 9000]) pipeline.process(packetOf(frame, timestampMs));
    expect(pipeline.stats.repeats).toBe(skipRepeats ? 2 : 0);
    const printer = pipeline.store.toRecords().find((d) => d.ipv4.includes('10.0.0.7'));
    expect(printer?.hostname?.value).toBe('printer');
    expect(printer?.macs).toEqual([]);
    expect(printer?.lastSeen).toBe(new Date(9000).toISOString());
  });
});

describe('a set of the repeat cache', () => {
  // Two slots make one set: every packet competes for it, as packets whose hashes collide do.
  const announcement = (last: number, host: string) =>
    mdnsAnnouncement(
      Buffer.from(`001b1b0000${last.toString(16).padStart(2, '0')}`, 'hex'),
      `10.0.0.${last}`,
      host,
      [],
    );
  const [a, b, c] = [
    announcement(1, 'printer-a'),
    announcement(2, 'printer-b'),
    announcement(3, 'printer-c'),
  ];
  const repeatsOf = (frames: Buffer[]) => {
    const pipeline = new Pipeline({ repeatSlots: 2 });
    for (const [i, frame] of frames.entries()) pipeline.process(packetOf(frame, 1000 * (i + 1)));
    return pipeline.stats.repeats;
  };

  it('holds two senders taking turns, and a third evicts the one used less recently', () => {
    expect(repeatsOf([a, b, a, b, a, b])).toBe(4);
    // After a, b, a: b is the one used less recently, so c takes its slot and a stays.
    expect(repeatsOf([a, b, a, c, a, b])).toBe(2);
  });

  it('takes only a power of two of at least two slots', () => {
    expect(() => new Pipeline({ repeatSlots: 3 })).toThrow(/power of two, at least 2: got 3/);
    expect(() => new Pipeline({ repeatSlots: 1 })).toThrow(/power of two/);
  });
});

describe('a device that changes what it announces', () => {
  it('is shown as it is now, when it changes back too, whether repeats are skipped or not', () => {
    const mac = Buffer.from('001b1b0000aa', 'hex');
    const as = (host: string) => mdnsAnnouncement(mac, '10.0.0.8', host, []);
    // Renamed, then named back: the third packet is a byte-identical copy of the first.
    const packets = [as('kiosk-lobby'), as('kiosk-lobby'), as('kiosk-2'), as('kiosk-lobby')].map((frame, i) =>
      packetOf(frame, 1000 * (i + 1)),
    );
    const run = (skipRepeats: boolean) => {
      const pipeline = new Pipeline({ skipRepeats });
      for (const p of packets) pipeline.process(p);
      return pipeline;
    };
    const every = run(false);
    const skipping = run(true);
    expect(skipping.store.toRecords()).toEqual(every.store.toRecords());
    const [device] = skipping.store.toRecords();
    expect(device!.hostname?.value).toBe('kiosk-lobby');
    expect(device!.hostname?.evidence[0]?.seen).toBe(new Date(4000).toISOString());
    // The second packet repeats the first and is skipped; the fourth came after a change and is not.
    expect(skipping.stats.repeats).toBe(1);
  });
});

describe('Device.generation', () => {
  const A = 0x00_1b_1b_00_00_0a;
  const B = 0x00_1b_1b_00_00_0b;
  const C = 0x00_1b_1b_00_00_0c;
  const NAMES = new Map([
    [A, 'A'],
    [B, 'B'],
    [C, 'C'],
  ]);
  /** Each current device's generation, by name (A, B, C, or 'ip' for the one known by address). */
  const generations = (store: DeviceStore) =>
    new Map(
      store
        .devices()
        .map((d): [string, number] => [NAMES.get(d.mac) ?? (d.mac < 0 ? 'ip' : '?'), d.generation]),
    );
  const obs = (o: Partial<Observation>): Observation => ({
    mac: -1,
    ip: undefined,
    name: 'hostname',
    value: 'x',
    confidence: 0.9,
    protocol: 'test',
    field: 'f',
    timestampMs: 1000,
    ...o,
  });

  it('stays put when the same facts are observed again', () => {
    const store = new DeviceStore();
    const facts = [
      obs({ mac: A, name: 'ipv4', value: '10.0.0.5' }),
      obs({ mac: A, name: 'hostname', value: 'plc-1' }),
      obs({ ip: '10.0.0.9', via: A, name: 'model', value: 'M1' }),
    ];
    for (const f of facts) store.observe(f);
    const before = generations(store);
    for (const f of facts) store.observe({ ...f, timestampMs: 2000 });
    expect(generations(store)).toEqual(before);
  });

  it('moves for the devices concerned when an address changes hands, devices merge, or a host is reached through another MAC', () => {
    const store = new DeviceStore();
    const bystander = obs({ mac: C, name: 'ipv4', value: '10.0.0.77' });
    store.observe(bystander);
    store.observe(obs({ mac: A, name: 'ipv4', value: '10.0.0.5' }));
    let before = generations(store);
    store.observe(obs({ mac: B, name: 'ipv4', value: '10.0.0.5' }));
    let after = generations(store);
    expect(after.get('A')).toBeGreaterThan(before.get('A')!);
    expect(after.get('B')).toBeGreaterThan(before.get('B') ?? -1);

    store.observe(obs({ ip: '10.0.0.9', via: A, name: 'model', value: 'M1' }));
    before = generations(store);
    store.observe(obs({ ip: '10.0.0.9', via: A, name: 'model', value: 'M1' }));
    expect(generations(store)).toEqual(before);
    store.observe(obs({ ip: '10.0.0.9', via: B, name: 'model', value: 'M1' }));
    after = generations(store);
    expect(after.get('ip')).toBeGreaterThan(before.get('ip')!);
    expect(after.get('A')).toBe(before.get('A'));

    before = generations(store);
    const deviceB = store.devices().find((d) => d.mac === B)!;
    store.observe(obs({ mac: A, name: 'mac', value: '00:1b:1b:00:00:0b' }));
    after = generations(store);
    expect(after.get('A')).toBeGreaterThan(before.get('A')!);
    expect(deviceB.generation).toBeGreaterThan(before.get('B')!);
    const merged = store.toRecords().find((d) => d.macs.includes('00:1b:1b:00:00:0a'));
    expect(merged?.macs).toContain('00:1b:1b:00:00:0b');
    // None of it concerned the bystander: its packets' repeats are still skipped.
    expect(after.get('C')).toBe(0);
  });

  it('moves when a source that vouched for a value reports another', () => {
    const store = new DeviceStore();
    store.observe(obs({ mac: A, value: 'plc-1' }));
    let before = generations(store);
    store.observe(obs({ mac: A, value: 'plc-1', protocol: 'other' })); // more evidence, same value
    expect(generations(store)).toEqual(before);
    store.observe(obs({ mac: A, value: 'plc-2' }));
    expect(generations(store).get('A')).toBeGreaterThan(before.get('A')!);
    before = generations(store);
    store.observe(obs({ mac: A, value: 'plc-3', protocol: 'other' })); // another source of equal rank: no change
    expect(generations(store)).toEqual(before);
  });

  it('tracing names the devices observed, and refuses DHCP identities, whose effect depends on the device', () => {
    const store = new DeviceStore();
    store.beginTrace();
    store.observe(obs({ mac: A, name: 'hostname', value: 'plc-1' }));
    store.observe(obs({ mac: A, name: 'model', value: 'M1' }));
    store.observe(obs({ ip: '10.0.0.9', via: A, name: 'model', value: 'M2' }));
    expect(store.endTrace()).toHaveLength(2);
    store.beginTrace();
    store.observe(obs({ mac: A, name: 'dhcpFingerprint', value: '1,3,6' }));
    expect(store.endTrace()).toBeUndefined();
  });
});

describe('a repeat key that cannot be computed', () => {
  it('leaves the packet to decode(), and nothing escapes the pipeline', () => {
    let decoded = 0;
    const probe: Decoder = {
      name: 'probe',
      family: 'udp',
      keys: [9999],
      match: () => true,
      repeatKey: () => {
        throw new RangeError('damaged header');
      },
      decode: () => {
        decoded++;
      },
    };
    const pipeline = new Pipeline({ decoders: new DecoderIndex([probe]) });
    const mac = Buffer.from('02000000000a', 'hex');
    const frame = ethernet(mac, mac, 0x0800, ipv4Udp('10.0.0.1', '10.0.0.2', 9999, 9999, Buffer.from('x')));
    for (let i = 0; i < 2; i++) expect(() => pipeline.process(packetOf(frame, 1000 + i))).not.toThrow();
    expect(decoded).toBe(2);
    expect(pipeline.stats.repeats).toBe(0);
  });
});

/** The inventory and the repeats skipped of a pipeline fed `packets`. */
function inventory(packets: CapturedPacket[], skipRepeats: boolean) {
  const pipeline = new Pipeline({ skipRepeats });
  for (const p of packets) pipeline.process(p);
  return { devices: pipeline.store.toRecords(), repeats: pipeline.stats.repeats };
}

/**
 * Every real capture followed by itself again, later, once as it was and once
 * with each packet `change` gives a copy of replaced by that copy: whether
 * decoding every packet and skipping repeats both report of the changed run
 * exactly what they report of the unchanged one, and skip as many repeats.
 * Returns how many packets were changed and how many changed copies were
 * skipped as repeats.
 */
async function copiesCompared(
  change: (packet: CapturedPacket) => Buffer | undefined,
): Promise<{ changed: number; skippedCopies: number }> {
  let changed = 0;
  let skippedCopies = 0;
  for (const { file } of manifest()) {
    const packets: CapturedPacket[] = [];
    for await (const p of readCapture(pcap(file))) packets.push({ ...p, data: Buffer.from(p.data) });
    const copies = packets.map((p) => change(p));
    const count = copies.filter((c) => c !== undefined).length;
    if (count === 0) continue;
    changed += count;
    const span = Math.ceil(packets.at(-1)!.timestampMs - packets[0]!.timestampMs) + 1000;
    const later = (p: CapturedPacket, data: Buffer): CapturedPacket => ({
      ...p,
      data,
      timestampMs: p.timestampMs + span,
      seconds: p.seconds + Math.floor(span / 1000),
    });
    const again = [...packets, ...packets.map((p) => later(p, p.data))];
    const changedRun = [...packets, ...packets.map((p, i) => later(p, copies[i] ?? p.data))];
    const reference = inventory(again, false);
    // Decoding every packet: what was changed says nothing the decoders report.
    expect(inventory(changedRun, false).devices, file).toEqual(reference.devices);
    // Skipping repeats: the same inventory, and the changed copies are repeats as much as unchanged ones.
    const skipping = inventory(changedRun, true);
    expect(skipping.devices, file).toEqual(reference.devices);
    expect(skipping.repeats, file).toBe(inventory(again, true).repeats);
    skippedCopies += skipping.repeats - inventory(packets, true).repeats;
  }
  return { changed, skippedCopies };
}
