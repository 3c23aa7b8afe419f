export { loadAgentConfig } from './config-file.js';
export { type HealthServer, startHealthServer } from './http.js';
export {
  type InventoryOutput,
  InventoryReports,
  type InventoryReportsOptions,
  type ReportOutcome,
  SnapshotOutgrewError,
} from './inventory-reports.js';
export { autoInterfaces, LiveSource, NoCaptureInterfaceError, resolveInterfaces } from './live.js';
export { createMetrics, type MetricsSources } from './metrics.js';
export { replayPass } from './replay.js';
export { MAX_DEVICE_BYTES, Reporter, type ReporterOptions, splitBySize } from './reporter.js';
export { type AgentHandle, type RunAgentOptions, runAgent } from './run.js';
