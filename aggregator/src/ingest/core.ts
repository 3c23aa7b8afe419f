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
  /**
   * The Parquet history's upkeep: days kept (default 30; 0 keeps everything),
   * and how often a compaction also writes an inventory snapshot (default an
   * hour; the first compaction after start and a clean stop always do).
   */
  history?: { retentionDays?: number; snapshotIntervalMs?: number };
}

export const HISTORY_DEFAULTS = { retentionDays: 30, snapshotIntervalMs: 3_600_000 } as const;

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

  const retentionDays = options.history?.retentionDays ?? HISTORY_DEFAULTS.retentionDays;
  const snapshotIntervalMs = options.history?.snapshotIntervalMs ?? HISTORY_DEFAULTS.snapshotIntervalMs;
  // A snapshot of the whole inventory per compaction (a minute) would be most of the history's bytes
  // at a large site: one an interval, as the inventory stood then; the observation log has the rest.
  let lastSnapshotAt: number | undefined;
  let compacting: Promise<void> | undefined;
  const compact = (final = false): Promise<void> => {
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
          const at = Date.now();
          const snapshot = final || lastSnapshotAt === undefined || at - lastSnapshotAt >= snapshotIntervalMs;
          await history.compact({
            covered,
            walGen,
            stateTmp,
            state,
            at,
            snapshot,
            ...(retentionDays > 0 ? { retainFrom: at - retentionDays * 86_400_000 } : {}),
          });
          if (snapshot) lastSnapshotAt = at;
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
    compact: () => compact(),
    close: () => {
      closing ??= (async () => {
        clearInterval(compactTimer);
        if (!journal) return;
        // One under way finishes first; then the last, which always writes a snapshot.
        await compacting;
        await compact(true);
        await journal.close();
        await history?.close();
        // Nothing more will be written: a paused ingest may go on to its own shutdown.
        backpressure?.release();
      })();
      return closing;
    },
  };
}
