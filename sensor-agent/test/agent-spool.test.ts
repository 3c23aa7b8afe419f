// The agent's disk spool: durable before publish, gone on ack, survives a
// restart, bounded with oldest-first dropping, tolerant of a torn tail.
import { appendFileSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Spool } from '../src/agent/spool.js';

const root = mkdtempSync(join(tmpdir(), 'hark-spool-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const fresh = () => join(root, `s${n++}`);

describe('agent disk spool', () => {
  it('keeps unacknowledged messages across a restart, in order, and forgets acknowledged ones', async () => {
    const dir = fresh();
    const a = Spool.open({ dir });
    const entries = await Promise.all(
      Array.from({ length: 10 }, (_, i) => a.append('inventory', 'delta', false, Buffer.from(`m${i}`))),
    );
    for (const e of entries.slice(0, 4)) a.ack(e.id);
    expect(a.depth).toBe(6);
    a.close();
    const b = Spool.open({ dir });
    expect([...b.pending()].map((e) => b.payload(e)!.toString())).toEqual([
      'm4',
      'm5',
      'm6',
      'm7',
      'm8',
      'm9',
    ]);
    const next = await b.append('heartbeat', 'control', false, Buffer.from('hb'));
    expect(next.id).toBeGreaterThan(entries[9]!.id);
    for (const e of [...b.pending()]) b.ack(e.id);
    b.close();
    const c = Spool.open({ dir });
    expect(c.depth).toBe(0);
    c.close();
  });

  it('gives back each payload from disk, across segments, until it is acknowledged', async () => {
    const dir = fresh();
    const spool = Spool.open({ dir, segmentBytes: 4096 });
    const payloads = Array.from({ length: 40 }, (_, i) => Buffer.alloc(100 + i * 37, i));
    const entries = [];
    for (const p of payloads) entries.push(await spool.append('inventory', 'snapshot', false, p));
    expect(new Set(entries.map((e) => e.segment)).size).toBeGreaterThan(3);
    // The first read may come from the newest payloads held in memory; a held payload is let go
    // once read, so the second comes from its segment file.
    for (let read = 0; read < 2; read++)
      for (const [i, e] of entries.entries()) expect(spool.payload(e)!.equals(payloads[i]!)).toBe(true);
    spool.ack(entries[0]!.id);
    expect(spool.payload(entries[0]!)).toBeUndefined();
    spool.close();
    const again = Spool.open({ dir });
    const pending = [...again.pending()];
    expect(pending.map((e) => again.payload(e)!.toString('hex'))).toEqual(
      payloads.slice(1).map((p) => p.toString('hex')),
    );
    again.close();
  });

  it('ignores a torn frame at the tail (a crash mid-write)', async () => {
    const dir = fresh();
    const a = Spool.open({ dir });
    await a.append('inventory', 'delta', false, Buffer.from('whole'));
    a.close();
    const seg = readdirSync(dir).find((f) => f.endsWith('.seg'))!;
    appendFileSync(join(dir, seg), Buffer.from([0, 0, 0, 50, 1, 2, 3, 4, 1, 2]));
    const b = Spool.open({ dir });
    expect([...b.pending()].map((e) => b.payload(e)!.toString())).toEqual(['whole']);
    b.close();
  });

  it('stays under maxBytes by dropping the oldest segment, counted by class', async () => {
    const dir = fresh();
    const drops: number[] = [];
    const spool = Spool.open({
      dir,
      maxBytes: 64 * 1024,
      segmentBytes: 8 * 1024,
      onDrop: (d) => drops.push(d.delta + d.snapshot + d.control),
    });
    const payload = Buffer.alloc(1000, 120);
    for (let i = 0; i < 200; i++)
      await spool.append('inventory', i % 10 ? 'delta' : 'snapshot', false, payload);
    expect(spool.bytes).toBeLessThanOrEqual(64 * 1024);
    expect(spool.dropped.delta + spool.dropped.snapshot).toBe(200 - spool.depth);
    expect(drops.reduce((a, b) => a + b, 0)).toBe(200 - spool.depth);
    // The newest survive.
    const ids = [...spool.pending()].map((e) => e.id);
    expect(ids.at(-1)).toBe(200);
    spool.close();
  });
});
