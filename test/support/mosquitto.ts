// A real Mosquitto for tests: writes hark's generated configuration (the same
// generator production uses) with the given certificates into a temporary
// directory, starts /usr/sbin/mosquitto on a free loopback port, waits until
// it completes TLS handshakes, and stops it again. The process is killed on
// stop(), and, as a backstop, when the test process exits, so a failed test
// leaves no broker behind.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { mosquittoConfigFor } from '@hark/aggregator';

export const MOSQUITTO_BINARY = process.env.HARK_MOSQUITTO_BINARY ?? '/usr/sbin/mosquitto';

/** Whether the Mosquitto binary is installed; tests skip with a message when it is not. */
export function mosquittoAvailable(): boolean {
  return existsSync(MOSQUITTO_BINARY);
}

export interface StartMosquittoOptions {
  /** PEM: the CA clients must chain to, and the broker's certificate (valid for 127.0.0.1) and key. */
  tls: { ca: string; cert: string; key: string };
  topicPrefix?: string;
  maxPacketBytes?: number;
  /** PEM CRLs to enforce (`crlfile`); replace them later with `updateCrl`. */
  crl?: string;
  /** How long to wait for the broker to accept TLS; default 10 s. */
  startTimeoutMs?: number;
}

export interface MosquittoInstance {
  host: '127.0.0.1';
  port: number;
  /** mqtts://127.0.0.1:<port> */
  url: string;
  /** The temporary directory holding config, certificates and persistence. */
  dir: string;
  pid: number;
  /** Everything Mosquitto logged so far (stderr), for assertions and failure messages. */
  logs(): string;
  /** Stops the broker (SIGTERM, then SIGKILL after 5 s) and removes its directory. Idempotent. */
  stop(): Promise<void>;
  /**
   * Stops the broker process (SIGTERM: it saves its persistent sessions),
   * waits `downMs`, and starts it again on the same port with the same
   * configuration and persistence directory.
   */
  restart(downMs?: number): Promise<void>;
  /** Writes new CRLs and sends SIGHUP, as a reloader beside the broker would; resolves once Mosquitto reloaded. */
  updateCrl(pem: string): Promise<void>;
}

const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/**
 * One TLS probe: true once the broker answers with TLS. The probe has no
 * client certificate, so the broker refuses it after (TLS 1.3) or during
 * (TLS 1.2) the handshake; either answer proves the listener is up and
 * serving its certificate, which the probe verifies against the CA.
 */
function probe(port: number, ca: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port, ca, rejectUnauthorized: true });
    const done = (up: boolean) => {
      socket.destroy();
      resolve(up);
    };
    socket.once('secureConnect', () => done(true));
    socket.once('error', (err: NodeJS.ErrnoException) => {
      const notListening = err.code === 'ECONNREFUSED' || err.code === 'ECONNRESET';
      done(
        !notListening &&
          !String(err.code ?? '').startsWith('ERR_TLS_CERT') &&
          err.code !== 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
      );
    });
    socket.setTimeout(2000, () => done(false));
  });
}

export async function startMosquitto(options: StartMosquittoOptions): Promise<MosquittoInstance> {
  if (!mosquittoAvailable()) throw new Error(`Mosquitto is not installed at ${MOSQUITTO_BINARY}`);
  const dir = await mkdtemp(join(tmpdir(), 'hark-mosquitto-'));
  const files = {
    caFile: join(dir, 'ca.crt'),
    certFile: join(dir, 'server.crt'),
    keyFile: join(dir, 'server.key'),
    aclFile: join(dir, 'acl'),
    persistenceDir: join(dir, 'data'),
    ...(options.crl ? { crlFile: join(dir, 'ca.crl') } : {}),
  };
  await mkdir(files.persistenceDir, { mode: 0o700 });
  await writeFile(files.caFile, options.tls.ca);
  await writeFile(files.certFile, options.tls.cert);
  await writeFile(files.keyFile, options.tls.key, { mode: 0o600 });
  if (files.crlFile) await writeFile(files.crlFile, options.crl!);

  // Started as root, Mosquitto would switch to user "mosquitto", who cannot
  // read our 0600 key: stay as whoever runs the tests.
  const user = process.getuid?.() === 0 ? userInfo().username : undefined;
  const timeoutMs = options.startTimeoutMs ?? 10_000;

  // The free port can be taken between probe and bind; try a few.
  let lastError: Error | undefined;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const { conf, acl } = mosquittoConfigFor({
      port,
      host: '127.0.0.1',
      topicPrefix: options.topicPrefix ?? 'hark',
      ...files,
      ...(options.maxPacketBytes ? { maxPacketBytes: options.maxPacketBytes } : {}),
      ...(user ? { user } : {}),
      logDest: 'stderr',
    });
    const confFile = join(dir, 'mosquitto.conf');
    await writeFile(files.aclFile, acl);
    await writeFile(confFile, conf);

    let log = '';
    const launch = () => {
      const c = spawn(MOSQUITTO_BINARY, ['-c', confFile], { stdio: ['ignore', 'ignore', 'pipe'] });
      running.add(c);
      c.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
        log += chunk;
      });
      const e = new Promise<number | null>((resolve) => c.once('exit', (code) => resolve(code)));
      c.once('exit', () => running.delete(c));
      return { c, e };
    };
    let { c: child, e: exited } = launch();

    let exitCode: number | null | undefined;
    void exited.then((code) => {
      exitCode = code;
    });
    const deadline = Date.now() + timeoutMs;
    let up = false;
    while (!up && exitCode === undefined && Date.now() < deadline) {
      up = await probe(port, options.tls.ca);
      if (!up) await new Promise((r) => setTimeout(r, 100));
    }

    if (up && exitCode === undefined) {
      let stopping: Promise<void> | undefined;
      return {
        host: '127.0.0.1',
        port,
        url: `mqtts://127.0.0.1:${port}`,
        dir,
        get pid() {
          return child.pid!;
        },
        logs: () => log,
        async restart(downMs = 0) {
          child.kill('SIGTERM');
          await exited;
          await new Promise((r) => setTimeout(r, downMs));
          ({ c: child, e: exited } = launch());
          const deadline = Date.now() + timeoutMs;
          while (!(await probe(port, options.tls.ca))) {
            if (Date.now() > deadline || child.exitCode !== null)
              throw new Error(`Mosquitto did not come back:\n${log}`);
            await new Promise((r) => setTimeout(r, 100));
          }
        },
        async updateCrl(pem: string) {
          if (!files.crlFile) throw new Error('this Mosquitto was started without a CRL');
          await writeFile(files.crlFile, pem);
          const reloads = () => log.split('Reloading config').length;
          const before = reloads();
          child.kill('SIGHUP');
          const deadline = Date.now() + timeoutMs;
          while (reloads() === before) {
            if (Date.now() > deadline) throw new Error(`Mosquitto did not reload on SIGHUP:\n${log}`);
            await new Promise((r) => setTimeout(r, 50));
          }
        },
        stop() {
          stopping ??= (async () => {
            if (child.exitCode === null && child.signalCode === null) {
              child.kill('SIGTERM');
              const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
              await exited;
              clearTimeout(timer);
            }
            await rm(dir, { recursive: true, force: true });
          })();
          return stopping;
        },
      };
    }

    child.kill('SIGKILL');
    await exited;
    lastError = new Error(
      `Mosquitto ${exitCode !== undefined ? `exited (${exitCode})` : `did not accept TLS within ${timeoutMs} ms`}:\n${log}`,
    );
    if (!/Address already in use/i.test(log)) break;
  }
  await rm(dir, { recursive: true, force: true });
  throw lastError ?? new Error('Mosquitto did not start');
}
