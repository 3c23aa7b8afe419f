// The site CA every agent certificate is signed with. Either the user
// provides it (a Secret holding an intermediate issued by the organisation's
// root, so one central aggregator trusts every site) or the operator
// generates one on first start and stores it, so restarts and other replicas
// sign with the same CA.
import type { Logger } from 'pino';
import { isConflict, isNotFound, type KubeClient, resourcePath } from '../kube/client.js';
import { generateCa, type KeyPair } from '../pki/index.js';

export const GENERATED_ANNOTATION = 'hark.dev/generated-by';
const YEAR_MS = 365 * 86_400_000;

export interface SiteCa extends KeyPair {
  source: 'Provided' | 'Generated';
  /** PEM bundle agents and brokers trust: the CA, plus the previous one during a rotation. */
  trustBundlePem: string;
}

interface SecretData {
  metadata: { annotations?: Record<string, string> };
  data?: Record<string, string>;
}

const decode = (b64?: string) => (b64 ? Buffer.from(b64, 'base64').toString('utf8') : undefined);

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
      const secret = await client.get<SecretData>(path);
      const certPem = decode(secret.data?.['tls.crt']);
      const keyPem = decode(secret.data?.['tls.key']);
      if (!certPem || !keyPem) {
        throw new Error(
          `Secret ${namespace}/${name} must hold the site CA as tls.crt and tls.key (a kubernetes.io/tls Secret)`,
        );
      }
      const source = secret.metadata.annotations?.[GENERATED_ANNOTATION] ? 'Generated' : 'Provided';
      const bundle = decode(secret.data?.['ca.crt']);
      return {
        certPem,
        keyPem,
        source,
        trustBundlePem: bundle?.includes(certPem.trim()) ? bundle : certPem,
      };
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
            annotations: { [GENERATED_ANNOTATION]: 'hark-operator' },
          },
          data: {
            'tls.crt': Buffer.from(ca.certPem).toString('base64'),
            'tls.key': Buffer.from(ca.keyPem).toString('base64'),
            'ca.crt': Buffer.from(ca.certPem).toString('base64'),
          },
        },
      });
      return { certPem: ca.certPem, keyPem: ca.keyPem, source: 'Generated', trustBundlePem: ca.certPem };
    } catch (error) {
      // Another replica created it first: read theirs.
      if (!isConflict(error)) throw error;
    }
  }
  throw new Error(`could not load or create the site CA Secret ${namespace}/${name}`);
}
