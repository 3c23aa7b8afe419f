// A list-watch cache that survives what client-node's informer does not:
// watch errors other than 410 Gone, watches that silently stop delivering
// (a last-event watchdog, fed by bookmarks), API-server restarts (back-off
// and relist), and slow drift (a periodic full relist that re-fires every key).
import type { Logger } from 'pino';
import { KubeApiError, type KubeClient, type KubeList, type KubeObject } from './client.js';

export type InformerEvent = 'add' | 'update' | 'delete' | 'resync';

export interface InformerOptions {
  /** Collection path, e.g. /apis/hark.dev/v1alpha1/sensors. */
  path: string;
  labelSelector?: string;
  /** Relist when no event or bookmark has arrived for this long. */
  watchdogMs?: number;
  /** Full relist period; every object is re-announced as 'resync'. */
  resyncMs?: number;
  maxBackoffMs?: number;
}

export class Informer<T extends KubeObject> {
  private readonly store = new Map<string, T>();
  private readonly handlers: Array<(event: InformerEvent, object: T) => void> = [];
  private abort = new AbortController();
  private stopped = false;
  private synced = false;
  private resourceVersion = '';
  private lastEventAt = Date.now();
  private timers: NodeJS.Timeout[] = [];
  private loop?: Promise<void>;
  private failures = 0;

  constructor(
    private readonly client: KubeClient,
    private readonly options: InformerOptions,
    private readonly log: Logger,
  ) {}

  on(handler: (event: InformerEvent, object: T) => void): void {
    this.handlers.push(handler);
  }

  get hasSynced(): boolean {
    return this.synced;
  }

  get(namespace: string | undefined, name: string): T | undefined {
    return this.store.get(keyOf(namespace, name));
  }

  list(): T[] {
    return [...this.store.values()];
  }

  start(): void {
    const watchdogMs = this.options.watchdogMs ?? 5 * 60_000;
    this.timers.push(
      setInterval(
        () => {
          if (Date.now() - this.lastEventAt > watchdogMs) {
            this.log.warn(
              { path: this.options.path, silentForMs: Date.now() - this.lastEventAt },
              'watch went silent; relisting',
            );
            this.resourceVersion = '';
            this.abort.abort();
          }
        },
        Math.min(watchdogMs, 30_000),
      ).unref(),
    );
    this.timers.push(
      setInterval(
        () => {
          for (const object of this.store.values()) this.emit('resync', object);
        },
        this.options.resyncMs ?? 10 * 60_000,
      ).unref(),
    );
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    this.abort.abort();
    await this.loop;
  }

  /** Resolves once the first list has been loaded into the cache. */
  async waitForSync(timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.synced) {
      if (Date.now() > deadline)
        throw new Error(`cache for ${this.options.path} did not sync within ${timeoutMs}ms`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  private emit(event: InformerEvent, object: T): void {
    for (const h of this.handlers) {
      try {
        h(event, object);
      } catch (error) {
        this.log.error({ err: error }, 'informer handler failed');
      }
    }
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      try {
        if (!this.resourceVersion) await this.relist();
        this.abort = new AbortController();
        this.lastEventAt = Date.now();
        await this.client.watch(
          this.options.path,
          {
            resourceVersion: this.resourceVersion,
            allowWatchBookmarks: true,
            labelSelector: this.options.labelSelector,
            // The server ends the watch before this, and we resume from the last resourceVersion.
            timeoutSeconds: 240 + Math.floor(Math.random() * 60),
          },
          (event) => this.handle(event as { type: string; object: T }),
          this.abort.signal,
        );
        this.failures = 0;
      } catch (error) {
        if (this.stopped) return;
        if (error instanceof KubeApiError && error.status === 410) {
          this.resourceVersion = '';
          continue;
        }
        this.failures++;
        const delay = Math.min(this.options.maxBackoffMs ?? 30_000, 250 * 2 ** Math.min(this.failures, 8));
        this.log.warn(
          { path: this.options.path, err: String(error), retryInMs: delay },
          'list/watch failed; retrying',
        );
        // After a failure the server may have compacted past our version; a relist is always correct.
        this.resourceVersion = '';
        await new Promise((r) => setTimeout(r, delay * (0.8 + Math.random() * 0.4)));
      }
    }
  }

  private async relist(): Promise<void> {
    const query = new URLSearchParams({ limit: '500' });
    if (this.options.labelSelector) query.set('labelSelector', this.options.labelSelector);
    const seen = new Set<string>();
    let list: KubeList<T>;
    let cont: string | undefined;
    do {
      if (cont) query.set('continue', cont);
      list = await this.client.get<KubeList<T>>(`${this.options.path}?${query}`);
      for (const item of list.items) {
        const key = keyOf(item.metadata.namespace, item.metadata.name);
        seen.add(key);
        const previous = this.store.get(key);
        stripManagedFields(item);
        this.store.set(key, item);
        if (!previous) this.emit('add', item);
        else if (previous.metadata.resourceVersion !== item.metadata.resourceVersion)
          this.emit('update', item);
      }
      cont = list.metadata.continue || undefined;
    } while (cont);
    for (const [key, object] of this.store) {
      if (!seen.has(key)) {
        this.store.delete(key);
        this.emit('delete', object);
      }
    }
    this.resourceVersion = list.metadata.resourceVersion;
    this.synced = true;
  }

  private handle(event: { type: string; object: T & { code?: number } }): void {
    this.lastEventAt = Date.now();
    const object = event.object;
    if (event.type === 'BOOKMARK') {
      this.resourceVersion = object.metadata.resourceVersion ?? this.resourceVersion;
      return;
    }
    if (event.type === 'ERROR') {
      const code = (object as { code?: number }).code ?? 0;
      throw new KubeApiError(code, 'WatchError', `watch error ${code}`);
    }
    const key = keyOf(object.metadata.namespace, object.metadata.name);
    this.resourceVersion = object.metadata.resourceVersion ?? this.resourceVersion;
    if (event.type === 'DELETED') {
      this.store.delete(key);
      this.emit('delete', object);
    } else {
      const existed = this.store.has(key);
      stripManagedFields(object);
      this.store.set(key, object);
      this.emit(existed ? 'update' : 'add', object);
    }
  }
}

/**
 * Server-side apply's bookkeeping is often the largest part of an object and
 * the operator never reads it; not caching it keeps memory proportional to
 * what the reconciler uses (controller-runtime strips it the same way).
 */
function stripManagedFields(object: KubeObject): void {
  if (object.metadata) delete object.metadata.managedFields;
}

export function keyOf(namespace: string | undefined, name: string): string {
  return namespace ? `${namespace}/${name}` : name;
}
