export { loadAgentConfig } from './config-file.js';
export { type HealthServer, startHealthServer } from './http.js';
export { createMetrics, type MetricsSources } from './metrics.js';
export { replayPass } from './replay.js';
export { Reporter, type ReporterOptions, splitDevices } from './reporter.js';
export { type AgentHandle, LiveCaptureUnsupportedError, type RunAgentOptions, runAgent } from './run.js';
