import { describe, expect, it } from 'vitest';
import { Pipeline } from '../src/pipeline.js';
import {
  connectionTo,
  conversation,
  inventoryOf,
  loadPackets,
  packetOf,
  tsharkAvailable,
  tsharkOn,
  withTcpPayload,
} from './reframe.js';
import { MISSING } from './support.js';

const PLC_NET_ID = [5, 12, 34, 56, 1, 1];
const HMI_NET_ID = [192, 168, 1, 10, 1, 1];

/** AMS/TCP header, then the AMS header (target, source, command, state flags, length, error, invoke id) and data. */
function ams(
  from: number[],
  to: number[],
  command: number,
  response: boolean,
  data: Buffer,
  invoke: number,
): Buffer {
  const header = Buffer.alloc(32);
  Buffer.from(to).copy(header, 0);
  header.writeUInt16LE(response ? 32905 : 851, 6);
  Buffer.from(from).copy(header, 8);
  header.writeUInt16LE(response ? 851 : 32905, 14);
  header.writeUInt16LE(command, 16);
  header.writeUInt16LE(response ? 0x0005 : 0x0004, 18); // ADS command, and the response bit on answers
  header.writeUInt32LE(data.length, 20);
  header.writeUInt32LE(invoke, 28);
  const tcp = Buffer.alloc(6);
  tcp.writeUInt32LE(32 + data.length, 2);
  return Buffer.concat([tcp, header, data]);
}
/** READ DEVICE INFO's answer: result 0, version 3.1.4024, device name. */
function deviceInfo(): Buffer {
  const data = Buffer.alloc(24);
  data[4] = 3;
  data[5] = 1;
  data.writeUInt16LE(4024, 6);
  data.write('Plc30 App', 8, 'latin1');
  return data;
}
/** READ (command 2) of 4 bytes at index group 0x4020, offset 0, and its answer. */
const read = () => Buffer.from([0x20, 0x40, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0]);
const readAnswer = (v: number) => Buffer.from([0, 0, 0, 0, 4, 0, 0, 0, v, 0, 0, 0]);

describe.skipIf(MISSING)('Beckhoff ADS', () => {
  const session = async () => {
    const send = conversation(connectionTo(await loadPackets('iti__s7comm_reading_plc_status.pcap'), 102), {
      server: 48898,
    });
    return [
      send('toServer', ams(HMI_NET_ID, PLC_NET_ID, 1, false, Buffer.alloc(0), 1)),
      send('fromServer', ams(PLC_NET_ID, HMI_NET_ID, 1, true, deviceInfo(), 1)),
      ...Array.from({ length: 5 }, (_, i) => [
        send('toServer', ams(HMI_NET_ID, PLC_NET_ID, 2, false, read(), 2 + i)),
        send('fromServer', ams(PLC_NET_ID, HMI_NET_ID, 2, true, readAnswer(i), 2 + i)),
      ]).flat(),
    ];
  };

  it.skipIf(!tsharkAvailable())(
    'reads the TwinCAT device and version as tshark does, and both sides',
    async () => {
      const packets = await session();
      const rows = tsharkOn(packets, [
        'ams.sendernetid',
        'ams.cmdid',
        'ams.ads_devicename',
        'ams.ads_versionversion',
        'ams.ads_versionrevision',
        'ams.ads_versionbuild',
      ]);
      expect(rows.map((r) => r[1])).toEqual(['1', '1', ...Array(10).fill('2')]);
      expect(rows.filter((r) => r[2])).toEqual([['5.12.34.56.1.1', '1', 'Plc30 App', '3', '1', '4024']]);

      const { devices, stats } = inventoryOf(packets);
      expect(stats.decodeErrors.ads).toBe(0);
      const plc = devices.find((d) => d.firmwareVersion?.value === '3.1.4024')!;
      expect([plc.manufacturer?.value, plc.category?.value, plc.type?.value]).toEqual([
        'Beckhoff',
        'ot',
        'plc',
      ]);
      const hmi = devices.find((d) => d !== plc && d.protocols.includes('ads'))!;
      expect(hmi.type?.value).toBe('hmi');
    },
  );

  it('skips the cyclic reads as repeats, never the device info, and gives the same inventory', async () => {
    const packets = await session();
    const skipping = inventoryOf(packets);
    // All five reads repeat the first request's key; the last four answers the first answer's.
    expect(skipping.stats.repeats).toBe(9);
    expect(skipping.devices).toEqual(inventoryOf(packets, { skipRepeats: false }).devices);
  });

  it('counts an unknown ADS command as malformed and leaves other uses of the port alone', async () => {
    const { fromServer } = connectionTo(await loadPackets('iti__s7comm_reading_plc_status.pcap'), 102);
    const bad = ams(PLC_NET_ID, HMI_NET_ID, 77, true, Buffer.alloc(0), 9);
    const other = Buffer.from('SSH-2.0-OpenSSH_9.2\r\n'.padEnd(48, ' '), 'latin1');
    const frame = (payload: Buffer) => {
      const f = withTcpPayload(fromServer.data, payload);
      f.writeUInt16BE(48898, 14 + (f[14]! & 0x0f) * 4);
      return packetOf(f);
    };
    const pipeline = new Pipeline({ skipRepeats: false });
    pipeline.process(frame(bad));
    pipeline.process(frame(other));
    expect(pipeline.stats.decodeErrors.ads).toBe(1);
    expect(pipeline.stats.decoded.ads).toBe(1);
  });
});
