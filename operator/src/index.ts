export * as pki from './pki/index.js';
export { startOperator, type OperatorHandle, type OperatorOptions } from './manager.js';
export { renderDaemonSet } from './render/daemonset.js';
export { agentConfig, renderConfigMap } from './render/agent-config.js';
export { WorkQueue } from './controller/workqueue.js';
export { OPERATOR_RULES, OPERATOR_CLUSTER_ROLE, operatorClusterRole } from './rbac.js';
