// The Argo CD health check for Sensors (charts/hark-operator/files/argocd-health.lua), run by a real Lua
// interpreter (Debian's lua5.4; Argo CD embeds gopher-lua, a Lua 5.1, and the script uses nothing newer)
// over the Sensor fixtures in testdata/, the same ones kstatus is tested with.
import { execFileSync, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { root } from './support.js';

const script = join(root, 'charts', 'hark-operator', 'files', 'argocd-health.lua');
const testdata = join(import.meta.dirname, 'testdata');
const lua = ['lua5.4', 'lua'].find((bin) => spawnSync(bin, ['-v']).status === 0);

/** A JSON value as a Lua table constructor (null is nil, as gopher-lua's JSON bridge makes it). */
function toLua(value: unknown): string {
  if (value === null || value === undefined) return 'nil';
  if (Array.isArray(value)) return `{${value.map(toLua).join(', ')}}`;
  if (typeof value === 'object')
    return `{${Object.entries(value)
      .map(([k, v]) => `[${JSON.stringify(k)}] = ${toLua(v)}`)
      .join(', ')}}`;
  return JSON.stringify(value);
}

function health(obj: unknown): { status: string; message: string } {
  const runner = `
    local env = setmetatable({ obj = ${toLua(obj)} }, { __index = _G })
    local check = assert(loadfile(${JSON.stringify(script)}, "t", env))
    local hs = check()
    io.write(hs.status, "\\n", hs.message or "")`;
  const [status = '', message = ''] = execFileSync(lua!, ['-e', runner], { encoding: 'utf8' }).split('\n');
  return { status, message };
}

const fixtures = readdirSync(testdata)
  .filter((f) => f.startsWith('sensor-') && f.endsWith('.json'))
  .map(
    (f) =>
      JSON.parse(readFileSync(join(testdata, f), 'utf8')) as {
        description: string;
        argocd: string;
        object: unknown;
      },
  );

describe.skipIf(!lua)('the Argo CD health check for Sensors', () => {
  if (!lua) console.warn('skipping: no Lua interpreter (apt-get install -y lua5.4)');

  it.each(fixtures.map((f) => [f.description, f] as const))('%s', (_name, fixture) => {
    const result = health(fixture.object);
    expect(result.status).toBe(fixture.argocd);
    expect(result.message).not.toBe('');
  });

  it('covers every status Argo CD shows for a Sensor', () => {
    expect(new Set(fixtures.map((f) => f.argocd))).toEqual(
      new Set(['Healthy', 'Progressing', 'Degraded', 'Suspended']),
    );
  });
});
