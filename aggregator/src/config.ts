// Options shared by the programmatic API and the CLI. Key material is given
// either as PEM text or as a path to a PEM file: Kubernetes mounts secrets as
// files, while tests and the demo hold freshly issued PEM strings in memory.
import { readFile } from 'node:fs/promises';

/** PEM text, or `{ path }` naming a PEM file. A bare string that does not look like PEM is read as a path. */
export type PemSource = string | { path: string };

export async function loadPem(source: PemSource, what: string): Promise<string> {
  if (typeof source === 'string' && source.includes('-----BEGIN ')) return source;
  const path = typeof source === 'string' ? source : source.path;
  try {
    const text = await readFile(path, 'utf8');
    if (!text.includes('-----BEGIN ')) throw new Error('not PEM');
    return text;
  } catch (err) {
    // Name the file, never its content: it may be a private key.
    throw new Error(`cannot read ${what} from ${path}: ${(err as Error).message}`);
  }
}

export const DEFAULTS = {
  topicPrefix: 'hark',
  httpPort: 8080,
  httpHost: '0.0.0.0',
  brokerPort: 8883,
  brokerHost: '0.0.0.0',
  /** Stable, so the broker keeps the aggregator's persistent session (clean: false) across restarts. */
  clientId: 'hark-aggregator',
  /** A sensor whose last heartbeat is older than this is reported stale. */
  staleAfterMs: 90_000,
  /** A sensor node's reports are its baseline for this long after it is first heard, and raise no alerts. */
  alertLearningMs: 24 * 3600_000,
  /** A sensor's certificate this close to expiry is an alert: a Sensor's default renewBefore is 30 days. */
  certificateWarningMs: 7 * 24 * 3600_000,
} as const;
