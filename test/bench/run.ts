#!/usr/bin/env node
// `make bench`: each benchmark prints its figure and, where a peer exists,
// the peer measured in the same run on the same input, as a ratio. Targets
// live here, never in timed tests.
import { benchmarks } from './registry.js';

const only = process.argv[2];
let failed = false;
for (const bench of benchmarks) {
  if (only && bench.name !== only) continue;
  process.stdout.write(`\n== ${bench.name}: ${bench.description}\n`);
  try {
    const lines = await bench.run();
    for (const line of lines) process.stdout.write(`   ${line}\n`);
  } catch (error) {
    failed = true;
    process.stdout.write(`   FAILED: ${error instanceof Error ? error.message : String(error)}\n`);
  }
}
process.exit(failed ? 1 : 0);
