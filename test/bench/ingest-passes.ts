// Runs the mqtt-throughput benchmark's inventory messages through the
// aggregator's ingest core, without a broker: schema check, de-duplication,
// the write-ahead log fsynced before a message counts as applied, the merge
// into the inventory, alerts, and the Parquet history worker. The workload
// hack/instructions.sh counts instructions of (callgrind), as the difference
// between a run that hands over N messages and one that prepares the same N
// and hands over none (`--none`), after the same warm-up; both end with the
// clean stop's compaction, so every row is in Parquet when the count ends.
// The warm-up sends each sensor's whole pool once, so the measured messages
// are updates of known devices: a site's steady state.
//
//   node test/dist/bench/ingest-passes.js <messages> [--none]
//   hack/instructions.sh ingest [messages]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AlertStore, FleetRegistry, InventoryStore, openIngestCore } from '@hark/aggregator';
import { encodeInventoryMessage, inventoryEnvelope, topicFor } from '@hark/contracts/mqtt';
import pino from 'pino';
import { batchesFor, DEVICES_PER_MESSAGE, POOL_PER_SENSOR, SENSORS } from './inventory-traffic.js';

/** Every device of a sensor's pool once: the measured messages then update known devices. */
const WARM_UP_PER_SENSOR = POOL_PER_SENSOR / DEVICES_PER_MESSAGE;
/** Messages handed over per turn of the event loop, as a broker's in-flight window delivers them. */
const PER_TURN = 16;

const messages = Number(process.argv[2]);
const none = process.argv[3] === '--none';
if (!Number.isInteger(messages) || messages < 0 || messages % SENSORS.length !== 0) {
  console.error(
    `usage: node test/dist/bench/ingest-passes.js <messages (a whole number, a multiple of ${SENSORS.length})> [--none]`,
  );
  process.exit(2);
}

/** The run's messages, sensor by sensor in turn, their seqs continuing from the warm-up's. */
function traffic(from: number, count: number): { topic: string; payload: Buffer }[] {
  const perSensor = SENSORS.map((_, i) => batchesFor(i, from + count, false, 1_700_000_000_000).slice(from));
  const out: { topic: string; payload: Buffer }[] = [];
  for (let m = 0; m < count; m++) {
    for (const [i, s] of SENSORS.entries()) {
      const envelope = inventoryEnvelope({
        mode: 'delta',
        seq: from + m,
        runId: 'r1',
        agentVersion: 'bench',
      });
      out.push({
        topic: topicFor('hark', { ...s, node: 'edge-1' }, 'inventory'),
        payload: encodeInventoryMessage(envelope, JSON.stringify(perSensor[i]![m])),
      });
    }
  }
  return out;
}

const warmUp = traffic(0, WARM_UP_PER_SENSOR);
const measured = traffic(WARM_UP_PER_SENSOR, messages / SENSORS.length);
const dataDir = mkdtempSync(join(tmpdir(), 'hark-ingest-passes-'));
const logger = pino({ level: 'silent' });
const inventory = new InventoryStore();
const alerts = new AlertStore({ learningMs: 0, logger });
const core = openIngestCore({
  topicPrefix: 'hark',
  inventory,
  fleet: new FleetRegistry({ staleAfterMs: 90_000 }),
  alerts,
  logger,
  dataDir,
  // Only the clean stop's compaction: under callgrind a run lasts minutes, and a timed one would
  // be counted as often as the wall clock allowed.
  compaction: { everyRecords: Number.MAX_SAFE_INTEGER, intervalMs: 2 ** 31 - 1 },
});

/** Hands the messages over as the broker client does (waiting at the flow-control gate) until all are applied. */
async function feed(batch: { topic: string; payload: Buffer }[]): Promise<void> {
  let applied = 0;
  await new Promise<void>((resolve) => {
    if (batch.length === 0) resolve();
    let next = 0;
    const turn = async () => {
      for (let k = 0; k < PER_TURN && next < batch.length; k++, next++) {
        const { topic, payload } = batch[next]!;
        core.handler.receive(topic, payload, false, () => {
          if (++applied === batch.length) resolve();
        });
        const wait = core.backpressure?.gate();
        if (wait) await wait;
      }
      if (next < batch.length) setImmediate(turn);
    };
    void turn();
  });
}

try {
  await feed(warmUp);
  // Full collections at both ends of the measured messages (with --expose-gc), in both runs: a heap
  // of 40,000 devices takes ~10^8 instructions to mark, and where the collections fell was most of
  // the spread between counts of one tree.
  globalThis.gc?.();
  if (!none) await feed(measured);
  globalThis.gc?.();
  await core.close();
  // What the caller divides by, and what shows the run did what it says.
  console.log(
    JSON.stringify({
      unit: 'observation',
      units: none ? 0 : measured.length * DEVICES_PER_MESSAGE,
      messages: none ? 0 : measured.length,
      devices: inventory.size,
      alerts: alerts.size,
    }),
  );
} finally {
  rmSync(dataDir, { recursive: true, force: true });
}
