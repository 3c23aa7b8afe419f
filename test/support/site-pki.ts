// The certificates a hark site needs, from the operator's own issuer: the
// broker's server certificate, the aggregator's and a sensor's client
// certificates, with the identities the brokers' ACLs expect. Tests, the demo
// and the benchmarks share it so they all speak the production identities.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AGGREGATOR_COMMON_NAME, ROLE_OU, sensorCommonName } from '@hark/contracts/mqtt';
import { pki } from '@hark/operator';

const DAY = 86_400_000;

export interface KeyPair {
  certPem: string;
  keyPem: string;
}

export function siteCa(commonName = 'hark test site CA'): Promise<KeyPair> {
  return pki.generateCa({ commonName, lifetimeMs: DAY });
}

/** The broker's server certificate (localhost, 127.0.0.1) and the aggregator's client certificate. */
export async function centralCertificates(ca: KeyPair): Promise<{ broker: KeyPair; aggregator: KeyPair }> {
  const [broker, aggregator] = await Promise.all([
    pki.issueCertificate(ca, {
      commonName: 'hark-broker',
      usage: 'server',
      dnsNames: ['localhost'],
      ipAddresses: ['127.0.0.1'],
      lifetimeMs: DAY,
    }),
    pki.issueCertificate(ca, {
      commonName: AGGREGATOR_COMMON_NAME,
      organizationalUnit: ROLE_OU.aggregator,
      usage: 'client',
      lifetimeMs: DAY,
    }),
  ]);
  return { broker, aggregator };
}

export function sensorCertificate(
  ca: KeyPair,
  site: string,
  sensor: string,
  lifetimeMs = DAY,
): Promise<KeyPair> {
  return pki.issueCertificate(ca, {
    commonName: sensorCommonName(site, sensor),
    organizationalUnit: ROLE_OU.sensor,
    usage: 'client',
    lifetimeMs,
  });
}

/** Writes what an agent pod mounts (ca.crt, tls.crt, tls.key) into `dir`; returns the config's `tls` section. */
export function writeAgentTls(
  dir: string,
  ca: KeyPair,
  sensor: KeyPair,
): { caFile: string; certFile: string; keyFile: string } {
  const files = {
    caFile: join(dir, 'ca.crt'),
    certFile: join(dir, 'tls.crt'),
    keyFile: join(dir, 'tls.key'),
  };
  writeFileSync(files.caFile, ca.certPem);
  writeFileSync(files.certFile, sensor.certPem);
  writeFileSync(files.keyFile, sensor.keyPem, { mode: 0o600 });
  return files;
}
