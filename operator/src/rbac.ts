// The operator's permissions, written once: the Helm chart's ClusterRole is
// generated from these rules (`make generate`), and the operator's tests run
// under exactly this role, which proves it both sufficient and no wider than
// what the code uses.
export interface PolicyRule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
}

export const OPERATOR_RULES: PolicyRule[] = [
  // patch: only to add and remove the finalizer that revokes a deleted Sensor's certificate.
  { apiGroups: ['hark.dev'], resources: ['sensors'], verbs: ['get', 'list', 'watch', 'patch'] },
  { apiGroups: ['hark.dev'], resources: ['sensors/status'], verbs: ['get', 'patch'] },
  { apiGroups: ['apps'], resources: ['daemonsets'], verbs: ['get', 'list', 'watch', 'create', 'patch'] },
  { apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'create', 'patch'] },
  // get: to reuse a Sensor's certificate and load the site CA; no list or watch,
  // so the operator cannot enumerate the cluster's Secrets.
  { apiGroups: [''], resources: ['secrets'], verbs: ['get', 'create', 'patch'] },
  { apiGroups: ['events.k8s.io'], resources: ['events'], verbs: ['create', 'patch'] },
  // list: to say why a stalled rollout's agent pods are not ready (the scheduler's message, image pull errors).
  { apiGroups: [''], resources: ['pods'], verbs: ['list'] },
];

/** Rules in the operator's own namespace only: its leader-election Lease. */
export const OPERATOR_NAMESPACE_RULES: PolicyRule[] = [
  { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['get', 'create', 'update'] },
];

export const OPERATOR_CLUSTER_ROLE = 'hark-operator';

export function operatorRole(namespace: string, name = OPERATOR_CLUSTER_ROLE) {
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'Role',
    metadata: {
      name,
      namespace,
      labels: { 'app.kubernetes.io/name': 'hark-operator', 'app.kubernetes.io/part-of': 'hark' },
    },
    rules: OPERATOR_NAMESPACE_RULES,
  };
}

export function operatorClusterRole(name = OPERATOR_CLUSTER_ROLE) {
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRole',
    metadata: {
      name,
      labels: { 'app.kubernetes.io/name': 'hark-operator', 'app.kubernetes.io/part-of': 'hark' },
    },
    rules: OPERATOR_RULES,
  };
}
