import type { Sensor } from '@hark/contracts/sensor';

export const MANAGED_BY = 'hark-operator';

/** The standard app.kubernetes.io labels on everything the operator creates for a Sensor. */
export function childLabels(sensor: Sensor): Record<string, string> {
  return {
    'app.kubernetes.io/name': 'hark-agent',
    'app.kubernetes.io/instance': sensor.metadata.name,
    'app.kubernetes.io/component': 'sensor-agent',
    'app.kubernetes.io/part-of': 'hark',
    'app.kubernetes.io/managed-by': MANAGED_BY,
    'hark.dev/sensor': sensor.metadata.name,
    'hark.dev/site': sensor.spec.site,
  };
}

export function selectorLabels(sensor: Sensor): Record<string, string> {
  return { 'app.kubernetes.io/name': 'hark-agent', 'app.kubernetes.io/instance': sensor.metadata.name };
}

export function ownerReference(sensor: Sensor) {
  return {
    apiVersion: sensor.apiVersion,
    kind: sensor.kind,
    name: sensor.metadata.name,
    uid: sensor.metadata.uid!,
    controller: true,
    blockOwnerDeletion: true,
  };
}

export const childName = (sensor: Sensor) =>
  `hark-agent-${sensor.metadata.name}`.slice(0, 63).replace(/-+$/, '');
export const certificateSecretName = (sensor: Sensor) => `${childName(sensor)}-tls`.slice(0, 253);
