// IEEE C37.118.2 synchrophasor frames (src/decoders/synchrophasor.ts). The
// corpus has none: the frames are built from C37.118.2-2011 §6, over UDP and
// inside a real TCP connection of the corpus, and tshark's synphasor
// dissector must read from them what the decoder reads.
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import type { CapturedPacket } from '../src/capture/index.js';
import { Pipeline } from '../src/pipeline.js';
import { ethernet, ipv4Udp } from '../src/simulate/encoders.js';
import {
  connectionTo,
  conversation,
  inventoryOf,
  loadPackets,
  packetOf,
  tsharkAvailable,
  tsharkOn,
  withCaptureFile,
} from './reframe.js';
import { MISSING, mustFindMac } from './support.js';

/** CRC-CCITT as C37.118.2 Annex B computes CHK: polynomial 0x1021, initial 0xFFFF, no reflection. */
function crc(b: Buffer): number {
  let c = 0xffff;
  for (const byte of b) {
    c ^= byte << 8;
    for (let i = 0; i < 8; i++) c = c & 0x8000 ? ((c << 1) ^ 0x1021) & 0xffff : (c << 1) & 0xffff;
  }
  return c;
}

/** SYNC (0xAA, type, version 2011), FRAMESIZE, IDCODE, SOC, FRACSEC, the payload, CHK. */
function frame(type: number, idcode: number, payload: Buffer, soc = 1_700_000_000): Buffer {
  const head = Buffer.alloc(14);
  head[0] = 0xaa;
  head[1] = (type << 4) | 2;
  head.writeUInt16BE(14 + payload.length + 2, 2);
  head.writeUInt16BE(idcode, 4);
  head.writeUInt32BE(soc, 6);
  const body = Buffer.concat([head, payload]);
  const chk = Buffer.alloc(2);
  chk.writeUInt16BE(crc(body), 0);
  return Buffer.concat([body, chk]);
}
const name16 = (s: string) => Buffer.concat([Buffer.from(s, 'latin1'), Buffer.alloc(16 - s.length, 0x20)]);

/** A PMU block of a configuration 2 frame: STN, IDCODE, FORMAT (16-bit integers), one phasor "VA", FNOM, CFGCNT. */
function pmuBlock(station: string, idcode: number): Buffer {
  const fixed = Buffer.alloc(10);
  fixed.writeUInt16BE(idcode, 0);
  fixed.writeUInt16BE(0, 2); // FORMAT
  fixed.writeUInt16BE(1, 4); // PHNMR
  return Buffer.concat([
    name16(station),
    fixed,
    name16('VA'),
    Buffer.from([0, 0x0d, 0xf8, 0x47]),
    Buffer.from([0, 0, 0, 1]),
  ]);
}
/** Configuration 2 (§6.4): TIME_BASE, NUM_PMU, the PMU blocks, DATA_RATE 30/s. */
function config2(idcode: number, stations: [string, number][]): Buffer {
  const head = Buffer.alloc(6);
  head.writeUInt32BE(1_000_000, 0);
  head.writeUInt16BE(stations.length, 4);
  return frame(
    3,
    idcode,
    Buffer.concat([head, ...stations.map(([s, id]) => pmuBlock(s, id)), Buffer.from([0, 30])]),
  );
}
/** A data frame of that configuration: STAT, one phasor (two 16-bit integers), FREQ, DFREQ. */
const data = (idcode: number, i: number) =>
  frame(0, idcode, Buffer.from([0, 0, 0x10, i & 0xff, 0, 0x20, 0, i & 0x0f, 0, 0]), 1_700_000_000 + i);
/** A command frame (§6.5): CMD 5, send configuration 2; CMD 2, turn on transmission. */
const command = (idcode: number, cmd: number) => frame(4, idcode, Buffer.from([0, cmd]));

const PDC = { mac: Buffer.from('0050c2aa0001', 'hex'), ip: '10.20.0.5' };
const HISTORIAN = { mac: Buffer.from('0050c2aa0002', 'hex'), ip: '10.20.0.9' };

describe.skipIf(MISSING)('IEEE C37.118 synchrophasors', () => {
  /** A PDC asks a PMU (the corpus connection's server, on 4712) for its configuration and its stream. */
  const pmuSession = async () => {
    const connection = connectionTo(await loadPackets('iti__s7comm_reading_plc_status.pcap'), 102);
    const send = conversation(connection, { server: 4712 });
    const packets = [
      send('toServer', command(7, 5)),
      send('fromServer', config2(7, [['SUB_A_PMU1', 7]])),
      send('toServer', command(7, 2)),
      ...Array.from({ length: 10 }, (_, i) => send('fromServer', data(7, i))),
    ];
    return { packets, pmu: [...connection.fromServer.data.subarray(26, 30)].join('.') };
  };
  /** A concentrator streaming two PMUs' configuration to a historian over UDP 4713. */
  const concentrator = (): CapturedPacket =>
    packetOf(
      ethernet(
        HISTORIAN.mac,
        PDC.mac,
        0x0800,
        ipv4Udp(
          PDC.ip,
          HISTORIAN.ip,
          4713,
          4713,
          config2(100, [
            ['FEEDER_1', 11],
            ['FEEDER_2', 12],
          ]),
        ),
      ),
      1_700_000_100_000,
    );

  it.skipIf(!tsharkAvailable())(
    'reads station names and PMU counts as tshark does, and the roles they tell',
    async () => {
      const { packets, pmu } = await pmuSession();
      const all = [...packets, concentrator()];
      const rows = tsharkOn(all, [
        'ip.src',
        'synphasor.frtype',
        'synphasor.conf.numpmu',
        'synphasor.idcode_data_source',
      ]);
      // Every frame is a synchrophasor frame to tshark (which finds each CHK correct, too).
      expect(rows.every((r) => r[1] !== '')).toBe(true);
      expect(rows.filter((r) => r[2]).map(([ip, , count, ids]) => [ip, count, ids])).toEqual([
        [pmu, '1', '7'],
        [PDC.ip, '2', '11,12'],
      ]);
      // tshark shows configuration 1 and 2 station names in its tree only ("Station #1: ...").
      const tree = withCaptureFile(all, (file) =>
        execFileSync('tshark', ['-n', '-r', file, '-V', '-Y', 'synphasor.conf.numpmu'], {
          encoding: 'utf8',
        }),
      );
      expect([...tree.matchAll(/Station #\d+: "(.*?)\s*"/g)].map((m) => m[1])).toEqual([
        'SUB_A_PMU1',
        'FEEDER_1',
        'FEEDER_2',
      ]);
      expect(tree).not.toContain('[incorrect');

      const { devices, stats } = inventoryOf(all);
      expect(stats.decodeErrors.synchrophasor).toBe(0);
      const unit = devices.find((d) => d.ipv4.includes(pmu))!;
      expect([unit.category?.value, unit.type?.value]).toEqual(['ot', 'pmu']);
      expect(JSON.stringify(unit)).toContain('SUB_A_PMU1');
      const client = devices.find(
        (d) => d !== unit && d.protocols.includes('synchrophasor') && !d.ipv4.includes(PDC.ip),
      )!;
      expect(client.type?.value).toBe('phasor-data-concentrator');
      // The concentrator is one; the station names it lists are its PMUs', not its own.
      const pdc = mustFindMac(devices, '00:50:c2:aa:00:01');
      expect(pdc.type?.value).toBe('phasor-data-concentrator');
      expect(JSON.stringify(pdc)).not.toContain('FEEDER_1');
    },
  );

  it('skips the data stream as repeats and gives the same inventory', async () => {
    const { packets } = await pmuSession();
    const skipping = inventoryOf(packets);
    // Nine of the ten data frames, and the second command.
    expect(skipping.stats.repeats).toBe(10);
    expect(skipping.devices).toEqual(inventoryOf(packets, { skipRepeats: false }).devices);
  });

  it('counts frames of an unknown type or version as malformed, and keeps going', () => {
    const bad = config2(100, [['X', 1]]);
    bad[1] = (7 << 4) | 2;
    const pipeline = new Pipeline({ skipRepeats: false });
    pipeline.process(
      packetOf(ethernet(HISTORIAN.mac, PDC.mac, 0x0800, ipv4Udp(PDC.ip, HISTORIAN.ip, 4713, 4713, bad))),
    );
    pipeline.process(concentrator());
    expect(pipeline.stats.decodeErrors.synchrophasor).toBe(1);
    expect(pipeline.stats.decoded.synchrophasor).toBe(1);
  });
});
