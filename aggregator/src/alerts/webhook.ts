// Alerts pushed to a webhook: a SOAR, a ticketing system, a chat bridge, a
// SIEM's HTTP collector. Each raise (first, or again) is POSTed once it is
// held, oldest first, in batches, as {"source":"hark","alerts":[...]} in the
// API's Alert shape.
//
// Nothing is lost: a cursor (the newest lastAt delivered, with the ids
// delivered at it) moves only on a 2xx, and it is in the aggregator's saved
// state, so after a restart delivery resumes from the last compaction.
// Delivery is at least once: what was delivered after that compaction is sent
// again after a crash; a receiver tells a repeat by the alert's id and lastAt.
// A receiver that is down or refusing gets the batch again after a back-off
// (doubling to 5 minutes); alerts raised meanwhile wait in the alert store
// (bounded: see --alert-learning and the store's 100,000).
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Logger } from '../log.js';
import type { Alert, AlertStore, DeliveryCursor } from './store.js';

export interface AlertWebhookOptions {
  url: string;
  /** The Authorization bearer token, read before each delivery (a mounted Secret may rotate). */
  token?: () => string | undefined;
  /** How often pending alerts are looked for; default 2 s. */
  intervalMs?: number;
  /** Alerts per POST; default 100. */
  batch?: number;
  timeoutMs?: number;
  userAgent?: string;
  logger: Logger;
  registry?: Registry;
}

const MAX_BACKOFF_MS = 5 * 60_000;

export class AlertWebhook {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private failures = 0;
  private retryAt = 0;
  private readonly log: Logger;
  private readonly posts: Counter<'result'>;
  private readonly delivered: Counter;

  constructor(
    private readonly alerts: AlertStore,
    private readonly options: AlertWebhookOptions,
  ) {
    if (!URL.canParse(options.url) || !/^https?:$/.test(new URL(options.url).protocol))
      throw new Error(`--alert-webhook "${redact(options.url)}" is not an http(s) URL`);
    const parsed = new URL(options.url);
    if (parsed.username || parsed.password)
      throw new Error(
        '--alert-webhook carries credentials in its URL, which fetch refuses and logs would show: put a bearer token in --alert-webhook-token-file instead',
      );
    this.log = options.logger.child({ module: 'alert-webhook' });
    const registers = options.registry ? [options.registry] : [];
    this.posts = new Counter({
      name: 'hark_aggregator_alert_webhook_posts_total',
      help: 'POSTs to the alert webhook, by result (delivered: a 2xx; failed: anything else, retried)',
      labelNames: ['result'],
      registers,
    });
    for (const result of ['delivered', 'failed']) this.posts.inc({ result }, 0);
    this.delivered = new Counter({
      name: 'hark_aggregator_alert_webhook_alerts_total',
      help: 'Alert raises delivered to the webhook',
      registers,
    });
    new Gauge({
      name: 'hark_aggregator_alert_webhook_pending',
      help: 'Alert raises held and not yet delivered to the webhook',
      registers,
      collect() {
        this.set(alerts.countRaisedAfter(alerts.delivered));
      },
    });
  }

  start(): void {
    // One delivery at a time: a tick while one is under way leaves it to finish.
    this.timer ??= setInterval(() => {
      this.running ??= this.run()
        .catch((err: Error) =>
          this.log.error({ err: err.message }, 'alert webhook delivery stopped; it resumes'),
        )
        .finally(() => {
          this.running = undefined;
        });
    }, this.options.intervalMs ?? 2000);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }

  private async run(): Promise<void> {
    if (Date.now() < this.retryAt) return;
    const batch = this.options.batch ?? 100;
    for (;;) {
      // Sorted once, walked a batch at a time: a backlog of 100k would otherwise be sorted per batch.
      const pending = this.alerts.raisedAfter(this.alerts.delivered);
      if (pending.length === 0) return;
      // The cursor moves by what was selected. A raise during a POST moves that alert's lastAt on (it is
      // the same object): it is then delivered again, and must not carry the cursor past the others.
      const marks = pending.map((a) => ({ id: a.id, lastAt: a.lastAt }));
      for (let from = 0; from < pending.length; from += batch) {
        const to = from + batch;
        if (!(await this.deliverBatch(pending.slice(from, to), marks.slice(from, to)))) return;
      }
    }
  }

  /** POSTs one batch and moves the cursor past it; false when it failed (retried after a back-off). */
  private async deliverBatch(alerts: Alert[], marks: { id: string; lastAt: string }[]): Promise<boolean> {
    const error = await this.post(alerts);
    if (error) {
      this.posts.inc({ result: 'failed' });
      const backoff = Math.min(MAX_BACKOFF_MS, (this.options.intervalMs ?? 2000) * 2 ** this.failures);
      this.failures++;
      this.retryAt = Date.now() + backoff;
      if (this.failures === 1)
        this.log.warn(
          { url: redact(this.options.url), error, pending: alerts.length },
          'alert webhook delivery failed; retrying with back-off, nothing is dropped',
        );
      return false;
    }
    this.posts.inc({ result: 'delivered' });
    this.delivered.inc(alerts.length);
    if (this.failures > 0) this.log.info({ url: redact(this.options.url) }, 'alert webhook delivering again');
    this.failures = 0;
    this.retryAt = 0;
    this.alerts.delivered = advance(this.alerts.delivered, marks);
    return true;
  }

  /** POSTs a batch; undefined when the receiver took it (2xx), else what went wrong. */
  private async post(alerts: unknown[]): Promise<string | undefined> {
    const token = this.options.token?.();
    try {
      const response = await fetch(this.options.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...(this.options.userAgent ? { 'user-agent': this.options.userAgent } : {}),
          ...(token ? { authorization: `Bearer ${token}` } : {}),
        },
        body: JSON.stringify({ source: 'hark', alerts }),
        signal: AbortSignal.timeout(this.options.timeoutMs ?? 10_000),
      });
      await response.arrayBuffer().catch(() => undefined);
      return response.ok ? undefined : `HTTP ${response.status}`;
    } catch (err) {
      const cause = (err as Error & { cause?: Error }).cause;
      return cause?.message ?? (err as Error).message;
    }
  }
}

/** The cursor after delivering `batch` (oldest first, all after `cursor`). */
function advance(
  cursor: DeliveryCursor | undefined,
  batch: { id: string; lastAt: string }[],
): DeliveryCursor {
  const lastAt = batch.at(-1)!.lastAt;
  const ids = batch.filter((a) => a.lastAt === lastAt).map((a) => a.id);
  if (cursor?.lastAt === lastAt) ids.push(...cursor.ids);
  return { lastAt, ids };
}

/** The URL without credentials or query (which may carry a key), for the log. */
function redact(url: string): string {
  if (!URL.canParse(url)) return '(not a URL)';
  const u = new URL(url);
  return `${u.protocol}//${u.host}${u.pathname}`;
}
