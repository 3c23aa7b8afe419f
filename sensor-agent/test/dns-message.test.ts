// Our DNS message reader (src/decoders/dns-message.ts) against dns-packet,
// the library the mDNS decoder used before, on every mDNS message of the
// shared captures and on damaged copies of them.
import dnsPacket from 'dns-packet';
import { describe, expect, it } from 'vitest';
import { readCapture } from '../src/capture/index.js';
import { type DnsRecord, readDnsMessage } from '../src/decoders/dns-message.js';
import { PacketView, ParseResult, parsePacket } from '../src/packet/index.js';
import { MISSING, manifest, pcap } from './support.js';

const READ_TYPES = new Set(['A', 'AAAA', 'PTR', 'SRV', 'TXT']);

/** An IPv6 address in the WHATWG URL parser's canonical text (RFC 5952's: the longest zero run shortened). */
const canonicalIp6 = (ip: string): string => new URL(`http://[${ip}]/`).hostname.slice(1, -1);

/** What dns-packet decodes of the records read here, in the reader's shape. */
function expected(records: dnsPacket.Answer[] | undefined): DnsRecord[] {
  return (records ?? [])
    .filter((r) => READ_TYPES.has(r.type))
    .map((r) => {
      // The types read here all carry data (OPT, the one Answer without, is filtered out above).
      const raw = (r as { data: unknown }).data;
      const data = r.type === 'AAAA' ? canonicalIp6(raw as string) : raw;
      return { type: r.type, name: r.name, data } as DnsRecord;
    });
}

/** Every mDNS payload (UDP 5353) of the shared captures. */
async function mdnsPayloads(): Promise<Buffer[]> {
  const out: Buffer[] = [];
  const v = new PacketView();
  for (const { file } of manifest()) {
    for await (const p of readCapture(pcap(file))) {
      v.reset(p.data, p.linkType, p.interfaceId, p.timestampMs);
      if (parsePacket(v) !== ParseResult.OK || v.ipProto !== 17) continue;
      if (v.srcPort !== 5353 && v.dstPort !== 5353) continue;
      out.push(Buffer.from(p.data.subarray(v.payloadOffset, v.payloadEnd)));
    }
  }
  return out;
}

describe.skipIf(MISSING)('the DNS message reader', () => {
  it('reads every mDNS message of the shared captures as dns-packet does', async () => {
    const payloads = await mdnsPayloads();
    const types = new Map<string, number>();
    for (const payload of payloads) {
      const theirs = dnsPacket.decode(payload);
      // Placed mid-buffer: offsets and compression pointers count from the message's start.
      const padded = Buffer.concat([Buffer.from('padding!'), payload, Buffer.from('trailer')]);
      const ours = readDnsMessage(padded, 8, 8 + payload.length);
      expect(ours.isResponse).toBe(theirs.type === 'response');
      const canonical = (list: DnsRecord[]) =>
        list.map((r) => (r.type === 'AAAA' ? { ...r, data: canonicalIp6(r.data) } : r));
      expect(canonical(ours.answers)).toEqual(expected(theirs.answers));
      expect(canonical(ours.authorities)).toEqual(expected(theirs.authorities));
      expect(canonical(ours.additionals)).toEqual(expected(theirs.additionals));
      for (const r of [...ours.answers, ...ours.authorities, ...ours.additionals])
        types.set(r.type, (types.get(r.type) ?? 0) + 1);
    }
    // Enough of every kind that the comparison says something.
    expect(payloads.length).toBeGreaterThan(300);
    for (const type of READ_TYPES) expect(types.get(type) ?? 0, type).toBeGreaterThan(10);
  });

  it('throws only RangeError on damaged messages', async () => {
    const payloads = await mdnsPayloads();
    let rejected = 0;
    let read = 0;
    let seed = 1;
    const random = () => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed / 2 ** 32;
    };
    for (const payload of payloads) {
      for (let k = 0; k < 20; k++) {
        // Cut short at a random length, or three random bytes changed.
        const damaged =
          k % 2 === 0
            ? Buffer.from(payload.subarray(0, Math.floor(random() * payload.length)))
            : Buffer.from(payload);
        if (k % 2 === 1)
          for (let m = 0; m < 3; m++)
            damaged[Math.floor(random() * damaged.length)] = Math.floor(random() * 256);
        try {
          readDnsMessage(damaged, 0, damaged.length);
          read++;
        } catch (error) {
          expect(error).toBeInstanceOf(RangeError);
          rejected++;
        }
      }
    }
    // Both outcomes occur: the damage is not all in bytes nobody reads, nor all fatal.
    expect(rejected).toBeGreaterThan(1000);
    expect(read).toBeGreaterThan(100);
  });

  it('rejects a compression pointer that does not point back, rather than looping', () => {
    // A response with one A record whose owner name points at itself.
    const message = Buffer.from([
      0, 0, 0x84, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 120, 0, 4, 10, 0, 0, 1,
    ]);
    expect(() => readDnsMessage(message, 0, message.length)).toThrow(/does not point back/);
  });
});
