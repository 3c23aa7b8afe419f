// X.509 for hark: the site CA, the agents' client certificates and the
// brokers' server certificates. node-forge builds the certificates; Node's
// native crypto generates the keys (in libuv's thread pool, off the event
// loop) and makes the RSA signatures, which in forge's pure-JS bignum code
// cost tens of milliseconds each and would stall the event loop.
// The site CA is RSA, because forge builds only RSA signature algorithms. Leaf
// keys are ECDSA P-256 by default: a P-256 key takes ~0.1 ms to generate
// against ~40 ms for RSA-2048, which is most of the operator's CPU when a
// fleet of Sensors arrives at once; forge cannot encode an EC public key, so
// its SubjectPublicKeyInfo is spliced into the to-be-signed structure.
import { createHash, generateKeyPair, randomBytes, sign, X509Certificate } from 'node:crypto';
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

/** The leaf's key: ECDSA on P-256 (the default) or RSA 2048. */
export type KeyAlgorithm = 'ECDSA' | 'RSA';

export interface CertificateRequest {
  commonName: string;
  keyAlgorithm?: KeyAlgorithm;
  organization?: string;
  organizationalUnit?: string;
  usage: 'client' | 'server' | 'client-server';
  dnsNames?: string[];
  ipAddresses?: string[];
  notBefore?: Date;
  lifetimeMs: number;
}

async function newEcKey(): Promise<{ privatePem: string; publicPem: string }> {
  const { privateKey, publicKey } = await generateKeyPairAsync('ec', {
    namedCurve: 'P-256',
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  return { privatePem: privateKey, publicPem: publicKey };
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

/** SubjectPublicKeyInfo position in TBSCertificate: version, serial, signature, issuer, validity, subject, SPKI. */
const TBS_SPKI_INDEX = 6;

/** The SubjectPublicKeyInfo of a PEM public key, as forge ASN.1, and its key identifier (RFC 5280 §4.2.1.2, method 1). */
function publicKeyInfo(publicPem: string): { spki: forge.asn1.Asn1; keyIdentifier: string } {
  const der = forge.util.decode64(publicPem.replace(/-----[^-]+-----|\s/g, ''));
  const spki = forge.asn1.fromDer(der);
  const bitString = (spki.value as forge.asn1.Asn1[])[1]!.value as string;
  // The BIT STRING's first octet counts unused bits; the identifier hashes the key bits after it.
  const keyIdentifier = createHash('sha1')
    .update(Buffer.from(bitString.slice(1), 'binary'))
    .digest('binary');
  return { spki, keyIdentifier };
}

function signWithNode(
  cert: forge.pki.Certificate,
  signerKeyPem: string,
  subjectKeyInfo?: forge.asn1.Asn1,
): void {
  const nativeSigner = {
    sign: () => {
      if (subjectKeyInfo) (cert.tbsCertificate.value as forge.asn1.Asn1[])[TBS_SPKI_INDEX] = subjectKeyInfo;
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
  const algorithm = req.keyAlgorithm ?? 'ECDSA';
  const key = algorithm === 'RSA' ? await newRsaKey() : await newEcKey();
  const subjectKey = publicKeyInfo(key.publicPem);
  const caCert = forge.pki.certificateFromPem(ca.certPem);
  const cert = forge.pki.createCertificate();
  // forge encodes only RSA keys; it writes the CA's here and signWithNode puts the subject's in its place.
  cert.publicKey = caCert.publicKey;
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
    // RFC 5480: an ECDSA key signs; only an RSA key may also encipher (TLS 1.2 RSA key exchange).
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: algorithm === 'RSA', critical: true },
    {
      name: 'extKeyUsage',
      clientAuth: req.usage !== 'server',
      serverAuth: req.usage !== 'client',
    },
    {
      name: 'subjectKeyIdentifier',
      value: forge.asn1.create(
        forge.asn1.Class.UNIVERSAL,
        forge.asn1.Type.OCTETSTRING,
        false,
        subjectKey.keyIdentifier,
      ),
    },
    { name: 'authorityKeyIdentifier', keyIdentifier: caCert.generateSubjectKeyIdentifier().getBytes() },
  ];
  if (altNames.length > 0) extensions.push({ name: 'subjectAltName', altNames });
  cert.setExtensions(extensions);
  signWithNode(cert, ca.keyPem, subjectKey.spki);
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
  keyAlgorithm: KeyAlgorithm;
}

export function describeCertificate(certPem: string): CertificateInfo {
  // Node's parser, not forge's: forge reads only RSA public keys.
  const cert = new X509Certificate(certPem);
  const field = (name: string, dn: string) =>
    dn
      .split('\n')
      .find((line) => line.startsWith(`${name}=`))
      ?.slice(name.length + 1);
  return {
    serialNumber: cert.serialNumber.toLowerCase(),
    commonName: field('CN', cert.subject),
    issuerCommonName: field('CN', cert.issuer),
    notBefore: cert.validFromDate,
    notAfter: cert.validToDate,
    keyAlgorithm: cert.publicKey.asymmetricKeyType === 'ec' ? 'ECDSA' : 'RSA',
  };
}

/** True when `certPem` was signed by `caPem` (issuer name and signature). */
export function isIssuedBy(certPem: string, caPem: string): boolean {
  try {
    const cert = new X509Certificate(certPem);
    const ca = new X509Certificate(caPem);
    return cert.checkIssued(ca) && cert.verify(ca.publicKey);
  } catch {
    return false;
  }
}
