// The generated chart files are committed exactly as `make generate` writes them, and say what the code says.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { OPERATOR_NAMESPACE_RULES, OPERATOR_RULES } from '@hark/operator';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { chartFiles } from '../../operator/src/generate/chart.js';
import { mosquittoChartFiles } from './mosquitto-files.js';
import { chartDir, helm, parseManifests, root } from './support.js';

describe('generated chart files', () => {
  it.each(Object.entries({ ...chartFiles(), ...mosquittoChartFiles() }))(
    '%s is committed as generated (run `make generate`)',
    (path, content) => {
      expect(readFileSync(join(root, path), 'utf8')).toBe(content);
    },
  );

  it('every values schema closes its objects, so a typo fails', () => {
    for (const chart of ['hark-operator', 'hark-aggregator']) {
      const schema = JSON.parse(readFileSync(join(chartDir(chart), 'values.schema.json'), 'utf8'));
      const open: string[] = [];
      const walk = (node: Record<string, unknown>, path: string) => {
        if (node.type === 'object' && node.additionalProperties === undefined) open.push(path);
        for (const [k, v] of Object.entries(
          (node.properties as Record<string, Record<string, unknown>>) ?? {},
        ))
          walk(v, `${path}.${k}`);
        if (node.items) walk(node.items as Record<string, unknown>, `${path}[]`);
      };
      walk(schema, chart);
      expect(open).toEqual([]);
      expect(schema.additionalProperties).toBe(false);
    }
  });

  it('renders the CRD of crds/hark.dev_sensors.yaml and the RBAC of operator/src/rbac.ts', () => {
    const manifests = parseManifests(
      helm(['template', 'hark-operator', chartDir('hark-operator'), '-n', 'hark-system']),
    );
    const crd = manifests.find((m) => m.kind === 'CustomResourceDefinition')!;
    const committed = parse(readFileSync(join(root, 'crds', 'hark.dev_sensors.yaml'), 'utf8'));
    expect(crd.spec).toEqual(committed.spec);
    expect(crd.metadata.annotations?.['helm.sh/resource-policy']).toBe('keep');
    const rules = (kind: string) =>
      manifests.find((m) => m.kind === kind && m.metadata.name === 'hark-operator')?.rules;
    expect(rules('ClusterRole')).toEqual(OPERATOR_RULES);
    expect(rules('Role')).toEqual(OPERATOR_NAMESPACE_RULES);
  });
});
