// The site CA every agent certificate is signed with. Either the user
// provides it (a Secret holding an intermediate issued by the organisation's
// root, so one central aggregator trusts every site) or the operator
// generates one on first start and stores it, so restarts and other replicas
// sign with the same CA.
//
// Rotation: when the Secret's tls.crt changes, the operator first publishes a
// trust bundle (ca.crt) holding the new CA and every previous one still valid,
// into the CA Secret (brokers mount it) and into every agent's Secret; agent
// certificates from the old CA stay in use for a grace period while brokers
// and agents pick up the bundle, and are re-issued from the new CA after it.
import type { Logger } from 'pino';
import { isConflict, isNotFound, type KubeClient, resourcePath } from '../kube/client.js';
import { describeCertificate, generateCa, type KeyPair } from '../pki/index.js';

/** Set on a CA Secret the operator generated; holds the serial of the CA it generated. */
export const GENERATED_ANNOTATION = 'hark.dev/generated-ca-serial';
/** When the operator last saw the CA change. */
export const ROTATED_ANNOTATION = 'hark.dev/ca-rotated-at';
const YEAR_MS = 365 * 86_400_000;

export interface SiteCa extends KeyPair {
  source: 'Provided' | 'Generated';
  /** PEM bundle agents and brokers trust: the CA, plus previous ones still valid after a rotation. */
  trustBundlePem: string;
  /** Earlier CA certificates in the bundle, whose agent certificates are honoured during the grace period. */
  previousCertPems: string[];
  /** When the CA last changed (undefined: never rotated). */
  rotatedAt?: Date;
}

interface SecretData {
  metadata: { annotations?: Record<string, string>; resourceVersion?: string };
  data?: Record<string, string>;
}

const decode = (b64?: string) => (b64 ? Buffer.from(b64, 'base64').toString('utf8') : undefined);
const encode = (text: string) => Buffer.from(text).toString('base64');
const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

export function splitPemBundle(bundle: string | undefined): string[] {
  return [...(bundle ?? '').matchAll(PEM_CERT)].map((m) => `${m[0]}\n`);
}

function stillValid(pem: string, now: Date): boolean {
  try {
    return describeCertificate(pem).notAfter > now;
  } catch {
    return false;
  }
}

function fromSecret(secret: SecretData, namespace: string, name: string, now: Date): SiteCa {
  const certPem = decode(secret.data?.['tls.crt']);
  const keyPem = decode(secret.data?.['tls.key']);
  if (!certPem || !keyPem) {
    throw new Error(
      `Secret ${namespace}/${name} must hold the site CA as tls.crt and tls.key (a kubernetes.io/tls Secret)`,
    );
  }
  const described = describeCertificate(certPem);
  if (described.keyAlgorithm !== 'RSA') {
    throw new Error(
      `the site CA in Secret ${namespace}/${name} has an ${described.keyAlgorithm} key; hark signs with RSA CAs only (node-forge): issue an RSA intermediate for the site`,
    );
  }
  const serial = described.serialNumber;
  const source = secret.metadata.annotations?.[GENERATED_ANNOTATION] === serial ? 'Generated' : 'Provided';
  const previousCertPems = splitPemBundle(decode(secret.data?.['ca.crt'])).filter(
    (pem) => pem.trim() !== certPem.trim() && stillValid(pem, now),
  );
  const rotated = secret.metadata.annotations?.[ROTATED_ANNOTATION];
  return {
    certPem,
    keyPem,
    source,
    previousCertPems,
    trustBundlePem: `${[certPem.trim(), ...previousCertPems.map((p) => p.trim())].join('\n')}\n`,
    ...(rotated ? { rotatedAt: new Date(rotated) } : {}),
  };
}

export async function loadOrCreateSiteCa(
  client: KubeClient,
  namespace: string,
  name: string,
  log: Logger,
  now: () => Date = () => new Date(),
): Promise<SiteCa> {
  const path = resourcePath('v1', 'secrets', namespace, name);
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return fromSecret(await client.get<SecretData>(path), namespace, name, now());
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
    log.info({ secret: `${namespace}/${name}` }, 'no site CA Secret found; generating a site CA');
    const ca = await generateCa({
      commonName: `hark site CA (${namespace})`,
      lifetimeMs: 10 * YEAR_MS,
      notBefore: new Date(now().getTime() - 60_000),
    });
    try {
      await client.request('POST', resourcePath('v1', 'secrets', namespace), {
        body: {
          apiVersion: 'v1',
          kind: 'Secret',
          type: 'kubernetes.io/tls',
          metadata: {
            name,
            namespace,
            labels: { 'app.kubernetes.io/part-of': 'hark', 'app.kubernetes.io/component': 'site-ca' },
            annotations: { [GENERATED_ANNOTATION]: ca.serialNumber },
          },
          data: { 'tls.crt': encode(ca.certPem), 'tls.key': encode(ca.keyPem), 'ca.crt': encode(ca.certPem) },
        },
      });
      return {
        certPem: ca.certPem,
        keyPem: ca.keyPem,
        source: 'Generated',
        trustBundlePem: ca.certPem,
        previousCertPems: [],
      };
    } catch (error) {
      // Another replica created it first: read theirs.
      if (!isConflict(error)) throw error;
    }
  }
  throw new Error(`could not load or create the site CA Secret ${namespace}/${name}`);
}

/**
 * Re-reads the CA Secret. When its CA changed, writes the trust bundle (new
 * CA first, then every earlier CA still valid) and the rotation time into it,
 * and returns the rotated CA; returns undefined when nothing changed.
 */
export async function reloadSiteCa(
  client: KubeClient,
  namespace: string,
  name: string,
  current: SiteCa,
  log: Logger,
  now: Date,
): Promise<SiteCa | undefined> {
  const path = resourcePath('v1', 'secrets', namespace, name);
  const secret = await client.get<SecretData>(path);
  const loaded = fromSecret(secret, namespace, name, now);
  if (loaded.certPem.trim() === current.certPem.trim()) return undefined;
  const previous = [current.certPem, ...current.previousCertPems, ...loaded.previousCertPems]
    .map((p) => `${p.trim()}\n`)
    .filter((p, i, all) => p.trim() !== loaded.certPem.trim() && all.indexOf(p) === i && stillValid(p, now));
  const bundle = `${[loaded.certPem.trim(), ...previous.map((p) => p.trim())].join('\n')}\n`;
  await client.mergePatch(path, {
    metadata: {
      resourceVersion: secret.metadata.resourceVersion,
      annotations: { [ROTATED_ANNOTATION]: now.toISOString() },
    },
    data: { 'ca.crt': encode(bundle) },
  });
  log.info(
    {
      secret: `${namespace}/${name}`,
      newCa: describeCertificate(loaded.certPem).serialNumber,
      trusted: previous.length + 1,
    },
    'site CA rotated: publishing a trust bundle with the old and new CA before re-issuing agent certificates',
  );
  return { ...loaded, previousCertPems: previous, trustBundlePem: bundle, rotatedAt: now };
}
