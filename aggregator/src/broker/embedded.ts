// The embedded broker: aedes in-process, behind a mutual-TLS listener. It is
// the default for a single aggregator (one process, nothing else to run); a
// fleet that needs durable queues points the aggregator at Mosquitto instead
// (mosquitto-config.ts), with the same identity rules.
//
// Trust: the TLS layer accepts only clients whose certificate chains to the
// site CA bundle (requestCert + rejectUnauthorized), so a connection that
// reaches MQTT already has a verified identity; authorisation is then decided
// from that certificate alone (identity.ts).
import { createServer, type Server, type TLSSocket } from 'node:tls';
import { MAX_MESSAGE_BYTES } from '@hark/contracts/mqtt';
import { Aedes, type AuthenticateError, type Client, type Connection } from 'aedes';
import { Counter, Gauge, type Registry } from 'prom-client';
import { type Logger, silentLogger } from '../log.js';
import { identityFromCertificate, mayPublish, maySubscribe, type PeerIdentity } from './identity.js';
import { GuardedConnection } from './packet-guard.js';
import type { RevocationList, RevocationVerdict } from './revocation.js';

/** Room for the fixed header, topic and packet id on top of the largest message payload. */
export const DEFAULT_MAX_PACKET_BYTES = MAX_MESSAGE_BYTES + 64 * 1024;

export interface EmbeddedBrokerOptions {
  /** 0 picks a free port. */
  port: number;
  host?: string;
  /** PEM: the site CA trust bundle that client certificates must chain to, and the broker's server certificate/key. */
  tls: { ca: string; cert: string; key: string };
  topicPrefix: string;
  maxPacketBytes?: number;
  logger?: Logger;
  /** Where broker metrics are registered; omitted, they are kept but not exported. */
  registry?: Registry;
  /**
   * Revocation lists to enforce (revocation.ts): the site CAs' CRLs, e.g. the
   * operator's `ca.crl`. Given, a client whose issuer has no current CRL is
   * refused, as Mosquitto's `crlfile` refuses it.
   */
  revocation?: RevocationSource;
}

/** The current revocation list; changes (a new CRL) are announced to `onChange` listeners. */
export interface RevocationSource {
  current(): RevocationList;
  onChange(listener: () => void): void;
}

export interface EmbeddedBroker {
  host: string;
  port: number;
  close(): Promise<void>;
}

// aedes declares its return codes as an ambient const enum, which isolated
// modules cannot read; these are the MQTT 3.1.1 CONNACK codes.
const IDENTIFIER_REJECTED = 2;
const NOT_AUTHORIZED = 5;

function authError(message: string, returnCode: number): AuthenticateError {
  return Object.assign(new Error(message), { returnCode }) as AuthenticateError;
}

export async function startEmbeddedBroker(options: EmbeddedBrokerOptions): Promise<EmbeddedBroker> {
  const log = (options.logger ?? silentLogger).child({ module: 'broker' });
  const prefix = options.topicPrefix;
  const maxPacketBytes = options.maxPacketBytes ?? DEFAULT_MAX_PACKET_BYTES;
  const registers = options.registry ? [options.registry] : [];
  const denied = new Counter({
    name: 'hark_broker_denied_total',
    help: 'Connections, publishes and subscriptions the embedded broker refused, by action and reason',
    labelNames: ['action', 'reason'] as const,
    registers,
  });
  const connected = new Gauge({
    name: 'hark_broker_connected_clients',
    help: 'MQTT clients connected to the embedded broker',
    registers,
  });

  // The identity of each connection, keyed by the stream aedes sees as client.conn.
  const identities = new WeakMap<Connection, PeerIdentity>();
  const identityOf = (client: Client | null): PeerIdentity | undefined =>
    client ? identities.get(client.conn) : undefined;
  // A client id belongs to the certificate that first used it. Without this a
  // sensor could connect with the aggregator's client id and take over its
  // persistent session (and its queued messages) or keep knocking it offline.
  const clientIdOwners = new Map<string, string>();

  const aedes = await Aedes.createBroker({
    // Unresponsive clients must not hold the broker's write queue forever.
    drainTimeout: 30_000,
    connectTimeout: 10_000,
    maxClientsIdLength: 128,
    authenticate(client, _username, _password, done) {
      const identity = identityOf(client);
      if (!identity || identity.role === 'none') {
        denied.inc({ action: 'connect', reason: 'no-role' });
        log.warn(
          { clientId: client.id, commonName: identity?.commonName },
          'refused: certificate has no hark role',
        );
        return done(authError('certificate has no hark role', NOT_AUTHORIZED), false);
      }
      const owner = clientIdOwners.get(client.id);
      if (owner !== undefined && owner !== identity.commonName) {
        denied.inc({ action: 'connect', reason: 'client-id-taken' });
        log.warn(
          { clientId: client.id, commonName: identity.commonName },
          'refused: client id belongs to another identity',
        );
        return done(authError('client id belongs to another identity', IDENTIFIER_REJECTED), false);
      }
      clientIdOwners.set(client.id, identity.commonName);
      done(null, true);
    },
    authorizePublish(client, packet, done) {
      const identity = identityOf(client);
      const decision = identity
        ? mayPublish(identity, prefix, packet.topic, packet.retain)
        : { allowed: false as const, reason: 'unknown client' };
      if (decision.allowed) return done(null);
      denied.inc({ action: 'publish', reason: decision.reason });
      log.warn(
        {
          clientId: client?.id,
          commonName: identity?.commonName,
          topic: packet.topic,
          reason: decision.reason,
        },
        'publish refused',
      );
      // For MQTT 3.1.1 an error here disconnects the client, which is what a
      // sensor that speaks for another deserves.
      done(new Error(decision.reason));
    },
    authorizeSubscribe(client, subscription, done) {
      const identity = identityOf(client);
      const decision = identity
        ? maySubscribe(identity, prefix, subscription.topic)
        : { allowed: false as const, reason: 'unknown client' };
      if (decision.allowed) return done(null, subscription);
      denied.inc({ action: 'subscribe', reason: decision.reason });
      log.warn(
        { clientId: client.id, commonName: identity?.commonName, filter: subscription.topic },
        'subscribe refused',
      );
      // A null subscription answers the SUBSCRIBE with a failure code instead of disconnecting.
      done(null, null);
    },
    // Re-checked on every delivery: subscriptions restored from a persistent
    // session never pass through authorizeSubscribe again.
    authorizeForward(client, packet) {
      return identityOf(client)?.role === 'aggregator' ? packet : null;
    },
  });

  aedes.on('clientReady', (client) => {
    connected.inc();
    log.info({ clientId: client.id, commonName: identityOf(client)?.commonName }, 'client connected');
  });
  aedes.on('clientDisconnect', (client) => {
    connected.dec();
    log.info({ clientId: client.id }, 'client disconnected');
  });
  aedes.on('clientError', (client, err) =>
    log.debug({ clientId: client.id, err: err.message }, 'client error'),
  );
  aedes.on('connectionError', (_client, err) => log.debug({ err: err.message }, 'connection error'));

  const sockets = new Set<TLSSocket>();
  const revocation = options.revocation;
  /** Refuses (and counts) a peer its issuer has revoked; true when it may go on. */
  const passesRevocation = async (socket: TLSSocket, commonName: string): Promise<boolean> => {
    if (!revocation) return true;
    const verdict = await revocation
      .current()
      .check(socket.getPeerCertificate(true))
      .catch((err: Error): RevocationVerdict => ({ ok: false, reason: 'check-failed', detail: err.message }));
    if (verdict.ok) return !socket.destroyed;
    denied.inc({ action: 'connect', reason: verdict.reason });
    log.warn(
      { commonName, reason: verdict.reason, detail: verdict.detail },
      'refused: certificate revocation check',
    );
    socket.destroy();
    return false;
  };
  // A new CRL also cuts off revoked clients already connected, rather than at their next reconnect.
  const commonNames = new WeakMap<TLSSocket, string>();
  revocation?.onChange(() => {
    for (const socket of sockets) {
      const commonName = commonNames.get(socket);
      if (!socket.destroyed && commonName !== undefined) void passesRevocation(socket, commonName);
    }
  });
  const server: Server = createServer({
    ca: options.tls.ca,
    cert: options.tls.cert,
    key: options.tls.key,
    requestCert: true,
    rejectUnauthorized: true,
    minVersion: 'TLSv1.2',
    handshakeTimeout: 10_000,
  });
  server.on('secureConnection', async (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    // rejectUnauthorized already ended unverified handshakes; this is a second lock on the door.
    const identity = socket.authorized ? identityFromCertificate(socket.getPeerCertificate()) : undefined;
    if (!identity) {
      denied.inc({ action: 'connect', reason: 'no-certificate' });
      socket.destroy();
      return;
    }
    commonNames.set(socket, identity.commonName);
    // TLS sockets start paused: what the client sends meanwhile waits in the buffer.
    if (!(await passesRevocation(socket, identity.commonName))) return;
    const conn = new GuardedConnection(socket, maxPacketBytes, (err) => {
      denied.inc({ action: 'packet', reason: 'too-large' });
      log.warn({ commonName: identity.commonName, err: err.message }, 'connection cut: packet too large');
    });
    identities.set(conn, identity);
    aedes.handle(conn);
  });
  server.on('tlsClientError', (err) => {
    denied.inc({ action: 'connect', reason: 'tls' });
    log.info({ err: err.message }, 'TLS handshake refused');
  });

  const host = options.host ?? '0.0.0.0';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  log.info({ host, port }, 'embedded MQTT broker listening (mutual TLS)');

  let closing: Promise<void> | undefined;
  return {
    host,
    port,
    close() {
      closing ??= (async () => {
        const serverClosed = new Promise<void>((resolve) => server.close(() => resolve()));
        await new Promise<void>((resolve) => aedes.close(() => resolve()));
        for (const socket of sockets) socket.destroy();
        await serverClosed;
      })();
      return closing;
    },
  };
}
