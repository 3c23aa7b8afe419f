// The informer's silence watchdog against a real API server behind a TCP
// proxy that can freeze: the connections open at that moment stay open but
// carry nothing more (a NAT or load balancer that dropped its state without a
// reset), which no error and no end-of-stream ever reports. Only the watchdog
// notices; the relist over a fresh connection brings the cache back.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ControlPlane } from '../../test/support/controlplane.js';
import { waitFor } from '../../test/support/processes.js';
import { KubeClient, type KubeObject } from '../src/kube/client.js';
import { loadCredentials } from '../src/kube/credentials.js';
import { Informer } from '../src/kube/informer.js';

interface FreezableProxy {
  port: number;
  /** From now on, connections already open forward nothing; new ones work. */
  freeze(): void;
  close(): Promise<void>;
}

async function freezableProxy(target: URL): Promise<FreezableProxy> {
  const open = new Set<{ client: Socket; upstream: Socket }>();
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect(Number(target.port), target.hostname);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
    }
    const pair = { client, upstream };
    open.add(pair);
    client.pipe(upstream);
    upstream.pipe(client);
    const drop = () => {
      open.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as { port: number }).port,
    freeze() {
      for (const { client, upstream } of open) {
        upstream.unpipe(client);
        client.unpipe(upstream);
        upstream.pause();
        client.pause();
      }
      open.clear();
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe('informer watchdog', () => {
  let cp: ControlPlane;
  let proxy: FreezableProxy;

  beforeAll(async () => {
    cp = await new ControlPlane({ withWorkloads: false }).start();
    proxy = await freezableProxy(new URL(cp.apiServerUrl));
  });

  afterAll(async () => {
    await proxy?.close();
    await cp?.stop();
  });

  it('relists when a watch goes silent, and the cache catches up', { timeout: 120_000 }, async () => {
    const viaProxy = join(mkdtempSync(join(tmpdir(), 'hark-kubeconfig-')), 'kubeconfig');
    writeFileSync(
      viaProxy,
      readFileSync(cp.adminKubeconfigPath, 'utf8').replace(
        cp.apiServerUrl,
        `https://127.0.0.1:${proxy.port}`,
      ),
    );
    const lines: string[] = [];
    const log = pino({ level: 'warn' }, { write: (line: string) => void lines.push(line) });
    const informer = new Informer<KubeObject>(
      new KubeClient(await loadCredentials(viaProxy)),
      { path: '/api/v1/namespaces/default/configmaps', labelSelector: 'test=watchdog', watchdogMs: 3_000 },
      log,
    );
    const seen: string[] = [];
    informer.on((event, object) => {
      if (event === 'add') seen.push(object.metadata.name!);
    });
    const configMap = (name: string) =>
      cp.kubectl(['create', 'configmap', name, '-n', 'default']) &&
      cp.kubectl(['label', 'configmap', name, '-n', 'default', 'test=watchdog']);
    try {
      informer.start();
      await informer.waitForSync();
      configMap('before-freeze');
      await waitFor('the watch to deliver before-freeze', () => seen.includes('before-freeze'));

      proxy.freeze();
      configMap('during-freeze');
      await waitFor('the watchdog relist to deliver during-freeze', () => seen.includes('during-freeze'), {
        timeoutMs: 90_000,
        describe: () => lines.join(''),
      });
      expect(lines.join('')).toContain('watch went silent; relisting');
      expect(informer.get('default', 'during-freeze')).toBeDefined();
    } finally {
      await informer.stop();
    }
  });
});
