// Revocation of a deleted Sensor's certificate: the one clean-up garbage
// collection cannot do (the certificate stays valid until it expires, wherever
// a copy of its key went). The finalizer adds its serial to a CRL signed by
// the site CA and published in the CA Secret beside the trust bundle
// (`ca.crl`), where the brokers load it. Entries leave the list once the
// certificate has expired anyway.
//
// The brokers refuse a client whose issuer has no current CRL (fail closed,
// as OpenSSL's CRL check does), so a CRL is published as soon as the CA is
// known, re-signed well before its nextUpdate, and, after a CA rotation, the
// old CA's last CRL is carried in `ca.crl` beside the new one for as long as
// the old CA is still in the trust bundle (its agents keep connecting through
// the grace period; the carried CRL's week of validity outlasts that).
import type { Logger } from 'pino';
import { type KubeClient, resourcePath } from '../kube/client.js';
import { buildCrl, describeCertificate } from '../pki/index.js';
import type { SiteCa } from './site-ca.js';

interface Entry {
  serialNumber: string;
  revokedAt: string;
  notAfter: string;
  sensor: string;
}

interface CaSecret {
  metadata: { resourceVersion?: string };
  data?: Record<string, string>;
}

const CRL_VALIDITY_MS = 7 * 86_400_000;
const decode = (b64?: string) => (b64 ? Buffer.from(b64, 'base64').toString('utf8') : undefined);
const encode = (text: string) => Buffer.from(text).toString('base64');

/**
 * Re-signs and publishes the CRL, adding `revoked` when given. Called by the
 * finalizer, and periodically (refreshCrlIfDue) so the CRL never passes its
 * nextUpdate: brokers refuse every client once a CRL they check has expired.
 */
export async function publishCrl(
  client: KubeClient,
  caSecret: { namespace: string; name: string },
  ca: SiteCa,
  revoked: { certPem: string; sensor: string } | undefined,
  now: Date,
  log: Logger,
): Promise<void> {
  const path = resourcePath('v1', 'secrets', caSecret.namespace, caSecret.name);
  const secret = await client.get<CaSecret>(path);
  const entries = (JSON.parse(decode(secret.data?.['revoked.json']) ?? '[]') as Entry[]).filter(
    (e) => Date.parse(e.notAfter) > now.getTime(),
  );
  const info = revoked ? describeCertificate(revoked.certPem) : undefined;
  if (revoked && info && !entries.some((e) => e.serialNumber === info.serialNumber)) {
    entries.push({
      serialNumber: info.serialNumber,
      revokedAt: now.toISOString(),
      notAfter: info.notAfter.toISOString(),
      sensor: revoked.sensor,
    });
  }
  const crlNumber = Number(decode(secret.data?.['crl.number']) ?? '0') + 1;
  const caSerial = describeCertificate(ca.certPem).serialNumber;
  const signedBy = decode(secret.data?.['crl.ca-serial']);
  let carried = decode(secret.data?.['crl.previous']);
  if (signedBy && signedBy !== caSerial) carried = decode(secret.data?.['ca.crl']);
  if (ca.previousCertPems.length === 0) carried = undefined;
  const crl = buildCrl(
    ca,
    entries.map((e) => ({ serialNumber: e.serialNumber, revokedAt: new Date(e.revokedAt) })),
    { thisUpdate: now, nextUpdate: new Date(now.getTime() + CRL_VALIDITY_MS), crlNumber },
  );
  // resourceVersion makes this a compare-and-swap: a concurrent revocation retries.
  await client.mergePatch(path, {
    metadata: { resourceVersion: secret.metadata.resourceVersion },
    data: {
      'ca.crl': encode(crl + (carried ?? '')),
      'crl.ca-serial': encode(caSerial),
      'crl.previous': carried ? encode(carried) : null,
      'revoked.json': encode(`${JSON.stringify(entries, null, 2)}\n`),
      'crl.number': encode(String(crlNumber)),
      'crl.next-update': encode(new Date(now.getTime() + CRL_VALIDITY_MS).toISOString()),
    },
  });
  if (revoked && info)
    log.info({ serial: info.serialNumber, sensor: revoked.sensor, crlNumber }, 'agent certificate revoked');
}

/** Publishes the CRL when there is none, when another CA signed it (a rotation), or within two days of its nextUpdate. */
export async function refreshCrlIfDue(
  client: KubeClient,
  caSecret: { namespace: string; name: string },
  ca: SiteCa,
  now: Date,
  log: Logger,
): Promise<void> {
  const secret = await client.get<CaSecret>(resourcePath('v1', 'secrets', caSecret.namespace, caSecret.name));
  const next = decode(secret.data?.['crl.next-update']);
  const signedBy = decode(secret.data?.['crl.ca-serial']);
  const due =
    !next ||
    signedBy !== describeCertificate(ca.certPem).serialNumber ||
    Date.parse(next) - now.getTime() < 2 * 86_400_000;
  if (due) await publishCrl(client, caSecret, ca, undefined, now, log);
}
