// The bundled Mosquitto's configuration in charts/hark-aggregator/files/, generated from the same
// function the aggregator uses (aggregator/src/broker/mosquitto-config.ts), with the chart's paths and a
// placeholder the chart fills with .Values.topicPrefix. `make generate` runs this file (Node strips the
// types); test/helm/generated.test.ts fails when the committed files differ.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { mosquittoConfigFor } from '@hark/aggregator';

export const TOPIC_PREFIX_PLACEHOLDER = '@TOPIC_PREFIX@';

export function mosquittoChartFiles(): Record<string, string> {
  const { conf, acl } = mosquittoConfigFor({
    port: 8883,
    topicPrefix: TOPIC_PREFIX_PLACEHOLDER,
    caFile: '/mosquitto/tls/ca/ca.crt',
    certFile: '/mosquitto/tls/server/tls.crt',
    keyFile: '/mosquitto/tls/server/tls.key',
    aclFile: '/mosquitto/config/acl',
    // The chart drops this line when tls.crl.enabled is false.
    crlFile: '/mosquitto/tls/crl/ca.crl',
    persistenceDir: '/mosquitto/data',
    // The container runs as the mosquitto user (1883) from the start: no user switch.
  });
  return {
    'charts/hark-aggregator/files/mosquitto.conf': conf,
    'charts/hark-aggregator/files/mosquitto.acl': acl,
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const root = process.argv[2] ?? '.';
  for (const [path, content] of Object.entries(mosquittoChartFiles()))
    writeFileSync(join(root, path), content);
}
