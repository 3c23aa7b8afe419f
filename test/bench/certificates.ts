// Certificates issued per second by the operator's issuer, and how long the
// event loop stalled meanwhile (keys come from Node's thread pool and
// signatures from native crypto, so it should stay responsive).
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { pki } from '@hark/operator';
import type { Benchmark } from './registry.js';

export const certificateIssuance: Benchmark = {
  name: 'certificates',
  description: 'agent client certificates issued per second (goal: >= 10/s without stalling the event loop)',
  async run() {
    const ca = await pki.generateCa({ commonName: 'bench CA', lifetimeMs: 86_400_000 });
    const count = 200;
    const delay = monitorEventLoopDelay({ resolution: 5 });
    delay.enable();
    const start = performance.now();
    // Eight in flight, as the operator's workers would have during a mass rollout.
    let next = 0;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < count) {
          next++;
          await pki.issueCertificate(ca, {
            commonName: `site.s${next}`,
            usage: 'client',
            lifetimeMs: 86_400_000,
          });
        }
      }),
    );
    const seconds = (performance.now() - start) / 1000;
    delay.disable();
    return [
      `${(count / seconds).toFixed(1)} certificates/s (${count} RSA-2048 in ${seconds.toFixed(2)} s)`,
      `event loop delay p99 ${(delay.percentile(99) / 1e6).toFixed(1)} ms, max ${(delay.max / 1e6).toFixed(1)} ms`,
    ];
  },
};
