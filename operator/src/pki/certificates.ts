// X.509 for hark: the site CA, the agents' client certificates and the
// brokers' server certificates. node-forge builds the certificates; Node's
// native crypto generates the keys (in libuv's thread pool, off the event
// loop) and makes the RSA signatures, which in forge's pure-JS bignum code
// cost tens of milliseconds each and would stall the event loop.
// RSA, because forge cannot build a certificate signed by an EC key.
import { generateKeyPair, randomBytes, sign } from 'node:crypto';
import { promisify } from 'node:util';
import forge from 'node-forge';

const generateKeyPairAsync = promisify(generateKeyPair);
const RSA_BITS = 2048;

export interface KeyPair {
  certPem: string;
  keyPem: string;
}

export interface IssuedCertificate extends KeyPair {
  serialNumber: string;
  notBefore: Date;
  notAfter: Date;
}

export interface CertificateRequest {
  commonName: string;
  organization?: string;
  organizationalUnit?: string;
  usage: 'client' | 'server' | 'client-server';
  dnsNames?: string[];
  ipAddresses?: string[];
  notBefore?: Date;
  lifetimeMs: number;
}

async function newRsaKey(): Promise<{ privatePem: string; publicPem: string }> {
  const { privateKey, publicKey } = await generateKeyPairAsync('rsa', {
    modulusLength: RSA_BITS,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  return { privatePem: privateKey, publicPem: publicKey };
}

/** A positive 128-bit serial, as RFC 5280 asks: unique, unpredictable, at most 20 octets. */
function newSerial(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0]! & 0x7f) | 0x01;
  return bytes.toString('hex');
}

function signWithNode(cert: forge.pki.Certificate, signerKeyPem: string): void {
  const nativeSigner = {
    sign: () => {
      const tbs = Buffer.from(forge.asn1.toDer(cert.tbsCertificate).getBytes(), 'binary');
      return sign('sha256', tbs, signerKeyPem).toString('binary');
    },
  };
  cert.sign(nativeSigner as unknown as forge.pki.rsa.PrivateKey, forge.md.sha256.create());
}

function subjectAttrs(cn: string, o?: string, ou?: string): forge.pki.CertificateField[] {
  const attrs: forge.pki.CertificateField[] = [{ name: 'commonName', value: cn }];
  if (o) attrs.push({ name: 'organizationName', value: o });
  if (ou) attrs.push({ name: 'organizationalUnitName', value: ou });
  return attrs;
}

/** Generates a self-signed site CA. */
export async function generateCa(opts: {
  commonName: string;
  organization?: string;
  lifetimeMs: number;
  notBefore?: Date;
}): Promise<IssuedCertificate> {
  const key = await newRsaKey();
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(key.publicPem);
  cert.serialNumber = newSerial();
  const notBefore = opts.notBefore ?? new Date(Date.now() - 60_000);
  cert.validity.notBefore = notBefore;
  cert.validity.notAfter = new Date(notBefore.getTime() + opts.lifetimeMs);
  const subject = subjectAttrs(opts.commonName, opts.organization ?? 'hark');
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, pathLenConstraint: 0, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  signWithNode(cert, key.privatePem);
  return {
    certPem: forge.pki.certificateToPem(cert),
    keyPem: key.privatePem,
    serialNumber: cert.serialNumber,
    notBefore: cert.validity.notBefore,
    notAfter: cert.validity.notAfter,
  };
}

/** Issues a leaf certificate signed by the CA. */
export async function issueCertificate(ca: KeyPair, req: CertificateRequest): Promise<IssuedCertificate> {
  const key = await newRsaKey();
  const caCert = forge.pki.certificateFromPem(ca.certPem);
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(key.publicPem);
  cert.serialNumber = newSerial();
  const notBefore = req.notBefore ?? new Date(Date.now() - 60_000);
  cert.validity.notBefore = notBefore;
  const notAfter = new Date(
    Math.min(notBefore.getTime() + req.lifetimeMs, caCert.validity.notAfter.getTime()),
  );
  cert.validity.notAfter = notAfter;
  cert.setSubject(subjectAttrs(req.commonName, req.organization, req.organizationalUnit));
  cert.setIssuer(caCert.subject.attributes);
  const altNames = [
    ...(req.dnsNames ?? []).map((value) => ({ type: 2, value })),
    ...(req.ipAddresses ?? []).map((ip) => ({ type: 7, ip })),
  ];
  const extensions: object[] = [
    { name: 'basicConstraints', cA: false, critical: true },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    {
      name: 'extKeyUsage',
      clientAuth: req.usage !== 'server',
      serverAuth: req.usage !== 'client',
    },
    { name: 'subjectKeyIdentifier' },
    { name: 'authorityKeyIdentifier', keyIdentifier: caCert.generateSubjectKeyIdentifier().getBytes() },
  ];
  if (altNames.length > 0) extensions.push({ name: 'subjectAltName', altNames });
  cert.setExtensions(extensions);
  signWithNode(cert, ca.keyPem);
  return {
    certPem: forge.pki.certificateToPem(cert),
    keyPem: key.privatePem,
    serialNumber: cert.serialNumber,
    notBefore: cert.validity.notBefore,
    notAfter: cert.validity.notAfter,
  };
}

export interface CertificateInfo {
  serialNumber: string;
  commonName: string | undefined;
  issuerCommonName: string | undefined;
  notBefore: Date;
  notAfter: Date;
}

export function describeCertificate(certPem: string): CertificateInfo {
  const cert = forge.pki.certificateFromPem(certPem);
  return {
    serialNumber: cert.serialNumber,
    commonName: cert.subject.getField('CN')?.value as string | undefined,
    issuerCommonName: cert.issuer.getField('CN')?.value as string | undefined,
    notBefore: cert.validity.notBefore,
    notAfter: cert.validity.notAfter,
  };
}

/** True when `certPem` was signed by `caPem` (signature and issuer name). */
export function isIssuedBy(certPem: string, caPem: string): boolean {
  try {
    return forge.pki.certificateFromPem(caPem).verify(forge.pki.certificateFromPem(certPem));
  } catch {
    return false;
  }
}
