// The write-ahead log's frames: payload bytes logged as received, read back
// exactly; logs written in the earlier JSON frame format still replay; a torn
// tail (never acknowledged) is ignored.
import { appendFileSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { Journal, writeStateText } from '../src/durability/journal.js';
import { silentLogger } from '../src/log.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'hark-journal-'));
  dirs.push(d);
  return d;
};

function jsonFrame(record: object): Buffer {
  const body = Buffer.from(JSON.stringify(record));
  const head = Buffer.alloc(8);
  head.writeUInt32BE(body.byteLength, 0);
  head.writeUInt32BE(crc32(body), 4);
  return Buffer.concat([head, body]);
}

describe('journal', () => {
  it('replays binary frames, earlier JSON frames, and stops at a torn tail', async () => {
    const dir = tempDir();
    appendFileSync(
      join(dir, 'wal-000000000001.log'),
      jsonFrame({ t: 'hark/v1/a.s/n/inventory', p: '{"old":1}', at: 5 }),
    );
    const { journal } = Journal.open<unknown>(dir, silentLogger);
    expect(journal.generation).toBe(2);
    const payload = Buffer.from('{"x":"é ✓"}');
    const gens: number[] = [];
    await new Promise<void>((resolve) => {
      journal.append({ t: 'hark/v1/a.s/n/inventory', payload, at: 42 }, (g) => gens.push(g));
      journal.append({ t: 'hark/v1/b.s/n/inventory', payload: payload.subarray(0, 8), at: 43 }, (g) => {
        gens.push(g);
        resolve();
      });
    });
    expect(gens).toEqual([2, 2]);
    await journal.close();
    // A torn frame after them: its write never completed, so it was never acknowledged.
    appendFileSync(join(dir, 'wal-000000000002.log'), Buffer.from([0, 0, 1, 0, 1, 2, 3]));

    const { journal: again, recovered } = Journal.open<unknown>(dir, silentLogger);
    expect(recovered.records).toEqual([
      { gen: 1, record: { t: 'hark/v1/a.s/n/inventory', p: '{"old":1}', at: 5 } },
      { gen: 2, record: { t: 'hark/v1/a.s/n/inventory', p: '{"x":"é ✓"}', at: 42 } },
      { gen: 2, record: { t: 'hark/v1/b.s/n/inventory', p: payload.subarray(0, 8).toString(), at: 43 } },
    ]);

    // Compaction: the state file replaces the covered generations.
    await again.compact(
      () => ({ n: 3 }),
      (state, { walGen, stateTmp }) => writeStateText(stateTmp, walGen, JSON.stringify(state)),
    );
    await again.close();
    expect(readdirSync(dir).sort()).toEqual(['state.json', 'wal-000000000004.log']);
    const reopened = Journal.open<{ n: number }>(dir, silentLogger);
    expect(reopened.recovered).toEqual({ state: { n: 3 }, records: [] });
    await reopened.journal.close();
  });
});
