// Runs the agent benchmark's mixed traffic through the pipeline a given
// number of passes, after 30 passes of warm-up on another pipeline: the
// workload hack/instructions.sh counts instructions of (callgrind),
// as the difference between N passes and none (`--none`: the same
// preparation, no pass). This host's wall clock moves by up to 2x within
// minutes; the count does not.
//
//   node test/dist/bench/pipeline-passes.js <passes> [--none]
//   hack/instructions.sh pipeline [passes]
// HARK_FRAME_MEMO=off counts the pipeline without its native frame memo.
import { Pipeline } from '@hark/sensor-agent';
import { inMemoryFrames, loadMixedTraffic } from './mixed-traffic.js';

const WARM_UP_PASSES = 30;

const requested = Number(process.argv[2]);
if (!Number.isInteger(requested) || requested < 0) {
  console.error('usage: node test/dist/bench/pipeline-passes.js <passes (a whole number)> [--none]');
  process.exit(2);
}
const passes = process.argv[3] === '--none' ? 0 : requested;
const packets = await loadMixedTraffic();
const frames = inMemoryFrames(packets);
const frameMemo = process.env.HARK_FRAME_MEMO !== 'off';
const warm = new Pipeline({ frameMemo });
for (let i = 0; i < WARM_UP_PASSES; i++) warm.processBatch(frames);
const pipeline = new Pipeline({ frameMemo });
for (let i = 0; i < passes; i++) pipeline.processBatch(frames);
// What the caller divides by, and what shows the run did what it says.
console.log(
  JSON.stringify({
    unit: 'packet',
    units: packets.length * passes,
    packetsPerPass: packets.length,
    passes,
    repeats: pipeline.stats.repeats,
    replayed: pipeline.stats.replayed,
  }),
);
