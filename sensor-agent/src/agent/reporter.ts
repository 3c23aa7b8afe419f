// MQTT reporting: mutual TLS, MQTT 5, QoS 1, a persistent session (clean:
// false, stable client id), a retained last will so the aggregator learns
// promptly when a sensor vanishes, and a disk spool (spool.ts) as the queue:
// inventory and heartbeats are spooled (fsynced) before publishing and leave
// the spool on PUBACK, so neither a broker outage nor an agent restart loses
// them. At most `inflightWindow` spooled messages are in mqtt.js at a time.
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync, unwatchFile, watchFile } from 'node:fs';
import type { AgentConfig } from '@hark/contracts/agent-config';
import type { DeviceRecord } from '@hark/contracts/inventory';
import {
  encodeInventoryMessage,
  encodeMessage,
  type HeartbeatMessage,
  inventoryEnvelope,
  MAX_MESSAGE_BYTES,
  MESSAGE_SCHEMA_VERSION,
  type MessageKind,
  type SensorIdentity,
  type StatusMessage,
  topicFor,
} from '@hark/contracts/mqtt';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import { Spool, type SpoolClass, type SpoolEntry } from './spool.js';

/**
 * The size the agent keeps its inventory messages under: 1 MiB, below what the
 * aggregator accepts (MAX_MESSAGE_BYTES) because brokers limit packets too
 * (EMQX's max_packet_size is 1 MB by default), and because each message is
 * allocated whole several times on its way to disk (measured: 4 MiB messages
 * left the agent's resident set ~10 MB higher after a large snapshot).
 */
const REPORT_MESSAGE_BYTES = Math.min(1024 * 1024, MAX_MESSAGE_BYTES);
/** Room left in each inventory message for the envelope. */
const ENVELOPE_ALLOWANCE = 16 * 1024;
/** The most serialized device records (the JSON array) one inventory message carries. */
export const MAX_DEVICE_BYTES = REPORT_MESSAGE_BYTES - ENVELOPE_ALLOWANCE;
/** How often a report waiting for room in the spool looks again. */
const SPOOL_POLL_MS = 50;
/** How long shutdown waits for the broker to acknowledge the offline status. */
const OFFLINE_TIMEOUT_MS = 3000;
/** Keep the persistent session a day, so a restarted agent picks up its unacknowledged messages. */
const SESSION_EXPIRY_SECONDS = 86_400;

export interface ReporterOptions {
  config: AgentConfig;
  identity: SensorIdentity;
  runId: string;
  agentVersion: string;
  logger: Logger;
  /** Extra mqtt.js options (tests: timeouts); merged last. */
  mqttOptions?: Partial<IClientOptions>;
  /** Spool bounds; default 64 MiB ($HARK_SPOOL_MAX_BYTES). */
  spool?: { maxBytes?: number; segmentBytes?: number };
  /** Messages handed to mqtt.js and not yet acknowledged, at most; default 256. */
  inflightWindow?: number;
  /** Reconnect back-off: doubles from initialMs to maxMs, each wait jittered ±50 %. */
  backoff?: { initialMs: number; maxMs: number };
  /** How often the certificate files are checked for renewal; default 5 s. */
  certificatePollMs?: number;
  /** The spool dropped messages for lack of room: publish a fresh snapshot. */
  onSpoolDrop?: () => void;
}

type Pending = SpoolEntry;

export class Reporter {
  readonly clientId: string;
  readonly published: Record<MessageKind, number> = { inventory: 0, heartbeat: 0, status: 0 };
  certificateNotAfter: string | undefined;
  /** Times the client was rebuilt with renewed key material. */
  certificateReloads = 0;
  private client: MqttClient | undefined;
  private seq = 0;
  /** The durable queue: messages enter before publishing and leave on PUBACK. */
  readonly spool: Spool;
  /** Spool ids handed to the current client and not yet acknowledged. */
  private readonly inflight = new Set<number>();
  /** Spool ids not yet handed to the current client, in order. */
  private toSend: number[] = [];
  private readonly window: number;
  private readonly topics: Record<MessageKind, string>;
  private delayMs: number;
  private protocolVersion: 4 | 5 = 5;
  private tlsMaterial: { ca: Buffer; cert: Buffer; key: Buffer } | undefined;
  private stopped = false;
  private readonly watched: string[] = [];

  constructor(private readonly o: ReporterOptions) {
    const { identity } = o;
    this.clientId = `${identity.site}.${identity.sensor}.${identity.node}`;
    const prefix = o.config.reporting.topicPrefix;
    this.topics = {
      inventory: topicFor(prefix, identity, 'inventory'),
      heartbeat: topicFor(prefix, identity, 'heartbeat'),
      status: topicFor(prefix, identity, 'status'),
    };
    this.certificateNotAfter = readNotAfter(o.config.tls.certFile);
    this.window = o.inflightWindow ?? 256;
    this.delayMs = o.backoff?.initialMs ?? 1000;
    const envMax = Number(process.env.HARK_SPOOL_MAX_BYTES);
    this.spool = Spool.open({
      dir: o.config.spoolDir,
      ...(o.spool?.maxBytes ? { maxBytes: o.spool.maxBytes } : envMax > 0 ? { maxBytes: envMax } : {}),
      ...(o.spool?.segmentBytes ? { segmentBytes: o.spool.segmentBytes } : {}),
      onDrop: (dropped) => {
        o.logger.warn({ dropped }, 'spool full: dropped the oldest messages; a fresh snapshot follows');
        o.onSpoolDrop?.();
      },
    });
    // What an earlier run left unacknowledged goes out first.
    for (const e of this.spool.pending()) this.toSend.push(e.id);
    if (this.spool.depth > 0)
      o.logger.info({ pending: this.spool.depth }, 'spool holds unacknowledged messages from an earlier run');
  }

  get connected(): boolean {
    return this.client?.connected ?? false;
  }

  /** Unacknowledged messages in the spool (the heartbeat's spoolDepth). */
  get spoolDepth(): number {
    return this.spool.depth;
  }

  topic(kind: MessageKind): string {
    return this.topics[kind];
  }

  /**
   * Connects in the background and reconnects with jittered exponential
   * back-off. MQTT 5 first; a broker that answers "unacceptable protocol
   * version" (MQTT 3.1.1-only brokers such as aedes) gets 3.1.1. The
   * certificate files are watched: when the operator renews them, the client
   * is rebuilt with the new key and whatever it had in flight is re-sent.
   */
  start(protocolVersion: 4 | 5 = 5): void {
    this.protocolVersion = protocolVersion;
    const { config } = this.o;
    if (config.reporting.brokerUrl.startsWith('mqtts://') && !this.tlsMaterial) {
      this.tlsMaterial = readTls(config.tls);
      const poll = this.o.certificatePollMs ?? 5000;
      for (const file of [config.tls.certFile, config.tls.keyFile, config.tls.caFile]) {
        watchFile(file, { interval: poll, persistent: false }, (cur, prev) => {
          if (cur.mtimeMs !== prev.mtimeMs || cur.size !== prev.size || cur.ino !== prev.ino)
            this.reloadTls();
        });
        this.watched.push(file);
      }
    }
    this.connect();
  }

  private connect(): void {
    const { config, logger } = this.o;
    const protocolVersion = this.protocolVersion;
    const options: IClientOptions = {
      protocolVersion,
      clientId: this.clientId,
      clean: false,
      ...(protocolVersion === 5 ? { properties: { sessionExpiryInterval: SESSION_EXPIRY_SECONDS } } : {}),
      reconnectPeriod: this.delayMs,
      connectTimeout: 10_000,
      will: {
        topic: this.topics.status,
        payload: encodeMessage(this.status(false, this.stampConnection())),
        qos: 1,
        retain: true,
      },
      ...this.o.mqttOptions,
    };
    if (this.tlsMaterial) {
      // Key material goes to the TLS stack only; it is never logged.
      options.ca = this.tlsMaterial.ca;
      options.cert = this.tlsMaterial.cert;
      options.key = this.tlsMaterial.key;
      options.rejectUnauthorized = true;
    } else {
      logger.warn(
        { brokerUrl: config.reporting.brokerUrl },
        'broker URL is not mqtts://: reporting without TLS',
      );
    }
    logger.info(
      {
        brokerUrl: config.reporting.brokerUrl,
        clientId: this.clientId,
        caFile: config.tls.caFile,
        certFile: config.tls.certFile,
      },
      'connecting to broker',
    );
    const client = mqtt.connect(config.reporting.brokerUrl, options);
    this.client = client;
    // A new client starts from the spool: everything unacknowledged, in order.
    this.inflight.clear();
    this.toSend = [...this.spool.pending()].map((e) => e.id);
    client.on('connect', () => {
      logger.info({ clientId: this.clientId, protocolVersion }, 'connected to broker');
      this.delayMs = this.o.backoff?.initialMs ?? 1000;
      client.options.reconnectPeriod = this.delayMs;
      client
        .publishAsync(this.topics.status, encodeMessage(this.status(true, this.connectionAt)), {
          qos: 1,
          retain: true,
        })
        .then(
          () => {
            this.published.status++;
          },
          () => undefined,
        );
      this.pump();
    });
    client.on('close', () => {
      // Exponential back-off with jitter, so a restarted broker is not hit by every sensor at once.
      const max = this.o.backoff?.maxMs ?? 60_000;
      client.options.reconnectPeriod = Math.round(Math.min(max, this.delayMs) * (0.5 + Math.random()));
      this.delayMs = Math.min(max, this.delayMs * 2);
    });
    client.on('reconnect', () => {
      // mqtt.js sends the options' will again on each reconnect: restamp it for this connection.
      if (client.options.will)
        client.options.will.payload = encodeMessage(this.status(false, this.stampConnection()));
      logger.debug('reconnecting to broker');
    });
    client.on('offline', () => logger.warn('broker connection lost'));
    client.on('error', (error) => {
      const code = (error as { code?: number }).code;
      if (protocolVersion === 5 && (code === 1 || code === 132) && !client.connected) {
        logger.info(
          { brokerUrl: config.reporting.brokerUrl },
          'broker does not speak MQTT 5; using MQTT 3.1.1',
        );
        client.end(true);
        this.protocolVersion = 4;
        this.connect();
        return;
      }
      logger.error({ err: { message: error.message } }, 'broker error');
    });
  }

  /** Re-reads the certificate files; on a valid change, reconnects with the new key. */
  private reloadTls(): void {
    if (this.stopped || !this.tlsMaterial) return;
    let next: { ca: Buffer; cert: Buffer; key: Buffer };
    try {
      next = readTls(this.o.config.tls);
    } catch (error) {
      // A renewal in progress (cert written, key not yet): the next poll retries.
      this.o.logger.warn({ err: { message: (error as Error).message } }, 'certificate files not usable yet');
      return;
    }
    const same = (a: Buffer, b: Buffer) => a.equals(b);
    if (
      same(next.ca, this.tlsMaterial.ca) &&
      same(next.cert, this.tlsMaterial.cert) &&
      same(next.key, this.tlsMaterial.key)
    )
      return;
    this.tlsMaterial = next;
    this.certificateNotAfter = readNotAfter(this.o.config.tls.certFile);
    this.certificateReloads++;
    this.o.logger.info(
      { certFile: this.o.config.tls.certFile, notAfter: this.certificateNotAfter },
      'certificate renewed: reconnecting with the new key',
    );
    const old = this.client;
    this.client = undefined;
    old?.end(true);
    this.connect();
  }

  /**
   * Resolves once the spool is at most half full, or the reporter stopped. A
   * large report (a snapshot of a big site is tens of MB) waits here before
   * each message for the broker to acknowledge earlier ones: appending it
   * all at once would overrun the spool's bound, which drops the oldest
   * messages, i.e. the same snapshot's first parts, and asks for a snapshot
   * again, forever. Heartbeats do not wait.
   */
  async ready(): Promise<void> {
    while (!this.stopped && this.spool.bytes > this.spool.capacity / 2)
      await new Promise((r) => setTimeout(r, SPOOL_POLL_MS));
  }

  /** Reserves `n` consecutive sequence numbers (a snapshot's parts) and returns the first. */
  reserveSeq(n: number): number {
    const first = this.seq;
    this.seq += n;
    return first;
  }

  /**
   * Publishes one inventory message of already serialized device records,
   * the bytes of their JSON array (inventory-reports.ts writes them a few at
   * a time); `part` marks one part of a snapshot that spans several messages
   * with consecutive seqs. The bytes are copied before this returns.
   */
  publishInventory(
    mode: 'snapshot' | 'delta',
    devicesJsonArray: Uint8Array | string,
    seq: number,
    part?: { part: number; parts: number },
  ): Promise<void> {
    const envelope = inventoryEnvelope({
      mode,
      seq,
      runId: this.o.runId,
      agentVersion: this.o.agentVersion,
      part,
      zone: this.o.config.zone,
    });
    return this.publish('inventory', mode, encodeInventoryMessage(envelope, devicesJsonArray));
  }

  /** Publishes a snapshot of these records, in as many parts as the message limit requires. */
  publishSnapshot(devices: DeviceRecord[]): Promise<void> {
    const parts = serializeParts(devices);
    const first = this.reserveSeq(parts.length);
    return Promise.all(
      parts.map((part, i) =>
        this.publishInventory(
          'snapshot',
          part,
          first + i,
          parts.length > 1 ? { part: i + 1, parts: parts.length } : undefined,
        ),
      ),
    ).then(() => undefined);
  }

  /** Publishes these changed records as deltas, in as many messages as size requires. */
  publishDelta(devices: DeviceRecord[]): Promise<void> {
    if (devices.length === 0) return Promise.resolve();
    return Promise.all(
      serializeParts(devices).map((part) => this.publishInventory('delta', part, this.reserveSeq(1))),
    ).then(() => undefined);
  }

  publishHeartbeat(
    body: Omit<HeartbeatMessage, 'schema' | 'sentAt' | 'agentVersion' | 'kind' | 'runId'>,
  ): Promise<void> {
    const message: HeartbeatMessage = { ...this.envelope(), kind: 'heartbeat', runId: this.o.runId, ...body };
    if (this.certificateNotAfter) message.certificateNotAfter = this.certificateNotAfter;
    return this.publish('heartbeat', 'control', encodeMessage(message));
  }

  /** Resolves once the spool is empty (everything acknowledged), or after the timeout; true if drained. */
  async drained(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (this.spool.depth > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    return this.spool.depth === 0;
  }

  /** Publishes the retained offline status (what the will would say) and disconnects cleanly. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const file of this.watched.splice(0)) unwatchFile(file);
    const client = this.client;
    if (client) {
      if (client.connected) {
        const offline = client.publishAsync(this.topics.status, encodeMessage(this.status(false)), {
          qos: 1,
          retain: true,
        });
        await Promise.race([
          offline.catch(() => undefined),
          new Promise((r) => setTimeout(r, OFFLINE_TIMEOUT_MS).unref()),
        ]);
        this.published.status++;
      }
      await client.endAsync(!client.connected);
    }
    // What is still unacknowledged stays on disk for the next run.
    this.spool.close();
  }

  /** Into the spool (durable), then out through the window. */
  private async publish(kind: MessageKind, cls: SpoolClass, payload: Buffer): Promise<void> {
    if (this.stopped) return;
    let entry: SpoolEntry;
    try {
      entry = await this.spool.append(kind, cls, false, payload);
    } catch (error) {
      this.o.logger.warn({ kind, err: { message: (error as Error).message } }, 'message not spooled');
      return;
    }
    if (this.spool.has(entry.id)) this.toSend.push(entry.id);
    this.pump();
  }

  /** Hands spooled messages to mqtt.js while fewer than `window` are unacknowledged. */
  private pump(): void {
    const client = this.client;
    if (!client?.connected || this.stopped) return;
    while (this.inflight.size < this.window && this.toSend.length > 0) {
      const id = this.toSend.shift()!;
      const entry = this.spool.get(id);
      if (!entry || this.inflight.has(id)) continue;
      const payload = this.spool.payload(entry);
      if (!payload) continue; // acknowledged or dropped meanwhile
      this.inflight.add(id);
      this.send(client, entry, payload);
    }
  }

  private send(client: MqttClient, pending: Pending, payload: Buffer): void {
    client.publishAsync(this.topics[pending.kind], payload, { qos: 1, retain: pending.retain }).then(
      () => {
        if (this.spool.has(pending.id)) {
          this.spool.ack(pending.id);
          this.published[pending.kind]++;
        }
        if (client === this.client) {
          this.inflight.delete(pending.id);
          this.pump();
        }
      },
      (error: Error) => {
        // A client we replaced fails its queue; the replacement re-sends from the spool.
        if (client === this.client && !this.stopped)
          this.o.logger.warn({ kind: pending.kind, err: { message: error.message } }, 'publish failed');
      },
    );
  }

  private envelope(): { schema: typeof MESSAGE_SCHEMA_VERSION; sentAt: string; agentVersion: string } {
    return {
      schema: MESSAGE_SCHEMA_VERSION,
      sentAt: new Date().toISOString(),
      agentVersion: this.o.agentVersion,
    };
  }

  /**
   * A connection's "online" status and its last will carry the same time,
   * that of the connection attempt: the will was composed before the online
   * message, and the aggregator keeps the latest status by the sender's clock
   * (an offline at the same time wins), so the will must not look older.
   */
  private connectionAt = new Date().toISOString();

  private stampConnection(): string {
    this.connectionAt = new Date().toISOString();
    return this.connectionAt;
  }

  private status(online: boolean, sentAt?: string): StatusMessage {
    return { ...this.envelope(), ...(sentAt ? { sentAt } : {}), kind: 'status', online };
  }
}

function readTls(tls: { caFile: string; certFile: string; keyFile: string }): {
  ca: Buffer;
  cert: Buffer;
  key: Buffer;
} {
  const material = {
    ca: readFileSync(tls.caFile),
    cert: readFileSync(tls.certFile),
    key: readFileSync(tls.keyFile),
  };
  // A certificate and key that do not belong together (mid-renewal) are not used.
  if (!new X509Certificate(material.cert).checkPrivateKey(createPrivateKey(material.key)))
    throw new Error('certificate and key do not match');
  return material;
}

/**
 * The records as JSON arrays (text) of at most MAX_DEVICE_BYTES each: the
 * common case, one array that fits, serialized once; else record by record,
 * split. Text, not bytes: the message encoder writes it into the message's
 * own buffer, sparing a copy.
 */
function serializeParts(devices: DeviceRecord[]): string[] {
  const whole = JSON.stringify(devices);
  if (Buffer.byteLength(whole) <= MAX_DEVICE_BYTES) return [whole];
  return splitBySize(
    devices.map((d) => JSON.stringify(d)),
    MAX_DEVICE_BYTES,
  ).map((part) => `[${part.join(',')}]`);
}

/** Greedy split of serialized records so each part's JSON array stays within `maxBytes`. */
export function splitBySize(json: readonly string[], maxBytes: number): string[][] {
  const parts: string[][] = [[]];
  let size = 0;
  for (const j of json) {
    const bytes = Buffer.byteLength(j) + 1;
    const current = parts[parts.length - 1]!;
    if (size + bytes > maxBytes && current.length > 0) {
      parts.push([j]);
      size = bytes;
    } else {
      current.push(j);
      size += bytes;
    }
  }
  return parts;
}

function readNotAfter(certFile: string): string | undefined {
  try {
    return new Date(new X509Certificate(readFileSync(certFile)).validTo).toISOString();
  } catch {
    return undefined;
  }
}
