const UNIT_MS: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1 };

/** Parses a Kubernetes/Go duration such as "2160h" or "1h30m" into milliseconds. */
export function parseDuration(text: string): number {
  const parts = [...text.matchAll(/([0-9]+(?:\.[0-9]+)?)(ms|h|m|s)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== text) {
    throw new Error(`"${text}" is not a duration: use a number with h, m, s or ms, e.g. "2160h"`);
  }
  return parts.reduce((sum, p) => sum + Number(p[1]) * (UNIT_MS[p[2]!] ?? 0), 0);
}
