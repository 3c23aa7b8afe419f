// The agent DaemonSet. Capture needs the host's network namespace and raw
// sockets, so the pod runs with hostNetwork and exactly two added
// capabilities (NET_RAW to open packet sockets, NET_ADMIN to set promiscuous
// mode); everything else is dropped, the root filesystem is read-only and
// seccomp is RuntimeDefault. It runs as uid 0 because Kubernetes grants added
// capabilities to non-root processes only through file capabilities, which a
// read-only, distroless image cannot rely on everywhere.
import { createHash } from 'node:crypto';
import { type Sensor, withSpecDefaults } from '@hark/contracts/sensor';
import { CONFIG_DIR, CONFIG_FILE, renderConfigMap, SPOOL_DIR, TLS_DIR } from './agent-config.js';
import { certificateSecretName, childLabels, childName, ownerReference, selectorLabels } from './labels.js';

export const TEMPLATE_ANNOTATIONS = {
  /** Changes when the certificate is renewed, so the pods roll and load it (a subPath mount is never refreshed). */
  certificate: 'hark.dev/certificate-serial',
  config: 'hark.dev/config-hash',
} as const;

export function renderDaemonSet(sensor: Sensor, certificateSerial: string) {
  const spec = withSpecDefaults(sensor.spec);
  const configHash = createHash('sha256')
    .update(JSON.stringify(renderConfigMap(sensor).data))
    .digest('hex')
    .slice(0, 16);
  const labels = childLabels(sensor);
  return {
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    metadata: {
      name: childName(sensor),
      namespace: sensor.metadata.namespace,
      labels,
      ownerReferences: [ownerReference(sensor)],
    },
    spec: {
      selector: { matchLabels: selectorLabels(sensor) },
      updateStrategy: {
        type: 'RollingUpdate',
        rollingUpdate: { maxUnavailable: spec.rollout.maxUnavailable, maxSurge: 0 },
      },
      template: {
        metadata: {
          labels,
          annotations: {
            [TEMPLATE_ANNOTATIONS.certificate]: certificateSerial,
            [TEMPLATE_ANNOTATIONS.config]: configHash,
          },
        },
        spec: {
          hostNetwork: true,
          dnsPolicy: 'ClusterFirstWithHostNet',
          automountServiceAccountToken: false,
          enableServiceLinks: false,
          terminationGracePeriodSeconds: 30,
          ...(spec.nodeSelector ? { nodeSelector: spec.nodeSelector } : {}),
          ...(spec.affinity ? { affinity: spec.affinity } : {}),
          ...(spec.tolerations ? { tolerations: spec.tolerations } : {}),
          ...(spec.agent.priorityClassName ? { priorityClassName: spec.agent.priorityClassName } : {}),
          securityContext: { seccompProfile: { type: 'RuntimeDefault' } },
          containers: [
            {
              name: 'agent',
              image: `${spec.agent.image}:${spec.agent.version}`,
              imagePullPolicy: 'IfNotPresent',
              args: ['run', '--config', `${CONFIG_DIR}/${CONFIG_FILE}`],
              env: [
                { name: 'NODE_NAME', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } },
                ...(spec.agent.env ?? []),
              ],
              ports: [{ name: 'metrics', containerPort: spec.agent.metricsPort, protocol: 'TCP' }],
              readinessProbe: {
                httpGet: { path: '/readyz', port: spec.agent.metricsPort },
                periodSeconds: 10,
              },
              livenessProbe: {
                httpGet: { path: '/healthz', port: spec.agent.metricsPort },
                periodSeconds: 20,
                failureThreshold: 3,
              },
              ...(spec.agent.resources ? { resources: spec.agent.resources } : {}),
              securityContext: {
                runAsUser: 0,
                runAsNonRoot: false,
                readOnlyRootFilesystem: true,
                allowPrivilegeEscalation: false,
                privileged: false,
                capabilities: { drop: ['ALL'], add: ['NET_RAW', 'NET_ADMIN'] },
              },
              volumeMounts: [
                { name: 'config', mountPath: CONFIG_DIR, readOnly: true },
                { name: 'tls', mountPath: TLS_DIR, readOnly: true },
                { name: 'spool', mountPath: SPOOL_DIR },
              ],
            },
          ],
          volumes: [
            { name: 'config', configMap: { name: childName(sensor) } },
            { name: 'tls', secret: { secretName: certificateSecretName(sensor), defaultMode: 0o400 } },
            { name: 'spool', emptyDir: { sizeLimit: '1Gi' } },
          ],
        },
      },
    },
  };
}
