// Shared helpers for tests on the real captures in shared/pcaps (read at run
// time, never copied into the repo). Locates them via $HARK_SHARED_PCAPS or
// <repo>/../shared/pcaps and parses MANIFEST.md for the ground truth columns.
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { DeviceRecord } from '@hark/contracts/inventory';
import { readCapture } from '../src/capture/index.js';
import type { HintName, Observation } from '../src/decoders/index.js';
import { type Device, hintValues, ip4List } from '../src/inventory/device.js';
import { DeviceStore } from '../src/inventory/store.js';
import { formatIp4, formatMac } from '../src/packet/addresses.js';
import { Pipeline } from '../src/pipeline.js';

const here = dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = resolve(here, '..', '..');

function locate(): string | undefined {
  const candidates = [process.env.HARK_SHARED_PCAPS, join(REPO_ROOT, '..', 'shared', 'pcaps')];
  for (const c of candidates) if (c && existsSync(join(c, 'MANIFEST.md'))) return c;
  return undefined;
}

export const PCAPS = locate();
export const MISSING = PCAPS === undefined;
if (MISSING) {
  console.warn(
    'shared captures are missing: set HARK_SHARED_PCAPS or place them at <repo>/../shared/pcaps; real-capture tests are skipped',
  );
}

export function pcap(name: string): string {
  if (!PCAPS) throw new Error('shared captures are missing');
  return join(PCAPS, name);
}

export interface ManifestEntry {
  file: string;
  format: string;
  linkType: string;
  packets: number;
}

/** The "## Files" table of MANIFEST.md: file, format, link type and packet count per capture. */
export function manifest(): ManifestEntry[] {
  if (!PCAPS) return [];
  const text = readFileSync(join(PCAPS, 'MANIFEST.md'), 'utf8');
  const lines = text.split('\n');
  const header = lines.findIndex((l) => l.startsWith('| File |'));
  const columns = splitRow(lines[header]!);
  const col = (name: string) => columns.indexOf(name);
  const entries: ManifestEntry[] = [];
  for (let i = header + 2; i < lines.length && lines[i]!.startsWith('|'); i++) {
    const cells = splitRow(lines[i]!);
    entries.push({
      file: cells[col('File')]!.replace(/`/g, ''),
      format: cells[col('Format')]!,
      linkType: cells[col('Link type')]!,
      packets: Number(cells[col('Pkts')]!.replace(/,/g, '')),
    });
  }
  return entries;
}

function splitRow(line: string): string[] {
  return line
    .split('|')
    .slice(1, -1)
    .map((c) => c.trim());
}

/** The device whose MACs include `mac`. */
export function byMac(devices: DeviceRecord[], mac: string): DeviceRecord | undefined {
  return devices.find((d) => d.macs.includes(mac));
}

export function mustFindMac(devices: DeviceRecord[], mac: string): DeviceRecord {
  const d = byMac(devices, mac);
  if (!d)
    throw new Error(`no device with MAC ${mac}; have ${devices.map((x) => x.macs.join('/')).join(', ')}`);
  return d;
}

let built: Promise<unknown> | undefined;
/** Tests that run dist/cli.js build it first (a no-op when it is current). */
export function buildOnce(): Promise<unknown> {
  built ??= promisify(execFile)(
    process.execPath,
    [join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-b', join(REPO_ROOT, 'sensor-agent')],
    { cwd: REPO_ROOT },
  );
  return built;
}

/** A store that also keeps every observation, to test what decoders report about hosts that are no device (loopback). */
/** A device store that keeps every observation it is given, in order. */
export class RecordingStore extends DeviceStore {
  readonly recorded: Observation[] = [];
  override observe(o: Observation): void {
    this.recorded.push(o);
    super.observe(o);
  }
}

export interface RunResult {
  devices: DeviceRecord[];
  /** Every observation the decoders made. */
  observations: Observation[];
  /** A device's hint values (sorted), by record id. */
  hints(id: string, name: HintName): string[];
  pipeline: Pipeline;
}

/** The first IPv4 address an "ip:" device was keyed by. */
function firstIp4(d: Device): string | undefined {
  const n = ip4List(d)[0];
  return n !== undefined ? formatIp4(n) : d.x?.ipv4Text?.[0];
}

const runs = new Map<string, Promise<RunResult>>();
/** Runs the pipeline over a shared capture once per test file; records plus the per-device hints. */
export function run(file: string): Promise<RunResult> {
  let r = runs.get(file);
  if (!r) {
    r = (async () => {
      const store = new RecordingStore();
      // Every packet decoded: tests here are about what the decoders report (repeat-cache.test.ts covers skipping).
      const pipeline = new Pipeline({ store, skipRepeats: false });
      for await (const p of readCapture(pcap(file))) pipeline.process(p);
      pipeline.flush();
      const devices = pipeline.store.toRecords();
      const byId = new Map(
        pipeline.store
          .devices()
          .map((d) => [d.mac >= 0 ? `mac:${formatMac(d.mac)}` : `ip:${firstIp4(d)}`, d]),
      );
      const hints = (id: string, name: HintName) => {
        const d = byId.get(id);
        return d ? [...hintValues(d, name)].sort() : [];
      };
      return { devices, hints, pipeline, observations: store.recorded };
    })();
    runs.set(file, r);
  }
  return r;
}

export function byId(devices: DeviceRecord[], id: string): DeviceRecord {
  const d = devices.find((x) => x.id === id);
  if (!d) throw new Error(`no device ${id}; have ${devices.map((x) => x.id).join(', ')}`);
  return d;
}

/** Distinct values a capture's decoders reported for `name` about the host at `ip`. */
export function factsAbout(observations: Observation[], ip: string, name: string): string[] {
  return [...new Set(observations.filter((o) => o.ip === ip && o.name === name).map((o) => o.value))].sort();
}
