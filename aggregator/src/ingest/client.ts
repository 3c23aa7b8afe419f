// The aggregator's MQTT subscription: one long-lived mutual-TLS client with a
// stable client id and a persistent session (clean: false), so the broker
// queues QoS 1 messages while the aggregator restarts and none are lost.
// The same code path serves the embedded broker (over loopback) and an
// external one, so the embedded broker enforces on the aggregator exactly
// what Mosquitto would.
import { X509Certificate } from 'node:crypto';
import type { ConnectionOptions, PeerCertificate } from 'node:tls';
import { subscriptionFor } from '@hark/contracts/mqtt';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { Gauge, type Registry } from 'prom-client';
import type { Logger } from '../log.js';

/** Tells mqtt.js not to send the PUBACK itself (see handleMessage). */
const DEFERRED = Object.assign(new Error('PUBACK deferred until the message is durable'), { deferred: true });

export interface IngestClientOptions {
  /** mqtts://host:port */
  url: string;
  /** PEM: trust bundle for the broker's certificate, and the aggregator's client certificate/key. */
  tls: { ca: string; cert: string; key: string };
  clientId: string;
  topicPrefix: string;
  /** `ack` sends the PUBACK; call it once the message is durable (or needs no durability). */
  onMessage: (topic: string, payload: Buffer, retained: boolean, ack: () => void) => void;
  /**
   * Asked after each message: a promise means "read nothing more until it
   * resolves". mqtt.js reads the next packet only when the previous one is
   * handled, so the socket stops being read, TCP pushes back, and the broker
   * keeps the messages (flow control for a history that falls behind).
   */
  gate?: () => Promise<void> | undefined;
  logger: Logger;
  registry?: Registry;
  /**
   * Accept exactly this server certificate (PEM) instead of checking the host
   * name: used for the embedded broker, reached over loopback with a
   * certificate issued for its public name.
   */
  pinnedServerCertificate?: string;
  /** MQTT 3.1.1 (4) by default: the embedded broker (aedes) speaks 3.1.1 only. */
  protocolVersion?: 4 | 5;
  backoff?: { initialMs: number; maxMs: number };
}

export class IngestClient {
  private client: MqttClient | undefined;
  private subscribed = false;
  private delayMs: number;
  private readonly log: Logger;
  private readonly connectedGauge: Gauge;
  private readonly waiters = new Set<() => void>();
  /** Changes on every connect and close: a PUBACK is sent only on the connection that received the message. */
  private connection = 0;

  constructor(private readonly options: IngestClientOptions) {
    this.log = options.logger.child({ module: 'mqtt' });
    this.delayMs = options.backoff?.initialMs ?? 1_000;
    this.connectedGauge = new Gauge({
      name: 'hark_aggregator_broker_connected',
      help: '1 while the aggregator is connected and subscribed to the broker',
      registers: options.registry ? [options.registry] : [],
    });
  }

  /** Connected to the broker and subscribed: the aggregator is receiving. */
  get ready(): boolean {
    return this.subscribed;
  }

  start(): void {
    if (this.client) return;
    const { tls } = this.options;
    // mqtt.js passes unknown options through to tls.connect (checkServerIdentity below).
    const opts: IClientOptions & ConnectionOptions = {
      clientId: this.options.clientId,
      clean: false,
      protocolVersion: this.options.protocolVersion ?? 4,
      keepalive: 30,
      connectTimeout: 10_000,
      reconnectPeriod: this.delayMs,
      // We subscribe ourselves on every connect (below), also when the broker kept the session.
      resubscribe: false,
      ca: tls.ca,
      cert: tls.cert,
      key: tls.key,
      rejectUnauthorized: true,
    };
    if (this.options.pinnedServerCertificate) {
      const expected = new X509Certificate(this.options.pinnedServerCertificate).fingerprint256;
      opts.checkServerIdentity = (_host: string, cert: PeerCertificate) =>
        cert.fingerprint256 === expected ? undefined : new Error('broker certificate is not the pinned one');
    }
    const client = mqtt.connect(this.options.url, opts);
    this.client = client;

    // PUBACK goes out only when onMessage says the message is durable. mqtt.js
    // handles one packet at a time and would wait for each write, so the
    // PUBACK is decoupled: the callback is given an error (mqtt.js then sends
    // no PUBACK and moves on to the next packet) and we send the PUBACK
    // ourselves later, on the same connection only: a message whose
    // connection dropped meanwhile is redelivered by the broker (persistent
    // session) and de-duplicated by (runId, seq). Many messages are thus in
    // one group commit, up to the broker's in-flight limit.
    client.handleMessage = (packet, done) => {
      const connection = this.connection;
      const messageId = packet.messageId;
      let acked = false;
      const ack = () => {
        if (acked) return;
        acked = true;
        if (packet.qos === 0 || messageId === undefined) return;
        if (connection !== this.connection || !client.connected) return;
        (client as unknown as { _sendPacket(p: object, cb?: () => void): void })._sendPacket({
          cmd: 'puback',
          messageId,
          ...(this.options.protocolVersion === 5 ? { reasonCode: 0 } : {}),
        });
      };
      try {
        const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload;
        this.options.onMessage(packet.topic, payload, packet.retain, ack);
      } catch (err) {
        this.log.error({ err, topic: packet.topic }, 'message handler failed');
        ack();
      }
      const next = () => done(packet.qos > 0 ? DEFERRED : undefined);
      const wait = this.options.gate?.();
      if (wait) void wait.then(next);
      else next();
    };

    client.on('connect', (connack) => {
      this.connection++;
      this.log.info({ url: this.options.url, sessionPresent: connack.sessionPresent }, 'connected to broker');
      this.delayMs = this.options.backoff?.initialMs ?? 1_000;
      client.options.reconnectPeriod = this.delayMs;
      const filter = subscriptionFor(this.options.topicPrefix);
      client.subscribe(filter, { qos: 1 }, (err, granted) => {
        const refused =
          err ?? (granted?.some((g) => g.qos === 128) ? new Error('subscription refused') : undefined);
        if (refused) {
          this.log.error({ filter, err: refused.message }, 'subscribe failed');
          return;
        }
        this.subscribed = true;
        this.connectedGauge.set(1);
        this.log.info({ filter }, 'subscribed');
        for (const wake of this.waiters) wake();
      });
    });
    client.on('close', () => {
      this.connection++;
      if (this.subscribed) this.log.warn('disconnected from broker');
      this.subscribed = false;
      this.connectedGauge.set(0);
      // Exponential back-off with jitter, so a restarted broker is not hit by
      // every aggregator replica in lockstep. mqtt.js reads the period anew
      // before each reconnect.
      const max = this.options.backoff?.maxMs ?? 60_000;
      const jittered = Math.round(this.delayMs * (0.8 + Math.random() * 0.4));
      client.options.reconnectPeriod = Math.min(max, jittered);
      this.delayMs = Math.min(max, this.delayMs * 2);
    });
    client.on('error', (err) =>
      this.log.warn({ err: err.message, url: this.options.url }, 'broker connection error'),
    );
  }

  /** Resolves once subscribed; rejects after the timeout. */
  whenReady(timeoutMs: number): Promise<void> {
    if (this.subscribed) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const wake = () => {
        clearTimeout(timer);
        this.waiters.delete(wake);
        resolve();
      };
      const timer = setTimeout(() => {
        this.waiters.delete(wake);
        reject(new Error(`not subscribed to ${this.options.url} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.add(wake);
    });
  }

  async stop(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    this.subscribed = false;
    this.connectedGauge.set(0);
    if (client) await client.endAsync();
  }
}
