// Installs what the operator's Helm chart installs around the operator, into a
// test control plane: the CRD, its namespace, its ServiceAccount, and the
// ClusterRole and Role generated from operator/src/rbac.ts. Returns a
// kubeconfig that authenticates as that ServiceAccount, so the operator under
// test has exactly the chart's permissions.
import { join } from 'node:path';
import { operatorClusterRole, operatorRole } from '@hark/operator';
import type { ControlPlane } from './controlplane.js';
import { repoRoot } from './paths.js';

export function installOperatorPrerequisites(cp: ControlPlane, namespace = 'hark-system'): string {
  cp.kubectl(['apply', '--server-side', '-f', join(repoRoot(), 'crds')]);
  cp.kubectl(['wait', '--for=condition=Established', 'crd/sensors.hark.dev', '--timeout=60s']);
  cp.kubectl(['create', 'namespace', namespace]);
  cp.kubectl(['create', 'serviceaccount', 'hark-operator', '-n', namespace]);
  cp.kubectl(['apply', '-f', '-'], JSON.stringify(operatorClusterRole()));
  cp.kubectl(['apply', '-f', '-'], JSON.stringify(operatorRole(namespace)));
  const subject = `--serviceaccount=${namespace}:hark-operator`;
  cp.kubectl(['create', 'clusterrolebinding', 'hark-operator', '--clusterrole=hark-operator', subject]);
  cp.kubectl(['create', 'rolebinding', 'hark-operator', '-n', namespace, '--role=hark-operator', subject]);
  return cp.serviceAccountKubeconfig(namespace, 'hark-operator');
}
