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
    const lines: string[] = [];
    // ECDSA P-256 is the default agent key; RSA-2048 is what spec.certificate.privateKey.algorithm: RSA costs.
    for (const [keyAlgorithm, count] of [
      ['ECDSA', 1000],
      ['RSA', 200],
    ] as const) {
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
              keyAlgorithm,
              lifetimeMs: 86_400_000,
            });
          }
        }),
      );
      const seconds = (performance.now() - start) / 1000;
      delay.disable();
      lines.push(
        `${keyAlgorithm}: ${(count / seconds).toFixed(1)} certificates/s (${count} in ${seconds.toFixed(2)} s), event loop delay p99 ${(delay.percentile(99) / 1e6).toFixed(1)} ms, max ${(delay.max / 1e6).toFixed(1)} ms`,
      );
    }
    return lines;
  },
};
