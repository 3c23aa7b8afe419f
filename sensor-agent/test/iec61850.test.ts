// IEC 61850 GOOSE and sampled values (src/decoders/iec61850.ts). The corpus
// has no substation traffic: the frames are built from IEC 61850-8-1 Annex A
// and IEC 61850-9-2, and tshark's GOOSE and SV dissectors must read from them
// what the decoder reads.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { CapturedPacket } from '../src/capture/index.js';
import { Pipeline } from '../src/pipeline.js';
import { ethernet } from '../src/simulate/encoders.js';
import { inventoryOf, packetOf, tlv, tsharkAvailable, tsharkFields, writePcap } from './reframe.js';
import { mustFindMac } from './support.js';

const tmp = mkdtempSync(join(tmpdir(), 'hark-61850-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const RELAY = Buffer.from('0009f0112233', 'hex');
const MERGING_UNIT = Buffer.from('0009f0445566', 'hex');

/** APPID, Length (of the whole from APPID), two reserved words, then the PDU; behind an 802.1Q priority tag. */
function frame(src: Buffer, etherType: number, appid: number, pdu: Buffer, sqNum = 0): CapturedPacket {
  const header = Buffer.alloc(8);
  header.writeUInt16BE(appid, 0);
  header.writeUInt16BE(8 + pdu.length, 2);
  const tag = Buffer.alloc(4);
  tag.writeUInt16BE((4 << 13) | 0, 0); // priority 4, VLAN 0
  tag.writeUInt16BE(etherType, 2);
  const dst = Buffer.from(etherType === 0x88b8 ? '010ccd010001' : '010ccd040001', 'hex');
  const data = ethernet(dst, src, 0x8100, Buffer.concat([tag, header, pdu]));
  return packetOf(data, 1_700_000_000_000 + sqNum);
}

/** A goosePdu (IEC 61850-8-1 Annex A): gocbRef, timeAllowedtoLive, datSet, goID, t, stNum, sqNum, ... allData. */
function goose(gocbRef: string, sqNum: number): CapturedPacket {
  const pdu = tlv(
    0x61,
    Buffer.concat([
      tlv(0x80, gocbRef),
      tlv(0x81, Buffer.from([0x07, 0xd0])),
      tlv(0x82, `${gocbRef.split('/')[0]}/LLN0$dsTrip`),
      tlv(0x83, 'E1Q1SB1_Trip'),
      tlv(0x84, Buffer.from('655b0f80000000' + '0a', 'hex')),
      tlv(0x85, Buffer.from([1])),
      tlv(0x86, Buffer.from([sqNum])),
      tlv(0x87, Buffer.from([0])),
      tlv(0x88, Buffer.from([1])),
      tlv(0x89, Buffer.from([0])),
      tlv(0x8a, Buffer.from([1])),
      tlv(0xab, tlv(0x83, Buffer.from([0]))),
    ]),
  );
  return frame(RELAY, 0x88b8, 0x0001, pdu, sqNum);
}

/** A savPdu (IEC 61850-9-2 §8.5): noASDU, then seqASDU of one ASDU: svID, smpCnt, confRev, smpSynch, seqData. */
function sampledValues(svID: string): CapturedPacket {
  const asdu = tlv(
    0x30,
    Buffer.concat([
      tlv(0x80, svID),
      tlv(0x82, Buffer.from([0x00, 0x2a])),
      tlv(0x83, Buffer.from([0, 0, 0, 1])),
      tlv(0x85, Buffer.from([2])),
      tlv(0x87, Buffer.alloc(64)),
    ]),
  );
  const pdu = tlv(0x60, Buffer.concat([tlv(0x80, Buffer.from([1])), tlv(0xa2, asdu)]));
  return frame(MERGING_UNIT, 0x88ba, 0x4000, pdu);
}

describe('IEC 61850 GOOSE and sampled values, built from the standard', () => {
  it('a GOOSE publisher is an IED named by its logical device; a sampled-values one a merging unit', () => {
    const packets = [goose('E1Q1SB1CTRL/LLN0$GO$gcbTrip', 0), sampledValues('MU01_SV_I')];
    const { devices, stats } = inventoryOf(packets);
    expect(stats.decodeErrors.iec61850).toBe(0);
    const relay = mustFindMac(devices, '00:09:f0:11:22:33');
    expect([relay.category?.value, relay.type?.value, relay.hostname?.value]).toEqual([
      'ot',
      'ied',
      'E1Q1SB1CTRL',
    ]);
    const mu = mustFindMac(devices, '00:09:f0:44:55:66');
    expect([mu.category?.value, mu.type?.value]).toEqual(['ot', 'merging-unit']);
    if (!tsharkAvailable()) return;
    const file = join(tmp, 'substation.pcap');
    writePcap(file, packets);
    const [g, sv] = tsharkFields(file, ['goose.gocbRef', 'goose.datSet', 'sv.svID']);
    expect(g![0]).toBe('E1Q1SB1CTRL/LLN0$GO$gcbTrip');
    expect(g![1]).toBe('E1Q1SB1CTRL/LLN0$dsTrip');
    expect(sv![2]).toBe('MU01_SV_I');
  });

  it('retransmissions of one control block are skipped as repeats; a second control block is not', () => {
    const stream = [
      ...Array.from({ length: 20 }, (_, i) => goose('E1Q1SB1CTRL/LLN0$GO$gcbTrip', i)),
      goose('E1Q1SB1PROT/LLN0$GO$gcbStatus', 21),
    ];
    const skipping = new Pipeline();
    for (const p of stream) skipping.process(p);
    const every = new Pipeline({ skipRepeats: false });
    for (const p of stream) every.process(p);
    expect(skipping.stats.repeats).toBe(19);
    expect(skipping.store.toRecords()).toEqual(every.store.toRecords());
  });

  it('counts a PDU that is neither GOOSE nor sampled values as malformed', () => {
    const bogus = frame(RELAY, 0x88b8, 1, tlv(0x62, tlv(0x80, 'x')));
    const { stats } = inventoryOf([bogus]);
    expect(stats.decodeErrors.iec61850).toBe(1);
  });
});
