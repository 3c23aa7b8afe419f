/**
 * True when every field set in `desired` has the same value in `live`. The
 * API server adds defaults and other managers' fields to what we apply; those
 * are not drift. Arrays must match element by element.
 */
export function isSubset(desired: unknown, live: unknown): boolean {
  if (desired === null || typeof desired !== 'object') {
    return (
      desired === live ||
      (desired !== undefined &&
        live !== undefined &&
        String(desired) === String(live) &&
        typeof live !== 'object')
    );
  }
  if (Array.isArray(desired)) {
    return (
      Array.isArray(live) && live.length === desired.length && desired.every((d, i) => isSubset(d, live[i]))
    );
  }
  if (live === null || typeof live !== 'object' || Array.isArray(live)) return false;
  const liveRecord = live as Record<string, unknown>;
  return Object.entries(desired as Record<string, unknown>).every(
    ([k, v]) => v === undefined || isSubset(v, liveRecord[k]),
  );
}
