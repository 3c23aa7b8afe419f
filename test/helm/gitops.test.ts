// The GitOps examples build as the GitOps tools build them: each site's Flux
// overlay with kustomize (the one inside kubectl, under its default load
// restrictions), and each site's values through the operator chart as Argo CD
// and helm-controller render it (values schema included). The paths the Argo
// CD ApplicationSet and the Flux Kustomizations point at exist.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { buildControlPlane } from '../support/controlplane.js';
import { chartDir, helm, type Manifest, parseManifests, root } from './support.js';

const gitops = join(root, 'examples', 'gitops');
const sites = readdirSync(join(gitops, 'sites'));
const kubectl = () => join(process.env.HARK_CONTROLPLANE_BIN ?? buildControlPlane(), 'kubectl');

describe('the GitOps examples', () => {
  it('has a folder per site', () => {
    expect(sites.sort()).toEqual(['site-a', 'site-b']);
  });

  it.each(sites)('builds the Flux overlay of %s with kustomize: the HelmRelease and its values', (site) => {
    const built = parseManifests(
      execFileSync(kubectl(), ['kustomize', join(gitops, 'sites', site)], { encoding: 'utf8' }),
    );
    const release = built.find((m) => m.kind === 'HelmRelease') as Manifest & {
      spec: { valuesFrom: Array<{ kind: string; name: string; valuesKey: string }> };
    };
    const values = built.find((m) => m.kind === 'ConfigMap') as Manifest & { data: Record<string, string> };
    expect(release.metadata.namespace).toBe('hark-system');
    const from = release.spec.valuesFrom[0]!;
    expect(from).toMatchObject({ kind: 'ConfigMap', name: values.metadata.name });
    expect(values.metadata.namespace).toBe('hark-system');
    expect(values.metadata.labels?.['reconcile.fluxcd.io/watch']).toBe('Enabled');
    expect(values.data[from.valuesKey]).toBe(
      readFileSync(join(gitops, 'sites', site, 'values.yaml'), 'utf8'),
    );
  });

  it.each(sites)('renders the operator chart with the values of %s: its Sensor, for its site', (site) => {
    const manifests = parseManifests(
      helm(
        ['template', 'hark-operator', chartDir('hark-operator'), '-n', 'hark-system'].concat([
          '-f',
          join(gitops, 'sites', site, 'values.yaml'),
        ]),
      ),
    );
    const sensors = manifests.filter((m) => m.kind === 'Sensor') as Array<
      Manifest & { spec: { site: string } }
    >;
    expect(sensors.map((s) => [s.metadata.name, s.spec.site])).toEqual([[site, site]]);
  });

  it('points Argo CD and Flux at files that exist', () => {
    const appSet = parse(readFileSync(join(gitops, 'argocd', 'applicationset.yaml'), 'utf8'));
    const valueFiles: string[] = appSet.spec.template.spec.sources[0].helm.valueFiles;
    for (const site of sites) {
      for (const file of valueFiles) {
        const path = file.replace('$values/', '').replace(/\{\{[^}]*hark\.dev\/site[^}]*\}\}/, site);
        expect(existsSync(join(root, path)), path).toBe(true);
      }
    }
    expect(existsSync(join(root, appSet.spec.template.spec.sources[0].path))).toBe(true);

    const fluxSites = readFileSync(join(gitops, 'flux', 'sites.yaml'), 'utf8')
      .split(/^---$/m)
      .map((doc) => parse(doc));
    expect(fluxSites.map((k) => k.spec.path).sort()).toEqual(
      sites.map((s) => `./examples/gitops/sites/${s}`),
    );
    for (const k of fluxSites) expect(existsSync(join(root, k.spec.path))).toBe(true);
  });
});
