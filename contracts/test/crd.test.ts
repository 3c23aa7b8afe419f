import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { renderCrdYaml } from '../src/sensor/generate-crd.js';
import { parseSensorSpec, withSpecDefaults } from '../src/sensor/index.js';

const root = join(import.meta.dirname, '..', '..');

describe('the Sensor CRD', () => {
  it('is committed exactly as the schema generates it (run `make generate` after changing the schema)', () => {
    expect(readFileSync(join(root, 'crds', 'hark.dev_sensors.yaml'), 'utf8')).toBe(renderCrdYaml());
  });

  it('is structural: no JSON-Schema-only keywords reach the API server', () => {
    const text = JSON.stringify(parse(renderCrdYaml()));
    for (const keyword of ['"anyOf"', '"patternProperties"', '"const"', '"$id"'])
      expect(text).not.toContain(keyword);
    expect(text).toContain('"x-kubernetes-int-or-string":true');
  });

  it('describes every spec field, so kubectl explain teaches the API', () => {
    const crd = parse(renderCrdYaml());
    const missing: string[] = [];
    const walk = (node: Record<string, unknown>, path: string) => {
      if (!node.description) missing.push(path);
      for (const [k, v] of Object.entries((node.properties as Record<string, Record<string, unknown>>) ?? {}))
        walk(v, `${path}.${k}`);
    };
    walk(crd.spec.versions[0].schema.openAPIV3Schema.properties.spec, 'spec');
    expect(missing).toEqual([]);
  });

  it('accepts the example Sensor and fills in the defaults', () => {
    const example = parse(readFileSync(join(root, 'examples', 'sensor.yaml'), 'utf8'));
    const result = parseSensorSpec(example.spec);
    expect(result.issues).toEqual([]);
    const spec = withSpecDefaults(result.spec!);
    expect(spec.reporting.topicPrefix).toBe('hark');
    expect(spec.capture.protocols).toContain('modbus');
    expect(spec.rollout.paused).toBe(false);
  });

  it('names the field that is wrong', () => {
    const result = parseSensorSpec({ site: 'Not A Label', reporting: { brokerUrl: 'mqtt://x' } });
    const paths = result.issues.map((i) => i.path);
    expect(paths).toContain('spec.site');
    expect(paths).toContain('spec.reporting.brokerUrl');
  });
});
