// Defaults shared by the operator's CLI, its programmatic API and the chart's values schema.

/**
 * Sensors reconciled in parallel. A reconcile mostly waits on the API server
 * (a certificate costs ~1 ms), so sixteen keep a fleet-sized burst moving:
 * 1,000 Sensors converge in under a minute (make bench ARGS=operator-scale).
 */
export const DEFAULT_WORKERS = 16;
