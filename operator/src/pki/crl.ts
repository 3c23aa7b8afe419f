// X.509 certificate revocation lists (RFC 5280 §5), signed by the site CA.
// node-forge has the ASN.1 toolkit but no CRL writer, and Node's crypto has
// neither, so the structure is built here; the signature is Node's native RSA.
// Both brokers enforce a CRL natively (Node's tls `crl` option, Mosquitto's
// `crlfile`), so a revoked sensor is refused at the TLS handshake.
import { sign } from 'node:crypto';
import forge from 'node-forge';
import type { KeyPair } from './certificates.js';

const { asn1, pki } = forge;

export interface RevokedCertificate {
  /** Serial number, hex. */
  serialNumber: string;
  revokedAt: Date;
}

function integerFromHex(hex: string): forge.asn1.Asn1 {
  let bytes = forge.util.hexToBytes(hex.length % 2 ? `0${hex}` : hex);
  // DER INTEGERs are signed: a leading bit of one needs a zero byte in front.
  if (bytes.charCodeAt(0) & 0x80) bytes = `\x00${bytes}`;
  return asn1.create(asn1.Class.UNIVERSAL, asn1.Type.INTEGER, false, bytes);
}

function time(date: Date): forge.asn1.Asn1 {
  // RFC 5280: UTCTime through 2049, GeneralizedTime after.
  return date.getUTCFullYear() < 2050
    ? asn1.create(asn1.Class.UNIVERSAL, asn1.Type.UTCTIME, false, asn1.dateToUtcTime(date))
    : asn1.create(asn1.Class.UNIVERSAL, asn1.Type.GENERALIZEDTIME, false, asn1.dateToGeneralizedTime(date));
}

function sha256WithRsa(): forge.asn1.Asn1 {
  return asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [
    asn1.create(
      asn1.Class.UNIVERSAL,
      asn1.Type.OID,
      false,
      asn1.oidToDer(pki.oids.sha256WithRSAEncryption!).getBytes(),
    ),
    asn1.create(asn1.Class.UNIVERSAL, asn1.Type.NULL, false, ''),
  ]);
}

/** A v2 CRL from `ca` listing `revoked`, valid from `thisUpdate` until `nextUpdate`, as PEM. */
/** One X.509 extension (RFC 5280 section 4.1): its OID and its DER-encoded value in an OCTET STRING. */
function extension(oid: string, value: forge.asn1.Asn1): forge.asn1.Asn1 {
  return asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [
    asn1.create(asn1.Class.UNIVERSAL, asn1.Type.OID, false, asn1.oidToDer(oid).getBytes()),
    asn1.create(asn1.Class.UNIVERSAL, asn1.Type.OCTETSTRING, false, asn1.toDer(value).getBytes()),
  ]);
}

export function buildCrl(
  ca: KeyPair,
  revoked: RevokedCertificate[],
  options: { thisUpdate: Date; nextUpdate: Date; crlNumber: number },
): string {
  const caCert = pki.certificateFromPem(ca.certPem);
  const extensions = asn1.create(asn1.Class.CONTEXT_SPECIFIC, 0, true, [
    asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [
      // authorityKeyIdentifier: which CA key signed it (required by RFC 5280).
      extension(
        '2.5.29.35',
        asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [
          asn1.create(
            asn1.Class.CONTEXT_SPECIFIC,
            0,
            false,
            caCert.generateSubjectKeyIdentifier().getBytes(),
          ),
        ]),
      ),
      // cRLNumber: monotonically increasing (required by RFC 5280).
      extension('2.5.29.20', integerFromHex(options.crlNumber.toString(16))),
    ]),
  ]);
  const tbs = asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [
    asn1.create(asn1.Class.UNIVERSAL, asn1.Type.INTEGER, false, asn1.integerToDer(1).getBytes()),
    sha256WithRsa(),
    pki.distinguishedNameToAsn1(caCert.subject),
    time(options.thisUpdate),
    time(options.nextUpdate),
    ...(revoked.length > 0
      ? [
          asn1.create(
            asn1.Class.UNIVERSAL,
            asn1.Type.SEQUENCE,
            true,
            revoked.map((r) =>
              asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [
                integerFromHex(r.serialNumber),
                time(r.revokedAt),
              ]),
            ),
          ),
        ]
      : []),
    extensions,
  ]);
  const tbsDer = asn1.toDer(tbs).getBytes();
  const signature = sign('sha256', Buffer.from(tbsDer, 'binary'), ca.keyPem).toString('binary');
  const crl = asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [
    tbs,
    sha256WithRsa(),
    asn1.create(asn1.Class.UNIVERSAL, asn1.Type.BITSTRING, false, `\x00${signature}`),
  ]);
  const der = Buffer.from(asn1.toDer(crl).getBytes(), 'binary').toString('base64');
  return `-----BEGIN X509 CRL-----\n${der.match(/.{1,64}/g)!.join('\n')}\n-----END X509 CRL-----\n`;
}
