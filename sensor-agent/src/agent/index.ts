export { loadAgentConfig } from './config-file.js';
export { type HealthServer, startHealthServer } from './http.js';
export { autoInterfaces, LiveSource, NoCaptureInterfaceError, resolveInterfaces } from './live.js';
export { createMetrics, type MetricsSources } from './metrics.js';
export { replayPass } from './replay.js';
export { Reporter, type ReporterOptions, splitDevices } from './reporter.js';
export { type AgentHandle, type RunAgentOptions, runAgent } from './run.js';
