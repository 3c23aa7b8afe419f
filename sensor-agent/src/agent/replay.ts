// Replays a capture file through the pipeline: as fast as possible, or at the
// pace of its timestamps. Realtime pacing caps any single gap at one second:
// real corpora concatenate captures taken years apart (see MANIFEST.md), and
// a replay should not stall for years.
import { setTimeout as sleep } from 'node:timers/promises';
import { readCaptureBatches } from '../capture/reader.js';
import type { Pipeline } from '../pipeline.js';

const MAX_GAP_MS = 1000;
/** Sleeping per packet would be too fine-grained; catch up in steps of this many ms. */
const MIN_SLEEP_MS = 5;

export async function replayPass(
  file: string,
  pipeline: Pipeline,
  pace: 'fast' | 'realtime',
  signal: AbortSignal,
): Promise<void> {
  let virtualMs = 0; // capture time elapsed since the pass began, with capped gaps
  let previousTs: number | undefined;
  const wallStart = performance.now();
  for await (const batch of readCaptureBatches(file, { signal, reuseBuffers: true })) {
    if (pace !== 'realtime') {
      pipeline.processBatch(batch);
      continue;
    }
    for (let i = 0; i < batch.length; i++) {
      pipeline.processBatch(batch, i, i + 1);
      const ts = batch.timestampsMs[i]!;
      if (previousTs !== undefined) {
        const gap = ts - previousTs;
        virtualMs += gap > 0 ? Math.min(gap, MAX_GAP_MS) : 0;
      }
      previousTs = ts;
      const ahead = virtualMs - (performance.now() - wallStart);
      if (ahead >= MIN_SLEEP_MS) await sleep(ahead, undefined, { signal });
    }
  }
  pipeline.flush();
}
