// The CRL file a broker enforces, re-read while it runs. Kubernetes updates a
// mounted Secret by swapping a symlink, which inotify-based watches miss, so
// the file is polled: a CRL changes rarely and a minute's delay is the same
// order as Mosquitto's reload on SIGHUP.
import { readFile } from 'node:fs/promises';
import { Counter, Gauge, type Registry } from 'prom-client';
import { type Logger, silentLogger } from '../log.js';
import type { RevocationSource } from './embedded.js';
import { RevocationList } from './revocation.js';

export interface CrlFileOptions {
  /** The broker's trust bundle (PEM), where clients' issuers are looked up. */
  trustBundlePem: string;
  /** How often the file is re-read; default 30 s. */
  reloadIntervalMs?: number;
  logger?: Logger;
  registry?: Registry;
}

export interface CrlFile extends RevocationSource {
  close(): void;
}

async function load(path: string, trustBundlePem: string): Promise<{ text: string; list: RevocationList }> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new Error(`cannot read the CRL file ${path}: ${(err as Error).message}`);
  }
  try {
    return { text, list: RevocationList.fromPem(text, trustBundlePem) };
  } catch (err) {
    throw new Error(`the CRL file ${path} is not a PEM CRL: ${(err as Error).message}`);
  }
}

/** Loads `path` (throwing a clear error when it is missing or malformed) and keeps it current. */
export async function watchCrlFile(path: string, options: CrlFileOptions): Promise<CrlFile> {
  const log = (options.logger ?? silentLogger).child({ module: 'crl' });
  const registers = options.registry ? [options.registry] : [];
  const reloadErrors = new Counter({
    name: 'hark_broker_crl_reload_errors_total',
    help: 'Re-reads of the CRL file that failed; the previous CRL stays in force',
    registers,
  });
  const nextUpdate = new Gauge({
    name: 'hark_broker_crl_next_update_timestamp_seconds',
    help: 'The earliest nextUpdate of the enforced CRLs: past it, that issuer’s clients are refused (alert well before)',
    registers,
  });
  let { text, list } = await load(path, options.trustBundlePem);
  const listeners: Array<() => void> = [];
  const announce = () => {
    const next = list.earliestNextUpdate;
    if (next) nextUpdate.set(next.getTime() / 1000);
    log.info({ path, crls: list.size, earliestNextUpdate: next?.toISOString() }, 'CRL loaded');
  };
  announce();

  const reload = async (): Promise<void> => {
    try {
      const fresh = await load(path, options.trustBundlePem);
      if (fresh.text === text) return;
      ({ text, list } = fresh);
    } catch (err) {
      reloadErrors.inc();
      log.error({ err: (err as Error).message }, 'CRL reload failed; the previous CRL stays in force');
      return;
    }
    announce();
    for (const listener of listeners) listener();
  };
  const timer = setInterval(() => void reload(), options.reloadIntervalMs ?? 30_000);
  timer.unref();
  return {
    current: () => list,
    onChange: (listener) => void listeners.push(listener),
    close: () => clearInterval(timer),
  };
}
