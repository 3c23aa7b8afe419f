// DNP3 device attributes (IEEE 1815-2012 §A.2, group 0): an outstation's
// answer to a master's "read all attributes" names its maker, model,
// software version and serial number. Neither the shared captures nor
// opendnp3's outstation (dnp3-peer.test.ts) carry one, so the responses here
// are built from the standard (link frame with its CRC blocks, transport and
// application headers, the attribute objects) and carried in a real
// outstation's TCP segment of zeek__dnp3.pcap; tshark reads every file
// written here back, so a frame built wrong fails the test.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CapturedPacket } from '../src/capture/index.js';
import {
  inventoryOf,
  loadPackets,
  tcpPayloadOffset,
  tsharkAvailable,
  tsharkFields,
  withTcpPayload,
  writePcap,
} from './reframe.js';
import { MISSING, mustFindMac } from './support.js';

const tmp = mkdtempSync(join(tmpdir(), 'hark-dnp3-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** The DNP3 CRC (§9.2.4.1.4): polynomial 0x3D65, reflected, complemented, sent low octet first. */
function crc(b: Buffer): Buffer {
  let c = 0;
  for (const byte of b) {
    c ^= byte;
    for (let i = 0; i < 8; i++) c = c & 1 ? (c >>> 1) ^ 0xa6bc : c >>> 1;
  }
  const out = Buffer.alloc(2);
  out.writeUInt16LE(~c & 0xffff);
  return out;
}

/** A link frame (unconfirmed user data) from an outstation (DIR 0) at `source` to `destination`. */
function linkFrame(destination: number, source: number, userData: Buffer): Buffer {
  const header = Buffer.alloc(8);
  header.writeUInt16BE(0x0564, 0);
  header[2] = 5 + userData.length;
  header[3] = 0x44; // DIR 0, PRM 1, function 4: unconfirmed user data
  header.writeUInt16LE(destination, 4);
  header.writeUInt16LE(source, 6);
  const parts = [header, crc(header)];
  for (let i = 0; i < userData.length; i += 16) {
    const block = userData.subarray(i, i + 16);
    parts.push(block, crc(block));
  }
  return Buffer.concat(parts);
}

/** A response fragment, whole in one transport segment: transport, application control, function, IIN, objects. */
function response(objects: Buffer, seq = 1): Buffer {
  return Buffer.concat([Buffer.from([0xc0 | seq, 0xc0 | seq, 0x81, 0x00, 0x00]), objects]);
}

/** A device attribute object: group 0, its variation, qualifier 0x00 (start-stop 0-0), visible string. */
function attribute(variation: number, value: string): Buffer {
  const v = Buffer.from(value, 'latin1');
  return Buffer.concat([Buffer.from([0x00, variation, 0x00, 0x00, 0x00, 0x01, v.length]), v]);
}

const IDENTITY = {
  manufacturer: 'Schweitzer Engineering Laboratories, Inc.',
  model: 'SEL-3530 RTAC',
  software: 'R148-V2',
  serial: '1151230417',
  name: 'FEEDER-7 RTU',
  location: 'Substation 12',
};

function attributes(software = IDENTITY.software): Buffer {
  return Buffer.concat([
    attribute(252, IDENTITY.manufacturer),
    attribute(250, IDENTITY.model),
    attribute(242, software),
    attribute(248, IDENTITY.serial),
    attribute(247, IDENTITY.name),
    attribute(245, IDENTITY.location),
    // A number (the maximum receive fragment size, UINT): stepped over.
    Buffer.from([0x00, 241, 0x00, 0x00, 0x00, 0x02, 0x02, 0x00, 0x08]),
  ]);
}

describe.skipIf(MISSING)('DNP3 device attributes (group 0)', () => {
  // zeek__dnp3.pcap: the outstation 10.0.0.3 (00:02:b3:ce:70:51, link address 4) answering its masters.
  const OUTSTATION = '00:02:b3:ce:70:51';
  let carrier: CapturedPacket;
  /** The carrier with another TCP payload, a millisecond later for each `n`. */
  const segment = (payload: Buffer, n: number): CapturedPacket => ({
    ...carrier,
    data: withTcpPayload(carrier.data, payload),
    timestampMs: carrier.timestampMs + n,
  });

  beforeAll(async () => {
    carrier = (await loadPackets('zeek__dnp3.pcap')).find((p) => {
      const tcp = 14 + (p.data[14]! & 0x0f) * 4;
      const payload = tcpPayloadOffset(p.data);
      return (
        p.data.readUInt16BE(tcp) === 20000 &&
        payload + 2 <= p.data.length &&
        p.data.readUInt16BE(payload) === 0x0564
      );
    })!;
  });

  it("names the outstation's maker, model, software version and serial number, as tshark reads them", () => {
    const packet = segment(linkFrame(3, 4, response(attributes())), 0);
    const { devices, stats } = inventoryOf([packet]);
    expect(stats.decodeErrors.dnp3).toBe(0);
    const rtu = mustFindMac(devices, OUTSTATION);
    expect(rtu.manufacturer?.value).toBe(IDENTITY.manufacturer);
    expect(rtu.model?.value).toBe(IDENTITY.model);
    expect(rtu.firmwareVersion?.value).toBe(IDENTITY.software);
    expect(rtu.serialNumber?.value).toBe(IDENTITY.serial);
    expect(rtu.model?.evidence[0]).toMatchObject({
      protocol: 'dnp3',
      field: 'g0v250.product_name_and_model',
    });
    expect([rtu.category?.value, rtu.type?.value]).toEqual(['ot', 'rtu']);

    if (!tsharkAvailable()) return;
    const file = join(tmp, 'attributes.pcap');
    writePcap(file, [packet]);
    // Every CRC right: a frame built wrong would show here, and tshark would not read the objects.
    const crcErrors = tsharkFields(
      file,
      ['frame.number'],
      ['-Y', 'dnp3.hdr.CRC.incorrect || dnp3.data_chunk.CRC.incorrect'],
    );
    expect(crcErrors).toEqual([['']]);
    // The maker's name has a comma: tshark's values joined by another separator.
    const [row] = tsharkFields(file, ['dnp3.al.da.value', 'dnp3.al.da.uint16'], ['-E', 'aggregator=|']);
    expect(row![0]!.split('|')).toEqual([
      IDENTITY.manufacturer,
      IDENTITY.model,
      IDENTITY.software,
      IDENTITY.serial,
      IDENTITY.name,
      IDENTITY.location,
    ]);
    expect(row![1]).toBe('2048');
  });

  it('reads a response again after polls of the same outstation: a new software version replaces the old', () => {
    // A poll's null response, the attributes, more polls, then the attributes after a firmware update: the
    // polls are repeats of each other (same address and role), the attribute responses are not.
    const poll = linkFrame(3, 4, Buffer.from([0xc2, 0xc2, 0x81, 0x00, 0x00]));
    const packets = [
      segment(poll, 0),
      segment(linkFrame(3, 4, response(attributes())), 1),
      segment(poll, 2),
      segment(poll, 3),
      segment(linkFrame(3, 4, response(attributes('R150-V1'), 3)), 4),
    ];
    const { devices, stats } = inventoryOf(packets);
    expect(stats.repeats).toBeGreaterThan(0);
    expect(mustFindMac(devices, OUTSTATION).firmwareVersion?.value).toBe('R150-V1');
  });

  it('reads attributes that follow another frame in the same segment', () => {
    const poll = linkFrame(3, 4, Buffer.from([0xc2, 0xc2, 0x81, 0x00, 0x00]));
    const { devices } = inventoryOf([
      segment(Buffer.concat([poll, linkFrame(3, 4, response(attributes()))]), 0),
    ]);
    expect(mustFindMac(devices, OUTSTATION).serialNumber?.value).toBe(IDENTITY.serial);
  });

  it('counts an attribute that overruns its fragment as a decode error, and keeps the link-layer facts', () => {
    const objects = Buffer.concat([
      attribute(252, IDENTITY.manufacturer),
      Buffer.from([0x00, 250, 0x00, 0x00, 0x00, 0x01, 200, 0x41]),
    ]);
    const { devices, stats } = inventoryOf([segment(linkFrame(3, 4, response(objects)), 0)]);
    expect(stats.decodeErrors.dnp3).toBe(1);
    const rtu = mustFindMac(devices, OUTSTATION);
    expect(rtu.protocols).toContain('dnp3');
    expect(rtu.model).toBeUndefined();
  });
});
