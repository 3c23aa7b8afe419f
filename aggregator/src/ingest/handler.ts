// Turns one MQTT message into a state change, or a counted, logged rejection.
// Nothing a sensor sends may crash the aggregator: every failure path ends in
// the rejected counter with a reason an operator can alert on.
import {
  decodeMessage,
  type HeartbeatMessage,
  type InventoryMessage,
  MAX_MESSAGE_BYTES,
  MessageRejected,
  parseTopic,
  type StatusMessage,
} from '@hark/contracts/mqtt';
import { Counter, type Registry } from 'prom-client';
import type { Acknowledgement, Alert, AlertState, AlertStore } from '../alerts/store.js';
import type { Journal, JournalRecord } from '../durability/journal.js';
import type { FleetRegistry, StoredNode } from '../fleet/registry.js';
import type { InventoryStore, StoredDevice } from '../inventory/store.js';
import type { Logger } from '../log.js';
import type { SiteOwnership } from '../scale/shards.js';

export type RejectReason =
  | MessageRejected['reason']
  /** Not a hark topic, or its identity segment is not "<site>.<sensor>". */
  | 'topic'
  /** A retained inventory/heartbeat replayed on subscribe: stale by definition. */
  | 'retained'
  /** A bug on our side while applying a valid message. */
  | 'internal';

/**
 * The journal's topic for an alert acknowledgement (the API's, not a
 * sensor's): MQTT reserves topics that begin with "$" for the broker, so no
 * sensor message can be logged under it.
 */
export const ALERT_ACKNOWLEDGEMENT_RECORD = '$hark/alert-acknowledgement';

export interface MessageHandlerOptions {
  topicPrefix: string;
  inventory: InventoryStore;
  fleet: FleetRegistry;
  logger: Logger;
  registry?: Registry;
  /** With a journal, an inventory message is applied and acknowledged only once it is durable. */
  journal?: Journal;
  /**
   * Scale-out: which sites this replica owns (scale/shards.ts). Messages of
   * other sites are acknowledged and dropped unread (counted as skipped):
   * another replica owns them, so all of a site's messages merge, and
   * de-duplicate, in one place. Undefined: every site.
   */
  ownership?: SiteOwnership;
  /** Where applied messages go for the Parquet history (the history worker). */
  history?: HistorySink;
  /** Raises alerts from the records applied. */
  alerts?: AlertStore;
}

/** What the journal's compacted state holds. */
export interface AggregatorState {
  inventory: StoredDevice[];
  dedup: [string, number, number[]][];
  /** Parts of multi-part snapshots still waiting for their siblings (already acknowledged). */
  partial: { gen: number; record: JournalRecord }[];
  /** Absent in the state of an aggregator older than alerts: every sensor node learns anew. */
  alerts?: AlertState;
  /** Absent in the state of an older aggregator: a sensor is listed again at its next heartbeat or status. */
  fleet?: StoredNode[];
}

type Origin = { site: string; sensor: string; node: string };

export interface HistorySink {
  observe(gen: number, origin: Origin, receivedAt: number, payload: Uint8Array): void;
}

/**
 * Which (sender, runId, seq) were applied: per run, every seq below `floor`
 * plus the set above it. Agents send in order through a bounded window, so
 * the set stays small. The oldest runs are forgotten past a bound.
 */
class SeenSeqs {
  private readonly runs = new Map<string, { floor: number; above: Set<number> }>();
  constructor(private readonly maxRuns = 100_000) {}

  has(run: string, seq: number): boolean {
    const r = this.runs.get(run);
    return !!r && (seq < r.floor || r.above.has(seq));
  }

  add(run: string, seq: number): void {
    let r = this.runs.get(run);
    if (!r) {
      r = { floor: 0, above: new Set() };
      this.runs.set(run, r);
      if (this.runs.size > this.maxRuns) this.runs.delete(this.runs.keys().next().value!);
    }
    if (seq < r.floor) return;
    r.above.add(seq);
    while (r.above.delete(r.floor)) r.floor++;
  }

  export(): [string, number, number[]][] {
    return [...this.runs].map(([run, r]) => [run, r.floor, [...r.above]]);
  }

  import(rows: [string, number, number[]][]): void {
    for (const [run, floor, above] of rows) this.runs.set(run, { floor, above: new Set(above) });
  }
}

/** At most this many rejection log lines per reason per minute; the counter still counts all. */
const LOG_BUDGET_PER_MINUTE = 10;

export class MessageHandler {
  private readonly accepted: Counter<'kind'>;
  private readonly rejected: Counter<'reason'>;
  private readonly devicesApplied: Counter<'outcome'>;
  private readonly duplicates: Counter;
  private readonly observations: Counter;
  private readonly skipped: Counter;
  private readonly ownership: SiteOwnership | undefined;
  private readonly logWindows = new Map<string, { start: number; count: number }>();
  private readonly log: Logger;
  /** Applied (durable) messages, by sender and run. */
  private readonly seen = new SeenSeqs();
  /** Accepted messages waiting for their journal write. */
  private readonly pending = new Set<string>();
  private readonly partial = new Map<string, { gen: number; record: JournalRecord; part: number }[]>();
  /**
   * Per sender, the latest multi-part snapshot (its partial key, run and
   * first seq), kept after it completes. An agent sends a snapshot's parts
   * before anything of the next one, so when another one starts, an
   * incomplete earlier one (cut off by a stop, a crash or a part that
   * outgrew the limit) will never complete: it is dropped rather than held,
   * with its payloads, forever; and so is any late part of an earlier one.
   */
  private readonly assembling = new Map<string, { key: string; run: string; first: number }>();
  private readonly abandoned: Counter;
  /** Called after each durable inventory message (the aggregator schedules compaction). */
  onDurable: (() => void) | undefined;

  constructor(private readonly options: MessageHandlerOptions) {
    const registers = options.registry ? [options.registry] : [];
    this.log = options.logger.child({ module: 'ingest' });
    this.accepted = new Counter({
      name: 'hark_aggregator_messages_total',
      help: 'Messages from sensors accepted, by kind',
      labelNames: ['kind'] as const,
      registers,
    });
    this.rejected = new Counter({
      name: 'hark_aggregator_messages_rejected_total',
      help: 'Messages from sensors rejected, by reason',
      labelNames: ['reason'] as const,
      registers,
    });
    this.devicesApplied = new Counter({
      name: 'hark_aggregator_device_records_total',
      help: 'Device records applied to the inventory, by outcome (created, updated, ignored as older)',
      labelNames: ['outcome'] as const,
      registers,
    });
    this.duplicates = new Counter({
      name: 'hark_aggregator_inventory_duplicates_total',
      help: 'Inventory messages dropped because their (runId, seq) was already applied (QoS 1 redelivery, agent re-send)',
      registers,
    });
    this.observations = new Counter({
      name: 'hark_aggregator_observations_total',
      help: 'Device records applied from inventory messages; each (runId, seq) is applied exactly once',
      registers,
    });
    this.abandoned = new Counter({
      name: 'hark_aggregator_snapshots_abandoned_total',
      help: 'Multi-part snapshots dropped incomplete because the sender started another one (their late parts too)',
      registers,
    });
    this.skipped = new Counter({
      name: 'hark_aggregator_messages_skipped_total',
      help: 'Messages acknowledged and dropped because their site belongs to another aggregator replica (--shards)',
      registers,
    });
    this.ownership = options.ownership;
    // Pre-create the series so dashboards and alerts see zeros rather than gaps.
    for (const reason of [
      'version',
      'oversized',
      'not-json',
      'schema',
      'kind-mismatch',
      'topic',
      'retained',
      'internal',
    ]) {
      this.rejected.inc({ reason }, 0);
    }
  }

  /** Handles a message with nothing to acknowledge (tests, the journal-less mode). */
  handle(topic: string, payload: Uint8Array, retained = false): void {
    this.receive(topic, payload, retained, () => undefined);
  }

  /**
   * Handles one message; `ack` (the PUBACK) runs once the broker may forget it:
   * at once for rejections, duplicates, heartbeats and status, and for an
   * inventory message once its journal record is fsynced.
   */
  receive(topic: string, payload: Uint8Array, retained: boolean, ack: () => void): void {
    try {
      this.process(topic, payload, retained, ack);
    } catch (err) {
      this.reject('internal', topic, (err as Error).message);
      ack();
    }
  }

  /**
   * Acknowledges an alert (the API's POST), durably: with a journal it is
   * logged first and applied once fsynced, so a restart, a replay or a
   * compaction keeps it. Undefined when no such alert is held here.
   */
  acknowledgeAlert(id: string, acknowledgement: Acknowledgement): Promise<Alert | undefined> {
    const alerts = this.options.alerts;
    if (!alerts?.get(id)) return Promise.resolve(undefined);
    const journal = this.options.journal;
    if (!journal) return Promise.resolve(alerts.acknowledge(id, acknowledgement));
    const payload = Buffer.from(JSON.stringify({ id, ...acknowledgement }));
    return new Promise((resolve) =>
      journal.append({ t: ALERT_ACKNOWLEDGEMENT_RECORD, payload, at: Date.now() }, () => {
        resolve(alerts.acknowledge(id, acknowledgement));
        this.onDurable?.();
      }),
    );
  }

  /** Re-applies journal records at start (they were acknowledged before the restart). */
  replay(records: { gen: number; record: JournalRecord }[]): void {
    const alerts = this.options.alerts;
    if (alerts) alerts.replaying = true;
    try {
      this.replayRecords(records);
    } finally {
      if (alerts) alerts.replaying = false;
    }
  }

  private replayRecords(records: { gen: number; record: JournalRecord }[]): void {
    for (const { gen, record } of records) {
      if (record.t === ALERT_ACKNOWLEDGEMENT_RECORD) {
        this.replayAcknowledgement(record);
        continue;
      }
      const origin = parseTopic(this.options.topicPrefix, record.t);
      if (origin?.kind !== 'inventory') continue;
      // A site given up since (the shards were re-counted): its owner has it now.
      if (this.ownership && !this.ownership.owns(origin.site)) continue;
      try {
        const payload = Buffer.from(record.p);
        const message = decodeMessage('inventory', payload) as InventoryMessage;
        this.applyInventory(origin, message, gen, record.at, record.t, payload);
      } catch (err) {
        this.log.error({ err: (err as Error).message, topic: record.t }, 'journal record not replayable');
      }
    }
  }

  private replayAcknowledgement(record: JournalRecord): void {
    try {
      const { id, at, by, comment } = JSON.parse(record.p) as { id: string } & Acknowledgement;
      // An alert dropped since (the bound) or owned by another shard now is simply not here.
      this.options.alerts?.acknowledge(id, { at, by, ...(comment !== undefined ? { comment } : {}) });
    } catch (err) {
      this.log.error(
        { err: (err as Error).message },
        'journal record not replayable: an alert acknowledgement',
      );
    }
  }

  exportState(): AggregatorState {
    return {
      inventory: this.options.inventory.exportState(),
      dedup: this.seen.export(),
      partial: [...this.partial.values()].flat().map(({ gen, record }) => ({ gen, record })),
      ...(this.options.alerts ? { alerts: this.options.alerts.exportState() } : {}),
      fleet: this.options.fleet.exportState(),
    };
  }

  importState(state: AggregatorState): void {
    const owned = this.ownership;
    // Sites given up since the state was written (the shards were re-counted) are dropped: their
    // owner has them now, and a copy here would show every such device twice in a fanned-out query.
    this.options.inventory.importState(
      owned ? state.inventory.filter((d) => owned.owns(d.site)) : state.inventory,
    );
    this.seen.import(owned ? state.dedup.filter(([run]) => owned.owns(siteOfRunKey(run))) : state.dedup);
    const owns = owned && ((site: string) => owned.owns(site));
    this.options.alerts?.importState(state.alerts, owns);
    this.options.fleet.importState(state.fleet, owns);
    // Partial snapshots are re-assembled from their records (seen marks already cover them).
    this.replay(state.partial);
  }

  private process(topic: string, payload: Uint8Array, retained: boolean, ack: () => void): void {
    const done = ack;
    const origin = parseTopic(this.options.topicPrefix, topic);
    if (!origin) {
      this.reject('topic', topic, 'not a sensor topic of this prefix');
      done();
      return;
    }
    if (this.ownership && !this.ownership.owns(origin.site)) {
      this.skipped.inc();
      done();
      return;
    }
    if (retained && origin.kind !== 'status') {
      this.reject('retained', topic, `retained ${origin.kind} message`);
      done();
      return;
    }
    // Checked again here (decodeMessage does too) so the intent is visible:
    // an external broker may be configured with a larger packet limit.
    if (payload.byteLength > MAX_MESSAGE_BYTES) {
      this.reject('oversized', topic, `${payload.byteLength} bytes`);
      done();
      return;
    }
    let message: ReturnType<typeof decodeMessage>;
    try {
      message = decodeMessage(origin.kind, payload);
    } catch (err) {
      if (err instanceof MessageRejected) this.reject(err.reason, topic, err.message);
      else this.reject('internal', topic, (err as Error).message);
      done();
      return;
    }
    switch (message.kind) {
      case 'inventory': {
        const run = runKey(origin, message.runId);
        const id = `${run}#${message.seq}`;
        if (this.seen.has(run, message.seq) || this.pending.has(id)) {
          this.duplicates.inc();
          done();
          return;
        }
        this.accepted.inc({ kind: message.kind });
        const at = Date.now();
        const journal = this.options.journal;
        if (!journal) {
          this.applyInventory(origin, message, 0, at, topic, payload);
          done();
          return;
        }
        this.pending.add(id);
        // The payload's bytes go to the log as they are: validated once, never re-encoded.
        journal.append({ t: topic, payload, at }, (gen) => {
          this.pending.delete(id);
          try {
            this.applyInventory(origin, message, gen, at, topic, payload);
          } catch (err) {
            this.reject('internal', topic, (err as Error).message);
          }
          done();
          this.onDurable?.();
        });
        return;
      }
      case 'heartbeat':
        this.onHeartbeat(origin, message);
        break;
      case 'status':
        this.onStatus(origin, message);
        break;
    }
    this.accepted.inc({ kind: message.kind });
    done();
  }

  /** Applies a durable inventory message: de-duplication mark, snapshot assembly, merge, history. */
  private applyInventory(
    origin: Origin,
    message: InventoryMessage,
    gen: number,
    at: number,
    topic: string,
    payload: Uint8Array,
  ): void {
    const run = runKey(origin, message.runId);
    this.seen.add(run, message.seq);
    if (message.mode === 'snapshot' && message.parts && message.parts > 1 && message.part) {
      // Parts of one snapshot have consecutive seqs: part k has seq first + k - 1.
      const first = message.seq - message.part + 1;
      const key = `${run}#${first}`;
      const sender = `${origin.site}.${origin.sensor}/${origin.node}`;
      const current = this.assembling.get(sender);
      if (current && current.key !== key) {
        if (current.run === run && first < current.first) {
          this.abandoned.inc(); // a late part of a snapshot already given up
          return;
        }
        if (this.partial.delete(current.key)) this.abandoned.inc();
      }
      this.assembling.set(sender, { key, run, first });
      let parts = this.partial.get(key);
      if (!parts) {
        parts = [];
        this.partial.set(key, parts);
      }
      if (!parts.some((p) => p.part === message.part)) {
        const record: JournalRecord = { t: topic, p: Buffer.from(payload).toString('utf8'), at };
        parts.push({ gen, record, part: message.part });
      }
      if (parts.length < message.parts) return;
      this.partial.delete(key);
      parts.sort((a, b) => a.part - b.part);
      for (const p of parts) {
        const bytes = Buffer.from(p.record.p);
        const m = decodeMessage('inventory', bytes) as InventoryMessage;
        // History rows of the whole snapshot go to the generation of the part that completed it:
        // earlier parts' generations may already be compacted (their files final), and a replay
        // after a crash completes the snapshot in that same generation again.
        this.onInventory(origin, m, gen, p.record.at, bytes);
      }
      return;
    }
    this.onInventory(origin, message, gen, at, payload);
  }

  private onInventory(
    origin: Origin,
    message: InventoryMessage,
    gen: number,
    receivedAt: number,
    payload: Uint8Array,
  ): void {
    const result = this.options.inventory.apply(
      origin,
      message,
      this.options.alerts?.watch(origin, message.zone, receivedAt),
    );
    this.observations.inc(message.devices.length);
    this.options.history?.observe(gen, origin, receivedAt, payload);
    this.options.fleet.recordSeen(origin);
    if (result.created > 0) this.devicesApplied.inc({ outcome: 'created' }, result.created);
    if (result.updated > 0) this.devicesApplied.inc({ outcome: 'updated' }, result.updated);
    if (result.ignored > 0) this.devicesApplied.inc({ outcome: 'ignored' }, result.ignored);
    if (this.log.isLevelEnabled('debug'))
      this.log.debug({ ...origin, mode: message.mode, seq: message.seq, ...result }, 'inventory applied');
  }

  private onHeartbeat(
    origin: { site: string; sensor: string; node: string },
    message: HeartbeatMessage,
  ): void {
    this.options.fleet.recordHeartbeat(origin, message);
  }

  private onStatus(origin: { site: string; sensor: string; node: string }, message: StatusMessage): void {
    this.options.fleet.recordStatus(origin, message);
    this.log.info({ ...origin, online: message.online }, 'sensor status');
  }

  private reject(reason: RejectReason, topic: string, detail: string): void {
    this.rejected.inc({ reason });
    const now = Date.now();
    let window = this.logWindows.get(reason);
    if (!window || now - window.start > 60_000) {
      window = { start: now, count: 0 };
      this.logWindows.set(reason, window);
    }
    window.count += 1;
    // The topic names the sender; the payload is never logged (it may be huge or hostile).
    if (window.count <= LOG_BUDGET_PER_MINUTE) this.log.warn({ topic, reason, detail }, 'message rejected');
    else if (window.count === LOG_BUDGET_PER_MINUTE + 1)
      this.log.warn({ reason }, 'further rejections muted for a minute');
  }
}

function runKey(origin: Origin, runId: string): string {
  return `${origin.site}.${origin.sensor}/${origin.node}|${runId}`;
}

/** The site a runKey was made for (a site is a DNS label: it has no dot). */
function siteOfRunKey(run: string): string {
  return run.slice(0, run.indexOf('.'));
}
