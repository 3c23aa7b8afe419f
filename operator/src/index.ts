export { WorkQueue } from './controller/workqueue.js';
export { type OperatorHandle, type OperatorOptions, startOperator } from './manager.js';
export { createMetrics } from './observability/metrics.js';
export * as pki from './pki/index.js';
export {
  OPERATOR_CLUSTER_ROLE,
  OPERATOR_NAMESPACE_RULES,
  OPERATOR_RULES,
  operatorClusterRole,
  operatorRole,
} from './rbac.js';
export { agentConfig, renderConfigMap } from './render/agent-config.js';
export { renderDaemonSet } from './render/daemonset.js';
