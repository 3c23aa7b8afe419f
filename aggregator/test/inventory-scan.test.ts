// The history reads inventory messages with a scanner instead of JSON.parse:
// on every message it accepts, it must find what JSON.parse finds (envelope
// fields, each device's id and lastSeen (as Date.parse reads it), each
// record's exact JSON), and it
// must decline (undefined, so the caller parses) where it cannot be sure.
import { encodeInventoryMessage, inventoryEnvelope } from '@hark/contracts/mqtt';
import { describe, expect, it } from 'vitest';
import { scanInventory } from '../src/durability/inventory-scan.js';

/** A small deterministic PRNG (mulberry32), so a failure is reproducible from its seed. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const nasty = [
  'plain',
  'quo"te',
  'back\\slash',
  'tab\there',
  'ünï©ødé ✓',
  '😀 emoji',
  '{"id":"x"}',
  '[]',
  '',
];

function text(r: () => number): string {
  return nasty[Math.floor(r() * nasty.length)]! + Math.floor(r() * 1000);
}

function shuffle<T>(r: () => number, entries: T[]): T[] {
  for (let i = entries.length - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [entries[i], entries[j]] = [entries[j]!, entries[i]!];
  }
  return entries;
}

/** RFC 3339 timestamps in the layouts the aggregator's schema accepts, common and not. */
function timestamp(r: () => number): string {
  const iso = new Date(1_700_000_000_000 + Math.floor(r() * 1e11)).toISOString(); // YYYY-MM-DDTHH:MM:SS.sssZ
  const day = `${iso.slice(0, 8)}${String(1 + Math.floor(r() * 31)).padStart(2, '0')}`; // Feb 31 too
  const time = iso.slice(10, 19);
  const fraction = `.${String(Math.floor(r() * 1e9))
    .padStart(9, '0')
    .slice(0, 1 + Math.floor(r() * 9))}`;
  const layouts = [
    iso,
    `${iso.slice(0, 19)}Z`,
    `${day}${time}${fraction}Z`,
    `${day}${time}Z`,
    `${iso.slice(0, 19)}+02:00`,
    `${iso.slice(0, 19)}.5-05:30`,
    iso.toLowerCase(),
    `0099${iso.slice(4)}`,
  ];
  return layouts[Math.floor(r() * layouts.length)]!;
}

function device(r: () => number): Record<string, unknown> {
  const seen = new Date(1_700_000_000_000 + Math.floor(r() * 1e9)).toISOString();
  const entries: [string, unknown][] = [
    ['id', `mac:${text(r)}`],
    ['macs', [text(r)]],
    ['ipv4', []],
    ['lastSeen', timestamp(r)],
    ['firstSeen', seen],
    // Nested objects with keys named like the ones read at the device's level.
    ['hostname', { value: text(r), confidence: 0.5, evidence: [{ id: 'nested', lastSeen: 'no', seen }] }],
    ['protocols', ['dhcp', { id: 'not-a-device' }]],
  ];
  return Object.fromEntries(shuffle(r, entries));
}

function message(r: () => number): Record<string, unknown> {
  const entries: [string, unknown][] = [
    ['schema', 1],
    ['sentAt', new Date(0).toISOString()],
    ['kind', 'inventory'],
    ['mode', r() < 0.5 ? 'delta' : 'snapshot'],
    ['seq', Math.floor(r() * 1e6)],
    ['runId', text(r)],
    ['devices', Array.from({ length: Math.floor(r() * 5) }, () => device(r))],
    ['agentVersion', text(r)],
  ];
  if (r() < 0.5) entries.push(['zone', text(r)]);
  if (r() < 0.3) entries.push(['part', 1], ['parts', 2]);
  return Object.fromEntries(shuffle(r, entries));
}

describe('inventory scanner', () => {
  it('finds what JSON.parse finds, compact or pretty-printed, with escapes and unicode', () => {
    for (let seed = 1; seed <= 500; seed++) {
      const r = random(seed);
      const m = message(r);
      const json = Buffer.from(
        seed % 3 === 0 ? JSON.stringify(m, null, seed % 2 ? 2 : '\t') : JSON.stringify(m),
      );
      const scanned = scanInventory(json);
      expect(scanned, `seed ${seed}`).toBeDefined();
      const parsed = JSON.parse(json.toString('utf8')) as {
        runId: string;
        seq: number;
        mode: string;
        zone?: string;
        devices: { id: string; lastSeen: string }[];
      };
      expect({ runId: scanned!.runId, seq: scanned!.seq, mode: scanned!.mode, zone: scanned!.zone }).toEqual({
        runId: parsed.runId,
        seq: parsed.seq,
        mode: parsed.mode,
        zone: parsed.zone,
      });
      expect(scanned!.devices.map((d) => [d.id, d.lastSeenMs])).toEqual(
        parsed.devices.map((d) => [d.id, Date.parse(d.lastSeen)]),
      );
      for (const d of scanned!.devices) expect(d.lastSeenMs, `seed ${seed}`).not.toBeNaN();
      for (const [i, d] of scanned!.devices.entries()) {
        expect(JSON.parse(json.toString('utf8', d.start, d.end))).toEqual(parsed.devices[i]);
      }
    }
  });

  it('slices exactly the records the agent encoded', () => {
    const devices = [
      { id: 'mac:02:00:00:00:00:01', lastSeen: '2026-01-01T00:00:00.000Z', hostname: { value: 'a"b' } },
      { id: 'mac:02:00:00:00:00:02', lastSeen: '2026-01-01T00:00:01.000Z' },
    ];
    const json = encodeInventoryMessage(
      inventoryEnvelope({ mode: 'delta', seq: 7, runId: 'run-1', agentVersion: 'test', zone: 'line-1' }),
      Buffer.from(JSON.stringify(devices)),
    );
    const scanned = scanInventory(json)!;
    expect(scanned).toMatchObject({ runId: 'run-1', seq: 7, mode: 'delta', zone: 'line-1' });
    expect(scanned.devices.map((d) => json.toString('utf8', d.start, d.end))).toEqual(
      devices.map((d) => JSON.stringify(d)),
    );
  });

  it('declines, for JSON.parse to read, what it cannot be sure of', () => {
    const base = { schema: 1, kind: 'inventory', mode: 'delta', seq: 1, runId: 'r' };
    const cases = {
      'a key spelled with an escape': '{"schema":1,"mode":"delta","seq":1,"r\\u0075nId":"r","devices":[]}',
      'two device arrays': JSON.stringify(base).replace('}', ',"devices":[],"devices":[]}'),
      'a device without lastSeen': JSON.stringify({ ...base, devices: [{ id: 'mac:1' }] }),
      'no runId': JSON.stringify({ ...base, runId: undefined, devices: [] }),
      'a string that never ends': '{"runId":"r',
    };
    for (const [what, json] of Object.entries(cases)) {
      expect(scanInventory(Buffer.from(json)), what).toBeUndefined();
    }
  });
});
