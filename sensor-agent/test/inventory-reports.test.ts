// Reporting a large inventory a chunk at a time (src/agent/inventory-reports.ts):
// whatever the split, a snapshot carries exactly the inventory toRecords
// gives; a delta carries every device whose record changed and no other;
// last-seen alone is a change only when it enters another window; and the
// event loop keeps turning while records are built. Messages go through the
// wire encoder and the schema check the aggregator applies.

import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { DeviceRecord } from '@hark/contracts/inventory';
import {
  decodeMessage,
  encodeInventoryMessage,
  type InventoryMessage,
  inventoryEnvelope,
} from '@hark/contracts/mqtt';
import { describe, expect, it } from 'vitest';
import { type InventoryOutput, InventoryReports } from '../src/agent/inventory-reports.js';
import { readCapture } from '../src/capture/index.js';
import { DeviceStore } from '../src/inventory/store.js';
import { Pipeline } from '../src/pipeline.js';
import { MISSING, pcap } from './support.js';

class Collector implements InventoryOutput {
  private seq = 0;
  readonly messages: InventoryMessage[] = [];
  readonly arrayBytes: number[] = [];

  reserveSeq(n: number): number {
    const first = this.seq;
    this.seq += n;
    return first;
  }

  async publishInventory(
    mode: 'snapshot' | 'delta',
    devicesJsonArray: Uint8Array,
    seq: number,
    part?: { part: number; parts: number },
  ): Promise<void> {
    const envelope = inventoryEnvelope({ mode, seq, runId: 'run', agentVersion: 'test', part });
    this.arrayBytes.push(devicesJsonArray.byteLength);
    this.messages.push(
      decodeMessage('inventory', encodeInventoryMessage(envelope, devicesJsonArray)) as InventoryMessage,
    );
  }

  take(): InventoryMessage[] {
    this.arrayBytes.length = 0;
    return this.messages.splice(0);
  }
}

const byId = (records: DeviceRecord[]) => new Map(records.map((r) => [r.id, r]));
const sorted = (records: DeviceRecord[]) => [...records].sort((a, b) => (a.id < b.id ? -1 : 1));

async function feed(pipeline: Pipeline, file: string): Promise<void> {
  for await (const p of readCapture(pcap(file))) pipeline.process(p);
}

describe.skipIf(MISSING)('inventory reports on real captures', () => {
  it('a snapshot in parts is the inventory; a delta is exactly what changed since', async () => {
    // Window 1 ms: every change of last-seen counts, so "changed" is plain record inequality.
    const pipeline = new Pipeline({ store: new DeviceStore({ lastSeenWindowMs: 1 }) });
    await feed(pipeline, 'cisagov-icsnpp-profinet-io-cm__profinet_io_cm_mixed_1.pcap');
    await feed(pipeline, 'iti__EIP-IPAddressChangeAttempt.pcap');
    const out = new Collector();
    const maxPartBytes = 4 * 1024;
    const reports = new InventoryReports(pipeline.store, out, { maxPartBytes, chunk: 7 });

    await reports.snapshot();
    const snapshot = out.messages.slice();
    const sizes = out.arrayBytes.slice();
    out.take();
    const inventory = pipeline.store.toRecords();
    expect(snapshot.length).toBeGreaterThan(2); // the limit did split it
    expect(sorted(snapshot.flatMap((m) => m.devices))).toEqual(inventory);
    snapshot.forEach((m, i) => {
      expect(m.mode).toBe('snapshot');
      expect(m.seq).toBe(snapshot[0]!.seq + i);
      expect([m.part, m.parts]).toEqual([i + 1, snapshot.length]);
      if (m.devices.length > 1) expect(sizes[i]).toBeLessThanOrEqual(maxPartBytes);
    });

    expect(await reports.delta()).toEqual({ examined: 0, sent: 0, messages: 0 });
    expect(out.take()).toEqual([]);

    // Another capture on the same site: new devices, and some known ones seen again.
    await feed(pipeline, 'iti__EIP-FirmwareChange.pcap');
    const after = pipeline.store.toRecords();
    const before = byId(inventory);
    const expected = after.filter((r) => JSON.stringify(before.get(r.id)) !== JSON.stringify(r));
    const outcome = await reports.delta();
    const delta = out.take();
    expect(delta.every((m) => m.mode === 'delta' && m.part === undefined)).toBe(true);
    expect(sorted(delta.flatMap((m) => m.devices))).toEqual(expected);
    expect(outcome.sent).toBe(expected.length);
    expect(expected.length).toBeGreaterThan(0);
    expect(expected.length).toBeLessThan(after.length); // some devices were not in the new capture
  });
});

describe('inventory reports', () => {
  const mac = 0x02_00_00_00_00_01;
  const t0 = Date.UTC(2026, 0, 1);
  const observe = (store: DeviceStore, ms: number, name: 'hostname' | 'model', value: string) =>
    store.observe({
      mac,
      ip: undefined,
      name,
      value,
      confidence: 0.8,
      protocol: 'dhcp',
      field: 'option12.hostname',
      timestampMs: ms,
    });

  /** `n` devices, each with a hostname. */
  const named = (store: DeviceStore, n: number) => {
    for (let i = 0; i < n; i++)
      store.observe({
        mac: mac + i,
        ip: undefined,
        name: 'hostname',
        value: `h${i}`,
        confidence: 0.8,
        protocol: 'dhcp',
        field: 'option12.hostname',
        timestampMs: t0,
      });
  };

  it('count last-seen as a change only when it enters another window', async () => {
    const store = new DeviceStore({ lastSeenWindowMs: 60_000 });
    const out = new Collector();
    const reports = new InventoryReports(store, out, { maxPartBytes: 1 << 20 });
    observe(store, t0, 'hostname', 'plc-1');
    await reports.snapshot();
    out.take();

    observe(store, t0 + 10_000, 'hostname', 'plc-1');
    expect((await reports.delta()).sent).toBe(0);

    observe(store, t0 + 20_000, 'model', 'X20');
    await reports.delta();
    expect(out.take().flatMap((m) => m.devices.map((d) => d.model?.value))).toEqual(['X20']);

    // Seen again in the next window: reported, with its new last-seen.
    observe(store, t0 + 70_000, 'hostname', 'plc-1');
    await reports.delta();
    expect(out.take().flatMap((m) => m.devices.map((d) => d.lastSeen))).toEqual([
      new Date(t0 + 70_000).toISOString(),
    ]);
  });

  it('compare every device on the first delta, then only the changed ones', async () => {
    const store = new DeviceStore();
    named(store, 50);
    const reports = new InventoryReports(store, new Collector(), { maxPartBytes: 1 << 20 });
    expect(await reports.delta()).toEqual({ examined: 50, sent: 50, messages: 1 });
    observe(store, t0, 'model', 'X20');
    expect(await reports.delta()).toEqual({ examined: 1, sent: 1, messages: 1 });
  });

  it('share a report already waiting to run instead of queueing another', async () => {
    const store = new DeviceStore();
    named(store, 10);
    let open!: () => void;
    const gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    const out = new Collector();
    // The broker is away: the first message of the first report waits.
    const reports = new InventoryReports(store, Object.assign(out, { ready: () => gate }), {
      maxPartBytes: 1 << 20,
    });
    const first = reports.snapshot();
    await new Promise((r) => setTimeout(r, 10));
    const queued = [reports.snapshot(), reports.snapshot(), reports.snapshot()];
    expect(new Set(queued).size).toBe(1);
    open();
    await Promise.all([first, ...queued]);
    expect(reports.totals.snapshot.reports).toBe(2);
    expect(out.messages.filter((m) => m.mode === 'snapshot')).toHaveLength(2);
  });

  it('let the event loop turn while records are built', async () => {
    const store = new DeviceStore();
    named(store, 200);
    const reports = new InventoryReports(store, new Collector(), { maxPartBytes: 1 << 20, chunk: 10 });
    let turns = 0;
    let done = false;
    const tick = () => {
      if (done) return;
      turns++;
      setImmediate(tick);
    };
    setImmediate(tick);
    await reports.snapshot();
    done = true;
    // Two passes over 200 devices in chunks of 10: at least one turn per chunk.
    expect(turns).toBeGreaterThanOrEqual(20);
  });

  it('give back the memory a large report took, when the runtime exposes a collection', async () => {
    // V8's own gc(), as --expose-gc (the image's flag) would expose it, watched for how it is asked.
    setFlagsFromString('--expose-gc');
    const v8Gc = runInNewContext('gc') as (options?: object) => void;
    const asked: object[] = [];
    const holder = globalThis as { gc?: unknown };
    const before = holder.gc;
    const store = new DeviceStore({ lastSeenWindowMs: 1 });
    named(store, 50);
    const reports = new InventoryReports(store, new Collector(), {
      maxPartBytes: 64 * 1024,
      releaseHeapAfter: 20,
    });
    try {
      holder.gc = (options?: object) => {
        asked.push(options ?? {});
        v8Gc(options);
      };
      await reports.snapshot(); // 50 records: at least 20
      expect(asked).toEqual([{ type: 'major', execution: 'sync', flavor: 'last-resort' }]);
      expect(reports.totals.snapshot.heapReleases).toBe(1);
      expect(reports.totals.snapshot.heapReleaseSeconds).toBeGreaterThan(0);

      for (let i = 0; i < 5; i++) observe(store, t0 + 1000 + i, 'model', `m${i}`);
      await reports.delta(); // 1 record: below the threshold
      expect(asked).toHaveLength(1);
      expect(reports.totals.delta.heapReleases).toBe(0);

      holder.gc = undefined; // node without --expose-gc: reports go on, nothing is asked
      const outcome = await reports.snapshot();
      expect(outcome.sent).toBe(50);
      expect(reports.totals.snapshot.heapReleases).toBe(1);
    } finally {
      holder.gc = before;
    }
  });
});
