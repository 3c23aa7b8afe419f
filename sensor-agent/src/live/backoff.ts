// The restart policy both capture backends share: exponential back-off from
// `initialMs` up to `maxMs`, reset once a run has lasted HEALTHY_RUN_MS (an
// interface that flaps once an hour should not wait 30 s to come back).

/** A run lasting this long resets the back-off. */
export const HEALTHY_RUN_MS = 30_000;
export const DEFAULT_BACKOFF = { initialMs: 500, maxMs: 30_000 } as const;

export class RestartBackoff {
  private attempt = 0;

  constructor(private readonly options: { initialMs: number; maxMs: number } = DEFAULT_BACKOFF) {}

  /** The delay before the next attempt, after a run (or failed open) that lasted `ranMs`. */
  next(ranMs: number): { delayMs: number; attempt: number } {
    if (ranMs >= HEALTHY_RUN_MS) this.attempt = 0;
    const delayMs = Math.min(this.options.maxMs, this.options.initialMs * 2 ** this.attempt);
    this.attempt++;
    return { delayMs, attempt: this.attempt };
  }
}
