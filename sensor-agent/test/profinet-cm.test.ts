// PROFINET IO context management (DCE/RPC over UDP) on the real ICSNPP
// captures, checked against what tshark's pn_io dissector reads from the
// same frames; and an I&M0 read answer built from IEC 61158-6-10, which
// tshark must read as we do.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ethernet, ipv4Udp } from '../src/simulate/encoders.js';
import { inventoryOf, packetOf, tsharkAvailable, tsharkFields, writePcap } from './reframe.js';
import { MISSING, mustFindMac, pcap, run } from './support.js';

const tmp = mkdtempSync(join(tmpdir(), 'hark-pnio-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const CM = 'cisagov-icsnpp-profinet-io-cm__profinet_io_cm.pcap';

describe.skipIf(MISSING || !tsharkAvailable())('PROFINET IO CM on the ICSNPP captures', () => {
  it('every station name a Connect carries lands on its sender, with the role its side of the call says', async () => {
    const { devices, hints, pipeline } = await run(CM);
    expect(pipeline.stats.decodeErrors.profinet).toBe(0);
    // tshark: CMInitiatorStationName in Connect requests (pkt_type 0), CMResponderStationName in the answers (2).
    const rows = tsharkFields(pcap(CM), [
      'eth.src',
      'eth.dst',
      'dcerpc.pkt_type',
      'pn_io.cminitiator_station_name',
    ]).filter((r) => (r[3] ?? '') !== '');
    expect(rows.length).toBeGreaterThan(30);
    const controllers = new Set<string>();
    for (const [src, dst, type, name] of rows) {
      const sender = mustFindMac(devices, src!);
      expect(hints(sender.id, 'stationName'), `${src} ${name}`).toContain(name);
      if (type === '0') {
        controllers.add(src!);
        expect(hints(sender.id, 'role'), src).toContain('profinet:io-controller');
        expect(hints(mustFindMac(devices, dst!).id, 'role'), dst).toContain('profinet:io-device');
      } else {
        expect(hints(sender.id, 'role'), src).toContain('profinet:io-device');
      }
    }
    // The IO controllers of eight labs (Hilscher, Siemens, Phoenix Contact PC Worx, VMware test benches).
    expect(controllers.size).toBeGreaterThanOrEqual(10);
    const hilscher = mustFindMac(devices, '00:02:a2:2b:54:7f');
    expect([hilscher.hostname?.value, hilscher.category?.value, hilscher.type?.value]).toEqual([
      'controller',
      'ot',
      'plc',
    ]);
  });

  it("the RPC object UUID names each called station's PROFINET vendor and device ids", async () => {
    const { devices, hints } = await run(CM);
    // DEA00000-6C97-11D1-8271-{instance}{device id}{vendor id}, on calls to the device interface.
    const rows = tsharkFields(pcap(CM), [
      'eth.dst',
      'dcerpc.pkt_type',
      'dcerpc.dg_if_id',
      'dcerpc.obj_id',
    ]).filter(
      (r) => r[1] === '0' && r[2] === 'dea00001-6c97-11d1-8271-00a02442df7d' && r[3]!.startsWith('dea00000-'),
    );
    expect(rows.length).toBeGreaterThan(100);
    const checked = new Set<string>();
    for (const [dst, , , uuid] of rows) {
      const node = uuid!.slice(-12);
      const device = mustFindMac(devices, dst!);
      expect(hints(device.id, 'productCode'), dst).toContain(`0x${node.slice(4, 8)}`);
      expect(hints(device.id, 'vendorId'), dst).toContain(`0x${node.slice(8, 12)}`);
      checked.add(dst!);
    }
    expect(checked.size).toBeGreaterThan(15);
    // The p-net sample device on the Raspberry Pi: RT-Labs' vendor id 0x0493, device id 0x0002.
    const pi = mustFindMac(devices, 'b8:27:eb:95:26:6f');
    expect([pi.manufacturer?.value, pi.hostname?.value, pi.type?.value]).toEqual([
      'RT-Labs',
      'rt-labs-dev',
      'io-device',
    ]);
    // Named by the object UUID's vendor id field of the calls to it.
    expect(pi.manufacturer?.evidence.map((e) => `${e.protocol} ${e.field}`)).toContain(
      'profinet rpc.object_uuid.vendor_id',
    );
  });

  it('profinet_io_cm_mixed_1: the PC Worx controller connects to the VersaMax scanner, an IO device', async () => {
    const { devices, hints } = await run('cisagov-icsnpp-profinet-io-cm__profinet_io_cm_mixed_1.pcap');
    const pcWorx = mustFindMac(devices, '00:a0:45:6d:d3:43');
    expect(hints(pcWorx.id, 'stationName')).toEqual(['pc-worx-rt-basic-6d-d3-43']);
    expect(pcWorx.type?.value).toBe('plc');
    const scanner = mustFindMac(devices, '00:09:91:43:e0:67');
    expect(hints(scanner.id, 'role')).toEqual(['profinet:io-device']);
    expect(scanner.type?.value).toBe('io-device');
  });
});

/** An RPC answer to Read Implicit of I&M0, from an ET 200S head (vendor 0x002a, device 0x0301) at 192.168.0.2. */
function im0ReadResponse(bugFix = 1, index = 0xaff0): Buffer {
  const im0 = Buffer.alloc(60);
  im0.writeUInt16BE(0x0020, 0); // I&M0
  im0.writeUInt16BE(56, 2);
  im0[4] = 1;
  im0.writeUInt16BE(0x002a, 6);
  im0.write('6ES7 151-8AB01-0AB0 ', 8, 'latin1'); // OrderID, 20 visible characters
  im0.write('S C-H4MK12345678', 28, 'latin1'); // IM_Serial_Number, 16
  im0.writeUInt16BE(3, 44); // IM_Hardware_Revision
  im0.write('V', 46, 'latin1'); // IM_Software_Revision: prefix, functional enhancement, bug fix, internal change
  im0[47] = 3;
  im0[48] = 2;
  im0[49] = bugFix;
  im0.writeUInt16BE(1, 56); // IM_Version 1.1
  im0[57] = 1;
  im0.writeUInt16BE(0x001e, 58); // IM_Supported: I&M1-4
  const header = Buffer.alloc(64);
  header.writeUInt16BE(0x8009, 0); // IODReadResHeader
  header.writeUInt16BE(60, 2);
  header[4] = 1;
  // SeqNumber, ARUUID, API, SlotNumber, SubslotNumber, padding, Index, RecordDataLength, AdditionalValue1/2, padding.
  header.writeUInt16BE(1, 30); // SubslotNumber
  header.writeUInt16BE(index, 34); // Index: I&M0 by default
  header.writeUInt32BE(im0.length, 36); // RecordDataLength
  const blocks = Buffer.concat([header, im0]);
  const ndr = Buffer.alloc(20); // PNIOStatus 0, ArgsLength, MaximumCount, Offset, ActualCount (little-endian NDR)
  ndr.writeUInt32LE(blocks.length, 4);
  ndr.writeUInt32LE(blocks.length, 8);
  ndr.writeUInt32LE(blocks.length, 16);
  const body = Buffer.concat([ndr, blocks]);
  const rpc = Buffer.alloc(80);
  rpc[0] = 4; // version
  rpc[1] = 2; // response
  rpc[2] = 0x0a; // last fragment, no fack
  rpc[4] = 0x10; // little-endian integers, ASCII, IEEE floats
  Buffer.from('0000a0de976cd1118271000103 01002a'.replace(/ /g, ''), 'hex').copy(rpc, 8); // object UUID
  Buffer.from('0100a0de976cd111827100a02442df7d', 'hex').copy(rpc, 24); // PNIO device interface
  Buffer.from('5b0bdc4e5ebc4e4f8d6c37ea8b4fd1e1', 'hex').copy(rpc, 40); // activity
  rpc.writeUInt32LE(1, 60); // interface version
  rpc.writeUInt16LE(5, 68); // opnum: Read Implicit
  rpc.writeUInt16LE(0xffff, 70);
  rpc.writeUInt16LE(0xffff, 72);
  rpc.writeUInt16LE(body.length, 74);
  const udp = ipv4Udp('192.168.0.2', '192.168.0.17', 34964, 50000, Buffer.concat([rpc, body]));
  return ethernet(Buffer.from('00184a0b0c0d', 'hex'), Buffer.from('0019a1020304', 'hex'), 0x0800, udp);
}

describe('PROFINET I&M0, built from IEC 61158-6-10', () => {
  it('an I&M0 answer is decoded every time, other read answers are repeats of their RPC header', () => {
    const at = (frame: Buffer, i: number) => packetOf(frame, 1_700_000_000_000 + i * 1000);
    // The same head answering I&M0 with another software revision (an update) is read again.
    const updated = [at(im0ReadResponse(1), 0), at(im0ReadResponse(2), 1)];
    const skipping = inventoryOf(updated);
    expect(skipping.stats.repeats).toBe(0);
    expect(skipping.devices).toEqual(inventoryOf(updated, { skipRepeats: false }).devices);
    expect(mustFindMac(skipping.devices, '00:19:a1:02:03:04').firmwareVersion?.value).toBe('V3.2.2');
    // Reads of another record (I&M1 here), polled: after the first, repeats.
    const polled = [0, 1, 2].map((i) => at(im0ReadResponse(1 + i, 0xaff1), i));
    const repeated = inventoryOf(polled);
    expect(repeated.stats.repeats).toBe(2);
    expect(repeated.devices).toEqual(inventoryOf(polled, { skipRepeats: false }).devices);
  });

  it('a Read Implicit answer of I&M0 gives model, serial and software revision, as tshark reads them', () => {
    const packet = packetOf(im0ReadResponse());
    const { devices, stats } = inventoryOf([packet]);
    expect(stats.decodeErrors.profinet).toBe(0);
    const head = mustFindMac(devices, '00:19:a1:02:03:04');
    expect(head.model?.value).toBe('6ES7 151-8AB01-0AB0');
    expect(head.serialNumber?.value).toBe('S C-H4MK12345678');
    expect(head.firmwareVersion?.value).toBe('V3.2.1');
    expect(head.manufacturer?.value).toBe('Siemens');
    expect(head.type?.value).toBe('io-device');
    if (!tsharkAvailable()) return;
    const file = join(tmp, 'im0.pcap');
    writePcap(file, [packet]);
    const [row] = tsharkFields(file, [
      'pn_io.order_id',
      'pn_io.im_serial_number',
      'pn_io.im_revision_prefix',
      'pn_io.im_sw_revision_functional_enhancement',
      'pn_io.im_revision_bugfix',
      'pn_io.im_sw_revision_internal_change',
    ]);
    expect(row![0]!.trim()).toBe(head.model?.value);
    expect(row![1]).toBe(head.serialNumber?.value);
    const [prefix, functional, bugfix, internal] = row!.slice(2);
    // tshark prints the prefix as a quoted character ('V') and the numbers in hex.
    expect(`${prefix!.replace(/'/g, '')}${Number(functional)}.${Number(bugfix)}.${Number(internal)}`).toBe(
      'V3.2.1',
    );
  });
});
