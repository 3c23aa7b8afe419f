// The aggregator's ingest core, without a broker or an API: the message
// handler in front of the stores, with (given a data directory) the
// write-ahead log and its recovery, the Parquet history worker, flow control
// and compaction. startAggregator puts a broker client in front of it and the
// HTTP API beside it; the ingest benchmark (test/bench/ingest-passes.ts)
// hands it messages directly, so that what it counts is this and only this.
import { join } from 'node:path';
import type { Registry } from 'prom-client';
import type { AlertStore } from '../alerts/store.js';
import { Backpressure, DEFAULT_HELD_LIMIT_BYTES } from '../durability/backpressure.js';
import { HistoryClient } from '../durability/history-client.js';
import { Journal } from '../durability/journal.js';
import type { FleetRegistry } from '../fleet/registry.js';
import type { InventoryStore } from '../inventory/store.js';
import type { Logger } from '../log.js';
import type { SiteOwnership } from '../scale/shards.js';
import { type AggregatorState, MessageHandler } from './handler.js';
import { captureState, stateText } from './state-text.js';

export interface IngestCoreOptions {
  topicPrefix: string;
  inventory: InventoryStore;
  fleet: FleetRegistry;
  alerts: AlertStore;
  logger: Logger;
  registry?: Registry;
  /** Which sites this replica owns (scale-out); undefined: every site. */
  ownership?: SiteOwnership;
  /** Where the write-ahead log, the compacted state and the Parquet history live; without it, memory only. */
  dataDir?: string;
  /** Compaction: after this many journal records (default 50,000) or this often (default 60 s). */
  compaction?: { everyRecords?: number; intervalMs?: number };
  /** Payload bytes held between the broker and the history before reading pauses (default 64 MiB). */
  historyBacklogBytes?: number;
}

export interface IngestCore {
  handler: MessageHandler;
  /** Asked before each read from the broker (undefined without a data directory). */
  backpressure: Backpressure | undefined;
  /** Compacts the journal now and writes the Parquet history (no-op without a data directory). */
  compact(): Promise<void>;
  /** Compacts (a clean stop leaves a compacted state), then closes the log and the history worker. */
  close(): Promise<void>;
}

/** Opens the journal and the history (recovering what a previous run left) and wires the handler. */
export function openIngestCore(options: IngestCoreOptions): IngestCore {
  const { logger, registry, inventory, alerts } = options;
  let journal: Journal | undefined;
  let recovered: ReturnType<typeof Journal.open<AggregatorState>>['recovered'] | undefined;
  if (options.dataDir)
    ({ journal, recovered } = Journal.open<AggregatorState>(join(options.dataDir, 'wal'), logger));
  // Parquet history and the state file are written by a worker thread, off the ingest thread.
  const history = options.dataDir
    ? new HistoryClient(join(options.dataDir, 'history'), logger, registry)
    : undefined;
  const backpressure =
    journal && history
      ? new Backpressure(
          options.historyBacklogBytes ?? DEFAULT_HELD_LIMIT_BYTES,
          () => journal!.pendingBytes + history.pendingBytes,
          registry,
        )
      : undefined;
  if (history && backpressure) history.onWritten = () => backpressure.check();
  const handler = new MessageHandler({
    topicPrefix: options.topicPrefix,
    inventory,
    fleet: options.fleet,
    alerts,
    logger,
    ...(registry ? { registry } : {}),
    ...(journal && history ? { journal, history } : {}),
    ...(options.ownership ? { ownership: options.ownership } : {}),
  });
  if (recovered) {
    if (recovered.state) handler.importState(recovered.state);
    handler.replay(recovered.records);
    logger.info(
      { devices: inventory.size, alerts: alerts.size, replayed: recovered.records.length },
      'state recovered',
    );
  }

  let compacting: Promise<void> | undefined;
  const compact = (): Promise<void> => {
    if (!journal || !history) return Promise.resolve();
    compacting ??= journal
      .compact(
        // Synchronous, at a safe point: the state as of the covered generation.
        () => captureState(handler.exportState()),
        // The worker gets every row applied before the capture first (one ordered channel).
        async (captured, { walGen, covered, stateTmp }) => {
          const text = await stateText(captured);
          // A buffer of its own (not from the pool), to be transferred to the worker.
          const state = Buffer.allocUnsafeSlow(Buffer.byteLength(text));
          state.write(text);
          await history.compact({ covered, walGen, stateTmp, state, at: Date.now() });
        },
      )
      .catch((err) => logger.error({ err }, 'compaction failed'))
      .finally(() => {
        compacting = undefined;
      });
    return compacting;
  };
  const everyRecords = options.compaction?.everyRecords ?? 50_000;
  handler.onDurable = () => {
    if (journal && journal.uncompacted >= everyRecords && !compacting) void compact();
  };
  const compactTimer = setInterval(() => {
    if (journal && journal.uncompacted > 0) void compact();
  }, options.compaction?.intervalMs ?? 60_000);
  compactTimer.unref();

  let closing: Promise<void> | undefined;
  return {
    handler,
    backpressure,
    compact,
    close: () => {
      closing ??= (async () => {
        clearInterval(compactTimer);
        if (!journal) return;
        await compact();
        await journal.close();
        await history?.close();
        // Nothing more will be written: a paused ingest may go on to its own shutdown.
        backpressure?.release();
      })();
      return closing;
    },
  };
}
