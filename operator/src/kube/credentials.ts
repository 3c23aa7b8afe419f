// Where the API server is and how to authenticate to it: the in-cluster
// ServiceAccount, or a kubeconfig.
//
// Our own for the cases the operator meets in production and tests (in-cluster;
// a kubeconfig with client certificates, a token or a token file), because
// @kubernetes/client-node's KubeConfig imports the library's whole generated
// API: ~30 MB of the operator's 60 MB live heap at 1,000 Sensors, found with a
// heap snapshot of `make bench ARGS=operator-scale`. A kubeconfig that needs an
// exec plugin or an auth provider (cloud logins, when running the operator
// from a laptop) is handed to client-node, imported only then.
import { existsSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { RequestOptions } from 'node:https';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join } from 'node:path';
import { parse } from 'yaml';

export interface ClusterCredentials {
  /** The API server's base URL. */
  server: URL;
  /** Adds the CA, client certificate and Authorization header to a request; called per request (tokens rotate). */
  applyToHTTPSOptions(opts: RequestOptions): Promise<void>;
}

const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';
/** Projected ServiceAccount tokens rotate hourly; re-reading every minute is what client-go does. */
const TOKEN_REREAD_MS = 60_000;

/** A token read from a file, re-read now and then because the kubelet rotates it. */
function tokenFile(path: string): () => Promise<string> {
  let cached: { token: string; at: number } | undefined;
  return async () => {
    if (!cached || Date.now() - cached.at > TOKEN_REREAD_MS) {
      cached = { token: (await readFile(path, 'utf8')).trim(), at: Date.now() };
    }
    return cached.token;
  };
}

function credentials(
  server: string,
  tls: { ca?: Buffer; cert?: Buffer; key?: Buffer; insecure?: boolean; serverName?: string },
  token?: () => Promise<string>,
): ClusterCredentials {
  return {
    server: new URL(server),
    async applyToHTTPSOptions(opts) {
      if (tls.ca) opts.ca = tls.ca;
      if (tls.cert) opts.cert = tls.cert;
      if (tls.key) opts.key = tls.key;
      if (tls.serverName) opts.servername = tls.serverName;
      opts.rejectUnauthorized = !tls.insecure;
      if (token) opts.headers = { ...opts.headers, Authorization: `Bearer ${await token()}` };
    },
  };
}

/** The in-cluster ServiceAccount, when running in a pod. */
function inCluster(): ClusterCredentials | undefined {
  const host = process.env.KUBERNETES_SERVICE_HOST;
  const port = process.env.KUBERNETES_SERVICE_PORT;
  if (!host || !port || !existsSync(join(SERVICE_ACCOUNT_DIR, 'token'))) return undefined;
  const hostPart = host.includes(':') ? `[${host}]` : host;
  return credentials(
    `https://${hostPart}:${port}`,
    { ca: readFileSync(join(SERVICE_ACCOUNT_DIR, 'ca.crt')) },
    tokenFile(join(SERVICE_ACCOUNT_DIR, 'token')),
  );
}

/** Reads a kubeconfig file; throws naming the file and what is missing. */
async function fromKubeconfig(path: string): Promise<ClusterCredentials> {
  let doc: Record<string, unknown>;
  try {
    doc = parse(readFileSync(path, 'utf8')) ?? {};
  } catch (err) {
    throw new Error(`cannot read the kubeconfig ${path}: ${(err as Error).message}`);
  }
  const pick = <T>(list: unknown, key: string, name: string | undefined, what: string): T => {
    const found = (list as Array<Record<string, unknown>> | undefined)?.find((entry) => entry.name === name);
    const value = found?.[key] as T | undefined;
    if (!value) throw new Error(`kubeconfig ${path}: no ${what} named "${name ?? ''}"`);
    return value;
  };
  const contextName = doc['current-context'] as string | undefined;
  if (!contextName)
    throw new Error(`kubeconfig ${path} has no current-context: set one, or pass --kubeconfig`);
  const context = pick<{ cluster: string; user: string }>(doc.contexts, 'context', contextName, 'context');
  const cluster = pick<Record<string, string | boolean>>(doc.clusters, 'cluster', context.cluster, 'cluster');
  const user = pick<Record<string, unknown>>(doc.users, 'user', context.user, 'user');

  if (user.exec || user['auth-provider']) {
    // Cloud logins run a plugin or refresh OIDC tokens: client-node knows them all.
    const { KubeConfig } = await import('@kubernetes/client-node');
    const kc = new KubeConfig();
    kc.loadFromFile(path);
    const current = kc.getCurrentCluster();
    if (!current) throw new Error(`kubeconfig ${path}: no current cluster`);
    return {
      server: new URL(current.server),
      applyToHTTPSOptions: (opts) => kc.applyToHTTPSOptions(opts),
    };
  }

  const base = dirname(path);
  const file = (p: unknown) => readFileSync(isAbsolute(String(p)) ? String(p) : join(base, String(p)));
  const material = (dataKey: string, fileKey: string, from: Record<string, unknown>) =>
    from[dataKey]
      ? Buffer.from(String(from[dataKey]), 'base64')
      : from[fileKey]
        ? file(from[fileKey])
        : undefined;
  const tokenPath = user.tokenFile;
  const staticToken = user.token as string | undefined;
  const token = staticToken
    ? async () => staticToken
    : tokenPath
      ? tokenFile(isAbsolute(String(tokenPath)) ? String(tokenPath) : join(base, String(tokenPath)))
      : undefined;
  const tls: { ca?: Buffer; cert?: Buffer; key?: Buffer; insecure?: boolean; serverName?: string } = {
    insecure: cluster['insecure-skip-tls-verify'] === true,
  };
  const ca = material('certificate-authority-data', 'certificate-authority', cluster);
  const cert = material('client-certificate-data', 'client-certificate', user);
  const key = material('client-key-data', 'client-key', user);
  if (ca) tls.ca = ca;
  if (cert) tls.cert = cert;
  if (key) tls.key = key;
  if (cluster['tls-server-name']) tls.serverName = String(cluster['tls-server-name']);
  return credentials(String(cluster.server), tls, token);
}

/**
 * As controller-runtime looks: `kubeconfig` when given, else $KUBECONFIG (its
 * first file), else the in-cluster ServiceAccount, else ~/.kube/config.
 */
export async function loadCredentials(kubeconfig?: string): Promise<ClusterCredentials> {
  const path = kubeconfig ?? process.env.KUBECONFIG?.split(':').find((p) => p.length > 0);
  if (path) return fromKubeconfig(path);
  const pod = inCluster();
  if (pod) return pod;
  const home = join(homedir(), '.kube', 'config');
  if (!existsSync(home)) {
    throw new Error(
      `no Kubernetes credentials: not in a pod, and no kubeconfig at ${home} (pass --kubeconfig or set KUBECONFIG)`,
    );
  }
  return fromKubeconfig(home);
}
