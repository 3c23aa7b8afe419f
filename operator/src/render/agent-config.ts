import type { AgentConfig } from '@hark/contracts/agent-config';
import { parseDuration, type Sensor, withSpecDefaults } from '@hark/contracts/sensor';
import { childLabels, childName, ownerReference } from './labels.js';

export const CONFIG_DIR = '/etc/hark/config';
export const CONFIG_FILE = 'agent.json';
export const TLS_DIR = '/etc/hark/tls';
export const SPOOL_DIR = '/var/lib/hark/spool';

export function agentConfig(sensor: Sensor): AgentConfig {
  const spec = withSpecDefaults(sensor.spec);
  return {
    site: spec.site,
    sensor: sensor.metadata.name,
    ...(spec.zone ? { zone: spec.zone } : {}),
    capture: {
      interfaces: spec.capture.interfaces,
      ...(spec.capture.bpfFilter ? { bpfFilter: spec.capture.bpfFilter } : {}),
      protocols: spec.capture.protocols,
      ...(spec.capture.backend !== 'auto' ? { backend: spec.capture.backend } : {}),
      bufferMiB: spec.capture.bufferMiB,
    },
    reporting: {
      brokerUrl: spec.reporting.brokerUrl,
      topicPrefix: spec.reporting.topicPrefix,
      snapshotIntervalSeconds: parseDuration(spec.reporting.snapshotInterval) / 1000,
      heartbeatIntervalSeconds: 30,
    },
    tls: { caFile: `${TLS_DIR}/ca.crt`, certFile: `${TLS_DIR}/tls.crt`, keyFile: `${TLS_DIR}/tls.key` },
    spoolDir: SPOOL_DIR,
    http: { port: spec.agent.metricsPort },
  };
}

export function renderConfigMap(sensor: Sensor) {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: {
      name: childName(sensor),
      namespace: sensor.metadata.namespace,
      labels: childLabels(sensor),
      ownerReferences: [ownerReference(sensor)],
    },
    data: { [CONFIG_FILE]: `${JSON.stringify(agentConfig(sensor), null, 2)}\n` },
  };
}
