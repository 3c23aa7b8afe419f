// Flux judges health with kstatus: run the upstream library (test/helm/kstatus, pinned in go.mod) over the
// Sensor fixtures in testdata/. The module download is cached by Go; skipped, saying so, without Go.
import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const hasGo = spawnSync('go', ['version']).status === 0;

describe.skipIf(!hasGo)('kstatus (Flux) reads Sensors', () => {
  if (!hasGo) console.warn('skipping: Go is not installed');

  it('computes InProgress / Current / Failed / Terminating from the Sensor conditions', () => {
    const out = execFileSync('go', ['test', '-count=1', '-v', './...'], {
      cwd: join(import.meta.dirname, 'kstatus'),
      encoding: 'utf8',
      env: { ...process.env, GOFLAGS: '-mod=readonly' },
    });
    for (const [name, status] of [
      ['new-observed-generation-minus-one', 'InProgress'],
      ['progressing', 'InProgress'],
      ['ready', 'Current'],
      ['stalled', 'Failed'],
      ['deleting', 'Terminating'],
    ])
      expect(out).toContain(`${name}: ${status}`);
    expect(out).toMatch(/^ok\s/m);
  }, 300_000);
});
