#!/usr/bin/env node
// Writes crds/hark.dev_sensors.yaml from the schema. `make generate` runs it;
// a test fails when the committed file differs from what this would write.
import { writeFileSync } from 'node:fs';
import { stringify } from 'yaml';
import { sensorCrd } from './crd.js';

export function renderCrdYaml(): string {
  return `# Generated from contracts/src/sensor/schema.ts by \`make generate\`. Do not edit.\n${stringify(sensorCrd(), { lineWidth: 0 })}`;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const target = process.argv[2] ?? 'crds/hark.dev_sensors.yaml';
  writeFileSync(target, renderCrdYaml());
  console.error(`wrote ${target}`);
}
