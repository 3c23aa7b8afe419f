// Giving back to the system the memory a large inventory report took.
//
// A report restating 100k devices builds ~97 MB of records a chunk at a time.
// They die young, but some survive a scavenge and are promoted, and V8 keeps
// the old-space pages it grew for them resident after they are freed: it
// gives them back only on a memory-reducing collection, which it starts on
// its own only when the process goes quiet for seconds, and a capturing agent
// never does. Measured (test/bench/agent-throughput.ts, 100k devices, the
// image's flags): 155-169 MB of RSS after a snapshot and a full delta, with
// 66 MB of live heap; 132-133 MB with a memory-reducing collection after each.
//
// The collection is V8's "last resort" one (every reachable object marked,
// pages compacted and released), asked for through the gc() function V8
// exposes with --expose-gc, which the agent image sets. It pauses the agent
// for ~100-250 ms at 100k devices, so it runs only after a report that
// restated many devices (RELEASE_AFTER_DEVICES), where building the report
// itself took seconds. The kernel's capture buffer absorbs the pause: the
// default 32 MiB holds ~250 ms of a saturated 1 Gbit/s link, so a site that
// large on a link that busy wants spec.capture.bufferMiB raised
// (hark_agent_heap_release_seconds_total shows the pauses). Without
// --expose-gc (node run by hand, the tests' in-process agents) it is skipped.

/** A report restating at least this many devices is followed by a memory-reducing collection. */
export const RELEASE_AFTER_DEVICES = 10_000;

type ExposedGc = (options: { type: 'major'; execution: 'sync'; flavor: 'last-resort' }) => void;

/**
 * Runs a memory-reducing collection when the runtime exposes one; returns how
 * long it took in seconds, or undefined when it is not available.
 */
export function releaseFreedHeap(): number | undefined {
  const gc = (globalThis as { gc?: ExposedGc }).gc;
  if (typeof gc !== 'function') return undefined;
  const started = performance.now();
  gc({ type: 'major', execution: 'sync', flavor: 'last-resort' });
  return (performance.now() - started) / 1000;
}
