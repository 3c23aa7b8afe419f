// The history worker: a worker thread that owns the Parquet history and
// writes the journal's state file at compaction, so neither the shredding
// and encoding of Parquet nor the writing of the state runs on the ingest
// thread. It receives, in order:
//   { type: 'rows', items }   applied inventory messages (history.ts)
//   { type: 'compact', ... }  close the files of generations <= covered,
//                             write the inventory snapshot (when asked), the
//                             state file, and remove partitions past retention
//   { type: 'abandon' }       drop unfinished files (clean stop)
// and answers 'done' (with the bytes of rows written) or 'failed'.
import { parentPort, workerData } from 'node:worker_threads';
import { InventoryStore } from '../inventory/store.js';
import { type HistoryBatch, HistoryWriter } from './history.js';
import { writeStateText } from './journal.js';

export type ToWorker =
  | { type: 'rows'; batch: HistoryBatch }
  | {
      type: 'compact';
      id: number;
      covered: number;
      at: number;
      walGen: number;
      stateTmp: string;
      /** Write an inventory snapshot with this compaction (snapshots are taken less often than compactions). */
      snapshot: boolean;
      /** Retention: remove the history's date partitions of days before this one (ms); none if undefined. */
      retainFrom?: number;
      /**
       * The aggregator's state (AggregatorState) as UTF-8 JSON (ingest/state-text.ts), in a
       * buffer of its own to transfer: written to the state file as it is; its `inventory`
       * also gives the snapshot files.
       */
      state: Uint8Array;
    }
  | { type: 'abandon'; id: number };

export type FromWorker =
  | { type: 'written'; bytes: number }
  | { type: 'done'; id: number; pruned?: number; pruneError?: string }
  | { type: 'failed'; id: number | undefined; message: string };

const port = parentPort;
if (port) {
  const writer = new HistoryWriter((workerData as { dir: string }).dir);
  // One message at a time, in arrival order: a compaction sees every row sent before it.
  let chain = Promise.resolve();
  port.on('message', (message: ToWorker) => {
    chain = chain.then(async () => {
      try {
        switch (message.type) {
          case 'rows':
            for (const { offset, length, ...item } of message.batch.items) {
              await writer.observe({
                ...item,
                payload: message.batch.data.subarray(offset, offset + length),
              });
            }
            port.postMessage({ type: 'written', bytes: message.batch.data.byteLength } satisfies FromWorker);
            return;
          case 'compact': {
            await writer.finish(message.covered);
            const stateText = Buffer.from(
              message.state.buffer,
              message.state.byteOffset,
              message.state.byteLength,
            ).toString();
            if (message.snapshot) {
              const state = JSON.parse(stateText) as {
                inventory: Parameters<InventoryStore['importState']>[0];
              };
              const inventory = new InventoryStore();
              inventory.importState(state.inventory);
              await writer.writeInventory(inventory.all(), message.covered, message.at);
            }
            await writeStateText(message.stateTmp, message.walGen, stateText);
            // Retention is upkeep: a partition that cannot be removed now is tried again at the next
            // compaction, and never holds this one (and the WAL it frees) back.
            let pruned = 0;
            let pruneError: string | undefined;
            if (message.retainFrom !== undefined)
              pruned = await writer.prune(message.retainFrom).catch((err: Error) => {
                pruneError = err.message;
                return 0;
              });
            port.postMessage({
              type: 'done',
              id: message.id,
              pruned,
              ...(pruneError ? { pruneError } : {}),
            } satisfies FromWorker);
            return;
          }
          case 'abandon':
            await writer.abandon();
            port.postMessage({ type: 'done', id: message.id } satisfies FromWorker);
            return;
        }
      } catch (err) {
        port.postMessage({
          type: 'failed',
          id: 'id' in message ? message.id : undefined,
          message: (err as Error).message,
        } satisfies FromWorker);
      }
    });
  });
}
