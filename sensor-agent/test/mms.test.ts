import { describe, expect, it } from 'vitest';
import { Pipeline } from '../src/pipeline.js';
import {
  connectionTo,
  conversation,
  inventoryOf,
  loadPackets,
  packetOf,
  tlv,
  tsharkAvailable,
  tsharkOn,
  withTcpPayload,
} from './reframe.js';
import { MISSING, mustFindMac, run } from './support.js';

const S7 = 'iti__s7comm_reading_plc_status.pcap';
/**
 * The connect phase that binds presentation context 3 to MMS (ISO 9506-2's abstract syntax
 * 1.0.9506.2.1) is not in the built frames; tshark is told, as Wireshark's users table does.
 */
const MMS_CONTEXT = ['-o', 'uat:pres_context_list:"3","1.0.9506.2.1"'];
const IDENTITY = { vendor: 'SIEMENS AG', model: 'SIPROTEC 5 7SJ82', revision: 'V09.40.02' };

/** TPKT, COTP DT (last unit), session GIVE TOKENS + DATA TRANSFER, presentation user data, then `mms`. */
function isoData(mms: Buffer): Buffer {
  const presentation = tlv(0x61, tlv(0x30, Buffer.concat([tlv(0x02, Buffer.from([3])), tlv(0xa0, mms)])));
  const body = Buffer.concat([Buffer.from([0x02, 0xf0, 0x80, 0x01, 0x00, 0x01, 0x00]), presentation]);
  const tpkt = Buffer.from([3, 0, 0, 0]);
  tpkt.writeUInt16BE(4 + body.length, 2);
  return Buffer.concat([tpkt, body]);
}
const invoke = (id: number) => tlv(0x02, Buffer.from([id]));
const identifyRequest = (id: number) =>
  isoData(tlv(0xa0, Buffer.concat([invoke(id), Buffer.from([0x82, 0x00])])));
const identifyResponse = (id: number) =>
  isoData(
    tlv(
      0xa1,
      Buffer.concat([
        invoke(id),
        tlv(
          0xa2,
          Buffer.concat([
            tlv(0x80, IDENTITY.vendor),
            tlv(0x81, IDENTITY.model),
            tlv(0x82, IDENTITY.revision),
          ]),
        ),
      ]),
    ),
  );
/** A Read of one named variable (service [4]) and its answer with one boolean: the cyclic part of a session. */
const readRequest = (id: number) =>
  isoData(
    tlv(
      0xa0,
      Buffer.concat([
        invoke(id),
        tlv(
          0xa4,
          tlv(
            0xa1,
            tlv(
              0xa0,
              tlv(0x30, tlv(0xa0, tlv(0xa1, Buffer.concat([tlv(0x1a, 'LD0'), tlv(0x1a, 'LLN0$ST$Beh')])))),
            ),
          ),
        ),
      ]),
    ),
  );
const readResponse = (id: number, value: boolean) =>
  isoData(
    tlv(0xa1, Buffer.concat([invoke(id), tlv(0xa4, tlv(0xa1, tlv(0x83, Buffer.from([value ? 1 : 0]))))])),
  );

describe.skipIf(MISSING)('MMS', () => {
  const exchange = async () => {
    const send = conversation(connectionTo(await loadPackets(S7), 102));
    return [
      send('toServer', identifyRequest(1)),
      send('fromServer', identifyResponse(1)),
      ...Array.from({ length: 6 }, (_, i) => [
        send('toServer', readRequest(2 + i)),
        send('fromServer', readResponse(2 + i, i % 2 === 0)),
      ]).flat(),
    ];
  };

  it.skipIf(!tsharkAvailable())(
    'reads the Identify answer as tshark does, and names the server and its client',
    async () => {
      const packets = await exchange();
      const rows = tsharkOn(
        packets,
        ['eth.src', 'mms.vendorName', 'mms.modelName', 'mms.revision'],
        MMS_CONTEXT,
      ).filter((r) => r[1]);
      expect(rows).toHaveLength(1);
      const [server, vendor, model, revision] = rows[0]!;
      expect([vendor, model, revision]).toEqual([IDENTITY.vendor, IDENTITY.model, IDENTITY.revision]);
      // tshark reads every PDU as MMS: 7 requests, 7 answers.
      expect(tsharkOn(packets, ['mms.invokeID'], MMS_CONTEXT).filter((r) => r[0]).length).toBe(14);

      const { devices, stats } = inventoryOf(packets);
      expect(stats.decodeErrors.mms).toBe(0);
      const ied = mustFindMac(devices, server!);
      expect([ied.manufacturer?.value, ied.model?.value, ied.firmwareVersion?.value]).toEqual([
        IDENTITY.vendor,
        IDENTITY.model,
        IDENTITY.revision,
      ]);
      expect([ied.category?.value, ied.type?.value]).toEqual(['ot', 'ied']);
      expect(ied.protocols).toContain('mms');
      const client = devices.find((d) => d !== ied && d.protocols.includes('mms'))!;
      expect(client.type?.value).toBe('scada-server');
    },
  );

  it('skips the cyclic reads as repeats, never the Identify answer, and gives the same inventory', async () => {
    const packets = await exchange();
    const skipping = inventoryOf(packets);
    // MMS, one key per direction and PDU kind: the six read requests repeat the Identify request's, the
    // last five read answers the first one's; the Identify answer is decoded (11). S7comm, on the same
    // port, reads no S7 PDU in any of them: after the first each way, its requests and answers repeat (12).
    expect(skipping.stats.repeats).toBe(11 + 12);
    expect(skipping.devices).toEqual(inventoryOf(packets, { skipRepeats: false }).devices);
  });

  it('counts damaged MMS as malformed and keeps going', async () => {
    const { fromServer } = connectionTo(await loadPackets(S7), 102);
    const good = identifyResponse(9);
    const cut = Buffer.from(good);
    cut[good.length - IDENTITY.revision.length - 1]! += 40; // the revision overruns its parent
    const pipeline = new Pipeline({ skipRepeats: false });
    pipeline.process(packetOf(withTcpPayload(fromServer.data, cut)));
    pipeline.process(packetOf(withTcpPayload(fromServer.data, good), 1_700_000_001_000));
    expect(pipeline.stats.decodeErrors.mms).toBe(1);
    expect(pipeline.stats.decoded.mms).toBe(1);
    expect(pipeline.store.toRecords().some((d) => d.model?.value === IDENTITY.model)).toBe(true);
  });

  it.each([S7, 'cisagov-icsnpp-s7comm__s7comm_plus.pcap', 'ndpi__s7comm-plus.pcap'])(
    'finds no MMS in S7comm on the same port (%s)',
    async (file) => {
      const { devices, pipeline } = await run(file);
      expect(pipeline.stats.decoded.mms ?? 0).toBeGreaterThan(0);
      expect(pipeline.stats.decodeErrors.mms).toBe(0);
      for (const d of devices) expect(d.protocols).not.toContain('mms');
    },
  );
});
