// Ingest flow control. An inventory message read from the broker is held in
// memory until the Parquet history has written it: first in the write-ahead
// log's queue, then in the history worker's backlog. When the history is
// slower than the inflow (a burst, a slow disk), that grows without bound
// unless reading stops. Above `limitBytes` held, gate() hands the ingest a
// promise to wait on before it reads the next message; the broker keeps what
// is not read (TCP pushes back to it), and reading resumes once the history
// has written enough.
import { Counter, Gauge, type Registry } from 'prom-client';

/** Default bound: 64 MiB of inventory payloads between the broker and the history. */
export const DEFAULT_HELD_LIMIT_BYTES = 64 * 1024 * 1024;

export class Backpressure {
  private waiters: (() => void)[] = [];
  private readonly pauses: Counter;
  private readonly paused: Gauge;

  constructor(
    private readonly limitBytes: number,
    /** Bytes held right now. */
    private readonly held: () => number,
    registry?: Registry,
  ) {
    const registers = registry ? [registry] : [];
    this.pauses = new Counter({
      name: 'hark_aggregator_ingest_pauses_total',
      help: 'Times the aggregator stopped reading from the broker because the history was too far behind',
      registers,
    });
    this.paused = new Gauge({
      name: 'hark_aggregator_ingest_paused',
      help: '1 while reading from the broker is paused for the history to catch up',
      registers,
    });
  }

  /** Undefined while under the limit; else a promise that resolves once under it again. */
  gate(): Promise<void> | undefined {
    if (this.held() < this.limitBytes) return undefined;
    if (this.waiters.length === 0) {
      this.pauses.inc();
      this.paused.set(1);
    }
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Call when bytes held may have fallen (the history wrote rows). */
  check(): void {
    if (this.waiters.length > 0 && this.held() < this.limitBytes) this.release();
  }

  /** Lets every waiter go (at shutdown: nothing more will be written). */
  release(): void {
    const waiters = this.waiters;
    this.waiters = [];
    this.paused.set(0);
    for (const resolve of waiters) resolve();
  }
}
