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
import type { FleetRegistry } from '../fleet/registry.js';
import type { InventoryStore } from '../inventory/store.js';
import type { Logger } from '../log.js';

export type RejectReason =
  | MessageRejected['reason']
  /** Not a hark topic, or its identity segment is not "<site>.<sensor>". */
  | 'topic'
  /** A retained inventory/heartbeat replayed on subscribe: stale by definition. */
  | 'retained'
  /** A bug on our side while applying a valid message. */
  | 'internal';

export interface MessageHandlerOptions {
  topicPrefix: string;
  inventory: InventoryStore;
  fleet: FleetRegistry;
  logger: Logger;
  registry?: Registry;
}

/** At most this many rejection log lines per reason per minute; the counter still counts all. */
const LOG_BUDGET_PER_MINUTE = 10;

export class MessageHandler {
  private readonly accepted: Counter<'kind'>;
  private readonly rejected: Counter<'reason'>;
  private readonly devicesApplied: Counter<'outcome'>;
  private readonly logWindows = new Map<string, { start: number; count: number }>();
  private readonly log: Logger;

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
    // Pre-create the series so dashboards and alerts see zeros rather than gaps.
    for (const reason of [
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

  handle(topic: string, payload: Uint8Array, retained = false): void {
    const origin = parseTopic(this.options.topicPrefix, topic);
    if (!origin) {
      this.reject('topic', topic, 'not a sensor topic of this prefix');
      return;
    }
    if (retained && origin.kind !== 'status') {
      this.reject('retained', topic, `retained ${origin.kind} message`);
      return;
    }
    // Checked again here (decodeMessage does too) so the intent is visible:
    // an external broker may be configured with a larger packet limit.
    if (payload.byteLength > MAX_MESSAGE_BYTES) {
      this.reject('oversized', topic, `${payload.byteLength} bytes`);
      return;
    }
    let message: ReturnType<typeof decodeMessage>;
    try {
      message = decodeMessage(origin.kind, payload);
    } catch (err) {
      if (err instanceof MessageRejected) this.reject(err.reason, topic, err.message);
      else this.reject('internal', topic, (err as Error).message);
      return;
    }
    try {
      switch (message.kind) {
        case 'inventory':
          this.onInventory(origin, message);
          break;
        case 'heartbeat':
          this.onHeartbeat(origin, message);
          break;
        case 'status':
          this.onStatus(origin, message);
          break;
      }
      this.accepted.inc({ kind: message.kind });
    } catch (err) {
      this.reject('internal', topic, (err as Error).message);
    }
  }

  private onInventory(
    origin: { site: string; sensor: string; node: string },
    message: InventoryMessage,
  ): void {
    const result = this.options.inventory.apply(origin, message);
    this.options.fleet.recordSeen(origin);
    for (const [outcome, n] of Object.entries(result)) if (n > 0) this.devicesApplied.inc({ outcome }, n);
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
