// A small Kubernetes REST client on node:https. @kubernetes/client-node
// loads kubeconfigs and produces credentials (certificates, tokens, exec
// plugins); we make the requests ourselves because the operator needs exact
// control over what its generated API classes make awkward: server-side apply
// content types with force and a field manager, status subresource applies,
// and watch streams whose failures we see and handle rather than lose.

import { request as httpRequest } from 'node:http';
import { Agent, request } from 'node:https';
import type { ClusterCredentials } from './credentials.js';

export const FIELD_MANAGER = 'hark-operator';

export class KubeApiError extends Error {
  constructor(
    readonly status: number,
    readonly reason: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = 'KubeApiError';
  }
}

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    generation?: number;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    ownerReferences?: OwnerReference[];
    finalizers?: string[];
    deletionTimestamp?: string;
    creationTimestamp?: string;
    managedFields?: unknown[];
  };
  [key: string]: unknown;
}

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

export interface KubeList<T> {
  metadata: { resourceVersion: string; continue?: string };
  items: T[];
}

export interface RequestOptions {
  body?: unknown;
  contentType?: string;
  query?: Record<string, string | number | boolean | undefined>;
  timeoutMs?: number;
}

/** REST paths for a resource: core ("v1") or grouped ("apps/v1"). */
export function resourcePath(
  apiVersion: string,
  plural: string,
  namespace?: string,
  name?: string,
  sub?: string,
): string {
  const base = apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
  const ns = namespace ? `/namespaces/${encodeURIComponent(namespace)}` : '';
  const tail = name ? `/${encodeURIComponent(name)}${sub ? `/${sub}` : ''}` : '';
  return `${base}${ns}/${plural}${tail}`;
}

export class KubeClient {
  private readonly server: URL;
  private agent?: Agent;

  constructor(private readonly credentials: ClusterCredentials) {
    this.server = credentials.server;
  }

  get serverUrl(): string {
    return this.server.toString();
  }

  private async options(method: string, path: string, headers: Record<string, string>, timeoutMs?: number) {
    const opts: import('node:https').RequestOptions = { method, headers: { ...headers } };
    await this.credentials.applyToHTTPSOptions(opts);
    if (!this.agent) {
      // One keep-alive agent for every request; credentials that rotate
      // (tokens) travel in headers that applyToHTTPSOptions refreshes per call.
      this.agent = new Agent({
        keepAlive: true,
        maxSockets: 32,
        ca: opts.ca,
        cert: opts.cert,
        key: opts.key,
        rejectUnauthorized: opts.rejectUnauthorized,
      });
    }
    const url = new URL(path, this.server);
    return {
      ...opts,
      agent: this.server.protocol === 'https:' ? this.agent : undefined,
      hostname: url.hostname,
      port: url.port,
      path: `${url.pathname}${url.search}`,
      timeout: timeoutMs,
    };
  }

  async request<T>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
    const query = opts.query ? `?${toQuery(opts.query)}` : '';
    const body =
      opts.body === undefined
        ? undefined
        : typeof opts.body === 'string'
          ? opts.body
          : JSON.stringify(opts.body);
    const headers: Record<string, string> = { Accept: 'application/json' };
    if (body !== undefined) headers['Content-Type'] = opts.contentType ?? 'application/json';
    const options = await this.options(method, `${path}${query}`, headers, opts.timeoutMs ?? 30_000);
    const send = this.server.protocol === 'https:' ? request : httpRequest;
    return new Promise<T>((resolve, reject) => {
      const req = send(options, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          const status = res.statusCode ?? 0;
          let parsed: unknown;
          try {
            parsed = text ? JSON.parse(text) : undefined;
          } catch {
            parsed = undefined;
          }
          if (status >= 200 && status < 300) return resolve(parsed as T);
          const s = parsed as { reason?: string; message?: string; details?: unknown } | undefined;
          reject(
            new KubeApiError(
              status,
              s?.reason ?? 'Unknown',
              `${method} ${path}: ${status} ${s?.message ?? text.slice(0, 500)}`,
              s?.details,
            ),
          );
        });
      });
      req.on('timeout', () => req.destroy(new Error(`${method} ${path}: timed out`)));
      req.on('error', reject);
      if (body !== undefined) req.write(body);
      req.end();
    });
  }

  get<T>(path: string): Promise<T> {
    return this.request<T>('GET', path);
  }

  /** Server-side apply with our field manager; `force` takes ownership of fields another manager changed (drift). */
  apply<T extends KubeObject>(path: string, object: KubeObject, force = true): Promise<T> {
    return this.request<T>('PATCH', path, {
      body: object,
      contentType: 'application/apply-patch+yaml',
      query: { fieldManager: FIELD_MANAGER, force },
    });
  }

  mergePatch<T>(path: string, patch: unknown): Promise<T> {
    return this.request<T>('PATCH', path, { body: patch, contentType: 'application/merge-patch+json' });
  }

  jsonPatch<T>(path: string, ops: unknown[]): Promise<T> {
    return this.request<T>('PATCH', path, { body: ops, contentType: 'application/json-patch+json' });
  }

  delete(path: string): Promise<unknown> {
    return this.request('DELETE', path);
  }

  /**
   * Opens a watch stream and calls `onEvent` per event. Resolves when the
   * server closes the stream; rejects on transport errors. `abort()` closes it.
   */
  async watch(
    path: string,
    query: Record<string, string | number | boolean | undefined>,
    onEvent: (event: { type: string; object: KubeObject & { code?: number; reason?: string } }) => void,
    signal: AbortSignal,
  ): Promise<void> {
    const qs = toQuery({ ...query, watch: true });
    const options = await this.options('GET', `${path}?${qs}`, { Accept: 'application/json' });
    const send = this.server.protocol === 'https:' ? request : httpRequest;
    return new Promise<void>((resolve, reject) => {
      const req = send({ ...options, signal }, (res) => {
        if ((res.statusCode ?? 0) >= 300) {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () =>
            reject(
              new KubeApiError(
                res.statusCode ?? 0,
                'WatchFailed',
                `watch ${path}: ${res.statusCode} ${Buffer.concat(chunks).toString('utf8').slice(0, 300)}`,
              ),
            ),
          );
          return;
        }
        let buffered = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          buffered += chunk;
          let newline = buffered.indexOf('\n');
          while (newline >= 0) {
            const line = buffered.slice(0, newline).trim();
            buffered = buffered.slice(newline + 1);
            if (line) {
              try {
                onEvent(JSON.parse(line));
              } catch (error) {
                req.destroy(error as Error);
                return;
              }
            }
            newline = buffered.indexOf('\n');
          }
        });
        res.on('end', () => resolve());
        res.on('error', (e) => (signal.aborted ? resolve() : reject(e)));
      });
      req.on('error', (e) => (signal.aborted ? resolve() : reject(e)));
      req.end();
    });
  }
}

function toQuery(query: Record<string, string | number | boolean | undefined>): URLSearchParams {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined) params.set(k, String(v));
  return params;
}

export function isNotFound(error: unknown): boolean {
  return error instanceof KubeApiError && error.status === 404;
}

export function isConflict(error: unknown): boolean {
  return error instanceof KubeApiError && error.status === 409;
}
