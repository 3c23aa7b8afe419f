// MQTT reporting: mutual TLS, MQTT 5, QoS 1, a persistent session (clean:
// false, stable client id) so QoS 1 messages survive reconnects, and a
// retained last will so the aggregator learns promptly when a sensor vanishes.
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { AgentConfig } from '@hark/contracts/agent-config';
import type { DeviceRecord } from '@hark/contracts/inventory';
import {
  encodeMessage,
  type HeartbeatMessage,
  type InventoryMessage,
  MAX_MESSAGE_BYTES,
  MESSAGE_SCHEMA_VERSION,
  type MessageKind,
  type SensorIdentity,
  type StatusMessage,
  topicFor,
  type WireMessage,
} from '@hark/contracts/mqtt';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import type { Logger } from 'pino';

/** Room left in each snapshot part for the envelope. */
const ENVELOPE_ALLOWANCE = 16 * 1024;
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
}

export class Reporter {
  readonly clientId: string;
  readonly published: Record<MessageKind, number> = { inventory: 0, heartbeat: 0, status: 0 };
  readonly certificateNotAfter: string | undefined;
  private client: MqttClient | undefined;
  private seq = 0;
  /**
   * Messages handed to a client and not yet acknowledged (PUBACK). mqtt.js
   * keeps them while it reconnects, but a client we replace (the MQTT 3.1.1
   * fallback) takes its queue with it, so the new client re-sends these.
   */
  private readonly unacknowledged = new Map<
    number,
    { kind: MessageKind; payload: Buffer; retain: boolean }
  >();
  private nextLocalId = 0;
  private readonly topics: Record<MessageKind, string>;

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
  }

  get connected(): boolean {
    return this.client?.connected ?? false;
  }

  topic(kind: MessageKind): string {
    return this.topics[kind];
  }

  /**
   * Connects in the background; mqtt.js reconnects on its own and queues QoS 1
   * publishes meanwhile. MQTT 5 first; a broker that answers "unacceptable
   * protocol version" (MQTT 3.1.1-only brokers such as aedes) gets 3.1.1.
   */
  start(protocolVersion: 4 | 5 = 5): void {
    const { config, logger } = this.o;
    const tls = config.reporting.brokerUrl.startsWith('mqtts://');
    const options: IClientOptions = {
      protocolVersion,
      clientId: this.clientId,
      clean: false,
      ...(protocolVersion === 5 ? { properties: { sessionExpiryInterval: SESSION_EXPIRY_SECONDS } } : {}),
      reconnectPeriod: 2000,
      connectTimeout: 10_000,
      will: {
        topic: this.topics.status,
        payload: encodeMessage(this.status(false)),
        qos: 1,
        retain: true,
      },
      ...this.o.mqttOptions,
    };
    if (tls) {
      // Key material goes to the TLS stack only; it is never logged.
      options.ca = readFileSync(config.tls.caFile);
      options.cert = readFileSync(config.tls.certFile);
      options.key = readFileSync(config.tls.keyFile);
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
    client.on('connect', () => {
      logger.info({ clientId: this.clientId, protocolVersion }, 'connected to broker');
      this.publish('status', this.status(true), true);
    });
    // Whatever an earlier client was still holding goes out on this one.
    for (const [id, pending] of this.unacknowledged) this.send(client, id, pending);
    client.on('reconnect', () => logger.debug('reconnecting to broker'));
    client.on('offline', () => logger.warn('broker connection lost'));
    client.on('error', (error) => {
      const code = (error as { code?: number }).code;
      if (protocolVersion === 5 && (code === 1 || code === 132) && !client.connected) {
        logger.info(
          { brokerUrl: config.reporting.brokerUrl },
          'broker does not speak MQTT 5; using MQTT 3.1.1',
        );
        client.end(true);
        this.start(4);
        return;
      }
      logger.error({ err: { message: error.message } }, 'broker error');
    });
  }

  /** Publishes a snapshot, split into parts that each stay under the broker's message limit. */
  publishSnapshot(devices: DeviceRecord[]): void {
    const parts = splitDevices(devices, MAX_MESSAGE_BYTES - ENVELOPE_ALLOWANCE);
    parts.forEach((part, i) => {
      const message: InventoryMessage = {
        ...this.envelope(),
        kind: 'inventory',
        mode: 'snapshot',
        seq: this.seq++,
        runId: this.o.runId,
        devices: part,
      };
      if (parts.length > 1) {
        message.part = i + 1;
        message.parts = parts.length;
      }
      if (this.o.config.zone) message.zone = this.o.config.zone;
      this.publish('inventory', message, false);
    });
  }

  publishHeartbeat(
    body: Omit<HeartbeatMessage, 'schema' | 'sentAt' | 'agentVersion' | 'kind' | 'runId'>,
  ): void {
    const message: HeartbeatMessage = { ...this.envelope(), kind: 'heartbeat', runId: this.o.runId, ...body };
    if (this.certificateNotAfter) message.certificateNotAfter = this.certificateNotAfter;
    this.publish('heartbeat', message, false);
  }

  /** Publishes the retained offline status (what the will would say) and disconnects cleanly. */
  async stop(): Promise<void> {
    const client = this.client;
    if (!client) return;
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

  private publish(kind: MessageKind, message: WireMessage, retain: boolean): void {
    const client = this.client;
    if (!client) return;
    const id = this.nextLocalId++;
    const pending = { kind, payload: encodeMessage(message), retain };
    this.unacknowledged.set(id, pending);
    this.send(client, id, pending);
  }

  private send(
    client: MqttClient,
    id: number,
    pending: { kind: MessageKind; payload: Buffer; retain: boolean },
  ): void {
    client.publishAsync(this.topics[pending.kind], pending.payload, { qos: 1, retain: pending.retain }).then(
      () => {
        if (this.unacknowledged.delete(id)) this.published[pending.kind]++;
      },
      (error: Error) => {
        // A client we replaced fails its queue; the replacement has re-sent it.
        if (client === this.client)
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

  private status(online: boolean): StatusMessage {
    return { ...this.envelope(), kind: 'status', online };
  }
}

/** Greedy split by serialized size; a snapshot of a small site is one part. */
export function splitDevices(devices: DeviceRecord[], maxBytes: number): DeviceRecord[][] {
  const parts: DeviceRecord[][] = [[]];
  let size = 0;
  for (const d of devices) {
    const bytes = Buffer.byteLength(JSON.stringify(d)) + 1;
    const current = parts[parts.length - 1]!;
    if (size + bytes > maxBytes && current.length > 0) {
      parts.push([d]);
      size = bytes;
    } else {
      current.push(d);
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
