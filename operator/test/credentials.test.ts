// The operator's own kubeconfig loader (operator/src/kube/credentials.ts),
// through its public function, on kubeconfig files as kubectl, kind and
// cloud CLIs write them.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { RequestOptions } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { loadCredentials } from '../src/kube/credentials.js';

describe('loadCredentials', () => {
  let dir: string;
  const savedKubeconfig = process.env.KUBECONFIG;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'hark-kubeconfig-'));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
    if (savedKubeconfig === undefined) delete process.env.KUBECONFIG;
    else process.env.KUBECONFIG = savedKubeconfig;
  });

  const kubeconfig = (user: Record<string, unknown>, cluster: Record<string, unknown> = {}) => {
    const path = join(dir, 'config');
    writeFileSync(
      path,
      stringify({
        apiVersion: 'v1',
        kind: 'Config',
        'current-context': 'edge',
        contexts: [{ name: 'edge', context: { cluster: 'site', user: 'operator' } }],
        clusters: [{ name: 'site', cluster: { server: 'https://10.0.0.1:6443', ...cluster } }],
        users: [{ name: 'operator', user }],
      }),
    );
    return path;
  };
  const applied = async (path?: string) => {
    const credentials = await loadCredentials(path);
    const opts: RequestOptions = { headers: {} };
    await credentials.applyToHTTPSOptions(opts);
    return { server: credentials.server.toString(), opts };
  };

  it('reads embedded certificates and keys', async () => {
    const b64 = (text: string) => Buffer.from(text).toString('base64');
    const { server, opts } = await applied(
      kubeconfig(
        { 'client-certificate-data': b64('CERT'), 'client-key-data': b64('KEY') },
        { 'certificate-authority-data': b64('CA') },
      ),
    );
    expect(server).toBe('https://10.0.0.1:6443/');
    expect([String(opts.ca), String(opts.cert), String(opts.key)]).toEqual(['CA', 'CERT', 'KEY']);
    expect(opts.rejectUnauthorized).toBe(true);
  });

  it('reads the CA and token files relative to the kubeconfig', async () => {
    writeFileSync(join(dir, 'ca.crt'), 'CA-FILE');
    writeFileSync(join(dir, 'token'), 'first\n');
    const path = kubeconfig(
      { tokenFile: 'token' },
      { 'certificate-authority': 'ca.crt', 'tls-server-name': 'api.site' },
    );
    const { opts } = await applied(path);
    expect(String(opts.ca)).toBe('CA-FILE');
    expect(opts.servername).toBe('api.site');
    expect((opts.headers as Record<string, string>).Authorization).toBe('Bearer first');
  });

  it('honours insecure-skip-tls-verify and a static token; KUBECONFIG when no path is given', async () => {
    process.env.KUBECONFIG = `${kubeconfig({ token: 'abc' }, { 'insecure-skip-tls-verify': true })}:/nonexistent`;
    const { opts } = await applied();
    expect(opts.rejectUnauthorized).toBe(false);
    expect((opts.headers as Record<string, string>).Authorization).toBe('Bearer abc');
  });

  it('says what is missing', async () => {
    const path = join(dir, 'broken');
    writeFileSync(path, stringify({ 'current-context': 'nowhere', contexts: [] }));
    await expect(loadCredentials(path)).rejects.toThrow(`kubeconfig ${path}: no context named "nowhere"`);
    writeFileSync(path, stringify({ contexts: [] }));
    await expect(loadCredentials(path)).rejects.toThrow('has no current-context');
    await expect(loadCredentials(join(dir, 'absent'))).rejects.toThrow(/cannot read the kubeconfig/);
  });

  it('hands exec-plugin kubeconfigs to client-node', async () => {
    const path = kubeconfig({
      exec: { apiVersion: 'client.authentication.k8s.io/v1', command: 'echo', args: ['unused'] },
    });
    const credentials = await loadCredentials(path);
    expect(credentials.server.toString()).toBe('https://10.0.0.1:6443/');
  });
});
