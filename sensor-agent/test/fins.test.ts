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
} from './reframe.js';
import { MISSING, mustFindMac } from './support.js';

const PLC = { mac: Buffer.from('00000a112233', 'hex'), ip: '192.168.250.1', node: 1 };
const HMI = { mac: Buffer.from('0090e8445566', 'hex'), ip: '192.168.250.10', node: 10 };
const ENGINEERING = { mac: Buffer.from('3c52827788aa', 'hex'), ip: '192.168.250.20', node: 20 };
const MODEL = 'CJ2M-CPU31';
const VERSION = '02.01';

type Host = typeof PLC;
/** A FINS frame (W342 §3-1): ICF, RSV, GCT 2, destination and source network/node/unit, SID, command code, then data. */
function fins(from: Host, to: Host, response: boolean, command: number, data: Buffer, sid = 1): Buffer {
  const header = Buffer.from([
    response ? 0xc0 : 0x80,
    0,
    2,
    0,
    to.node,
    0,
    0,
    from.node,
    0,
    sid,
    command >> 8,
    command & 0xff,
  ]);
  return Buffer.concat([header, data]);
}
const padded = (s: string, n: number) =>
  Buffer.concat([Buffer.from(s, 'latin1'), Buffer.alloc(n - s.length, 0x20)]);
/** CONTROLLER DATA READ's answer (W342 §5-3-18): end code 0000, model, version, 40 bytes for system use, 12 of area data. */
const controllerData = () =>
  Buffer.concat([
    Buffer.from([0, 0]),
    padded(MODEL, 20),
    padded(VERSION, 20),
    Buffer.alloc(40),
    Buffer.alloc(12),
  ]);
/** MEMORY AREA READ of D100, 2 words (01 01: area 0x82, address, bit 0, count) and its answer. */
const memoryRead = Buffer.from([0x82, 0x00, 0x64, 0x00, 0x00, 0x02]);
const memoryAnswer = (value: number) => Buffer.from([0, 0, value >> 8, value & 0xff, 0, 0]);

const udp = (from: Host, to: Host, payload: Buffer, at: number): CapturedPacket =>
  packetOf(
    ethernet(to.mac, from.mac, 0x0800, ipv4Udp(from.ip, to.ip, 9600, 9600, payload)),
    1_700_000_000_000 + at,
  );

function udpSession(): CapturedPacket[] {
  return [
    udp(ENGINEERING, PLC, fins(ENGINEERING, PLC, false, 0x0501, Buffer.alloc(0)), 0),
    udp(PLC, ENGINEERING, fins(PLC, ENGINEERING, true, 0x0501, controllerData()), 1),
    // CX-Programmer switches the CPU to program mode (04 02).
    udp(ENGINEERING, PLC, fins(ENGINEERING, PLC, false, 0x0402, Buffer.from([0xff, 0xff]), 2), 2),
    udp(PLC, ENGINEERING, fins(PLC, ENGINEERING, true, 0x0402, Buffer.from([0, 0]), 2), 3),
    // The HMI polls D100 five times.
    ...Array.from({ length: 5 }, (_, i) => [
      udp(HMI, PLC, fins(HMI, PLC, false, 0x0101, memoryRead, 10 + i), 10 + 2 * i),
      udp(PLC, HMI, fins(PLC, HMI, true, 0x0101, memoryAnswer(i), 10 + i), 11 + 2 * i),
    ]).flat(),
  ];
}

describe('Omron FINS over UDP', () => {
  it.skipIf(!tsharkAvailable())(
    'reads the controller model and version as tshark does, and the roles of both sides',
    () => {
      const packets = udpSession();
      const rows = tsharkOn(packets, [
        'ip.src',
        'omron.command',
        'omron.controller.model',
        'omron.controller.version',
      ]);
      // tshark keeps the fields' padding; the inventory does not.
      expect(rows.filter((r) => r[2]).map((r) => r.map((f) => f.trim()))).toEqual([
        [PLC.ip, '0x0501', MODEL, VERSION],
      ]);
      // Every frame is FINS to tshark.
      expect(rows.filter((r) => r[1]).length).toBe(packets.length);

      const { devices, stats } = inventoryOf(packets);
      expect(stats.decodeErrors.fins).toBe(0);
      const plc = mustFindMac(devices, '00:00:0a:11:22:33');
      expect([plc.manufacturer?.value, plc.model?.value, plc.firmwareVersion?.value]).toEqual([
        'Omron',
        MODEL,
        VERSION,
      ]);
      expect([plc.category?.value, plc.type?.value]).toEqual(['ot', 'plc']);
      expect(mustFindMac(devices, '3c:52:82:77:88:aa').type?.value).toBe('engineering-workstation');
      expect(mustFindMac(devices, '00:90:e8:44:55:66').type?.value).toBe('hmi');
    },
  );

  it('skips the polling as repeats, never the controller data, and gives the same inventory', () => {
    const packets = udpSession();
    const skipping = inventoryOf(packets);
    // The HMI's last four reads and their answers.
    expect(skipping.stats.repeats).toBe(8);
    expect(skipping.devices).toEqual(inventoryOf(packets, { skipRepeats: false }).devices);
  });

  it('counts a damaged header as malformed FINS and keeps going', () => {
    const bad = fins(HMI, PLC, false, 0x0101, memoryRead);
    bad[0] = 0x84; // a reserved ICF bit
    const pipeline = new Pipeline({ skipRepeats: false });
    pipeline.process(udp(HMI, PLC, bad, 0));
    for (const p of udpSession()) pipeline.process(p);
    expect(pipeline.stats.decodeErrors.fins).toBe(1);
    expect(pipeline.store.toRecords().some((d) => d.model?.value === MODEL)).toBe(true);
  });
});

describe.skipIf(MISSING)('Omron FINS/TCP', () => {
  it.skipIf(!tsharkAvailable())(
    'reads FINS frames in FINS/TCP framing, after the node address exchange',
    async () => {
      // A real TCP connection of the corpus (the S7 capture's), its payloads replaced and its server port 9600.
      const connection = connectionTo(await loadPackets('iti__s7comm_reading_plc_status.pcap'), 102);
      const send = conversation(connection, { server: 9600 });
      const finsTcp = (command: number, body: Buffer) => {
        const header = Buffer.alloc(16);
        header.write('FINS', 0, 'latin1');
        header.writeUInt32BE(8 + body.length, 4);
        header.writeUInt32BE(command, 8);
        return Buffer.concat([header, body]);
      };
      const clientIp = [...connection.toServer.data.subarray(26, 30)].join('.');
      const plcIp = [...connection.toServer.data.subarray(30, 34)].join('.');
      const exchange = [
        // Node address data send (command 0), the server's answer (1), then FINS frames (2).
        send('toServer', finsTcp(0, Buffer.alloc(4))),
        send('fromServer', finsTcp(1, Buffer.from([0, 0, 0, 20, 0, 0, 0, 1]))),
        send('toServer', finsTcp(2, fins(ENGINEERING, PLC, false, 0x0501, Buffer.alloc(0)))),
        send('fromServer', finsTcp(2, fins(PLC, ENGINEERING, true, 0x0501, controllerData()))),
      ];
      const rows = tsharkOn(exchange, [
        'ip.src',
        'omron.tcp.command',
        'omron.controller.model',
        'omron.controller.version',
      ]);
      expect(rows.map((r) => Number(r[1]))).toEqual([0, 1, 2, 2]);
      expect(
        rows.filter((r) => r[2]).map(([ip, , model, version]) => [ip, model!.trim(), version!.trim()]),
      ).toEqual([[plcIp, MODEL, VERSION]]);

      const { devices, stats } = inventoryOf(exchange);
      expect(stats.decodeErrors.fins).toBe(0);
      const plc = devices.find((d) => d.ipv4.includes(plcIp))!;
      expect([plc.model?.value, plc.firmwareVersion?.value, plc.type?.value]).toEqual([
        MODEL,
        VERSION,
        'plc',
      ]);
      expect(devices.find((d) => d.ipv4.includes(clientIp))!.protocols).toContain('fins');
    },
  );
});
