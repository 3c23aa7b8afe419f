// The per-Sensor client certificate: issued from the site CA into a Secret the
// agent pods mount, reused while it is valid, and renewed at its renewal time
// (two thirds of its lifetime unless spec.certificate.renewBefore says
// otherwise). The Secret is written before anything else, so an operator
// killed mid-reconcile finds it on restart and does not issue a second one.
import { ROLE_OU, sensorCommonName } from '@hark/contracts/mqtt';
import { describeCertificate, isIssuedBy, issueCertificate, type KeyAlgorithm } from '../pki/index.js';
import type { SiteCa } from './site-ca.js';

export const ANNOTATIONS = {
  serial: 'hark.dev/certificate-serial',
  notAfter: 'hark.dev/certificate-not-after',
  renewalTime: 'hark.dev/certificate-renewal-time',
} as const;

export interface AgentCertificate {
  certPem: string;
  keyPem: string;
  serialNumber: string;
  notBefore: Date;
  notAfter: Date;
  renewalTime: Date;
}

export interface CertificatePolicy {
  site: string;
  sensor: string;
  durationMs: number;
  renewBeforeMs?: number;
  keyAlgorithm: KeyAlgorithm;
}

export function renewalTimeFor(notBefore: Date, notAfter: Date, renewBeforeMs?: number): Date {
  const lifetime = notAfter.getTime() - notBefore.getTime();
  const renewBefore = renewBeforeMs ?? lifetime / 3;
  return new Date(notAfter.getTime() - Math.min(renewBefore, lifetime));
}

/**
 * The existing certificate when it is still good for this policy at `now`;
 * otherwise undefined, and the caller issues a new one.
 */
export function reusable(
  existing: { certPem?: string; keyPem?: string },
  /** CA certificates whose agent certificates are still honoured: the current CA, plus earlier ones during a rotation's grace period. */
  issuers: string[],
  policy: CertificatePolicy,
  now: Date,
): AgentCertificate | undefined {
  if (!existing.certPem || !existing.keyPem) return undefined;
  try {
    const info = describeCertificate(existing.certPem);
    if (info.commonName !== sensorCommonName(policy.site, policy.sensor)) return undefined;
    if (!issuers.some((issuer) => isIssuedBy(existing.certPem!, issuer))) return undefined;
    if (info.keyAlgorithm !== policy.keyAlgorithm) return undefined;
    const renewalTime = renewalTimeFor(info.notBefore, info.notAfter, policy.renewBeforeMs);
    if (now >= renewalTime) return undefined;
    return {
      certPem: existing.certPem,
      keyPem: existing.keyPem,
      serialNumber: info.serialNumber,
      notBefore: info.notBefore,
      notAfter: info.notAfter,
      renewalTime,
    };
  } catch {
    return undefined;
  }
}

export async function issueAgentCertificate(
  ca: SiteCa,
  policy: CertificatePolicy,
  now: Date,
): Promise<AgentCertificate> {
  const issued = await issueCertificate(ca, {
    commonName: sensorCommonName(policy.site, policy.sensor),
    organization: 'hark',
    organizationalUnit: ROLE_OU.sensor,
    usage: 'client',
    keyAlgorithm: policy.keyAlgorithm,
    notBefore: new Date(now.getTime() - 60_000),
    lifetimeMs: policy.durationMs,
  });
  return { ...issued, renewalTime: renewalTimeFor(issued.notBefore, issued.notAfter, policy.renewBeforeMs) };
}
