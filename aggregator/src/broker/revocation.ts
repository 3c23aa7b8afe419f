// Certificate revocation for the embedded broker: a client whose certificate
// is on its issuer's CRL is refused, as Mosquitto's `crlfile` refuses it.
//
// Why not Node's tls `crl` option: Node sets X509_V_FLAG_CRL_CHECK_ALL with
// it, so OpenSSL then wants a CRL for every CA in the chain. A site CA that is
// an intermediate of the organisation's root (the deployment the operator
// documents, one central aggregator trusting many sites) would then refuse
// every client unless the root's CRL were loaded too. Mosquitto checks the
// leaf only (X509_V_FLAG_CRL_CHECK); this does the same, right after the
// handshake, with the same two fail-closed rules: a client whose issuer has no
// CRL is refused, and so is one whose issuer's CRL has passed its nextUpdate.
//
// Each client certificate's issuer is looked up in the broker's trust bundle
// (Node does not hand a TLS server the chain its client sent), so with a site
// CA that is an intermediate, the bundle holds the site CAs beside the root:
// the operator's `ca.crt` from each site, as the README says.
//
// Parsing and signature checks are @peculiar/x509's; it resolves its ASN.1
// parsers through tsyringe, which needs the Reflect metadata polyfill loaded
// first (import order is evaluation order in ESM).
import 'reflect-metadata';
import { X509Certificate as NodeCertificate } from 'node:crypto';
import type { DetailedPeerCertificate } from 'node:tls';
import { X509Certificate, X509Crl } from '@peculiar/x509';

export type RevocationVerdict =
  | { ok: true }
  | { ok: false; reason: 'revoked' | 'no-crl' | 'crl-expired' | 'check-failed'; detail: string };

interface IssuerCrl {
  serials: Set<string>;
  nextUpdate?: Date;
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;
const PEM_CRL = /-----BEGIN X509 CRL-----[\s\S]+?-----END X509 CRL-----/g;

/** Serial numbers as hex, lower case, without leading zeros: Node and @peculiar/x509 print them differently. */
function normalizeSerial(hex: string): string {
  return hex.toLowerCase().replace(/^0+(?=.)/, '');
}

/** Parses a PEM file of one or more CRLs; throws naming the block that does not parse. */
function parseCrls(pem: string): X509Crl[] {
  const blocks = pem.match(PEM_CRL) ?? [];
  if (blocks.length === 0) throw new Error('no "-----BEGIN X509 CRL-----" block found');
  return blocks.map((block, i) => {
    try {
      return new X509Crl(block);
    } catch (err) {
      throw new Error(`CRL ${i + 1} of ${blocks.length} does not parse: ${(err as Error).message}`);
    }
  });
}

/** The CRLs a broker enforces, matched lazily to each issuer that presents a client. */
export class RevocationList {
  // Keyed by the issuer certificate's SHA-256 fingerprint. A CRL counts for an
  // issuer only once its signature verified with that issuer's key.
  private readonly byIssuer = new Map<string, Promise<IssuerCrl | undefined>>();

  private readonly issuers: NodeCertificate[];

  constructor(
    private readonly crls: readonly X509Crl[],
    /** The broker's trust bundle (PEM): where each client's issuer is found. */
    trustBundlePem: string,
  ) {
    this.issuers = (trustBundlePem.match(PEM_CERT) ?? []).map((pem) => new NodeCertificate(pem));
  }

  static fromPem(crlPem: string, trustBundlePem: string): RevocationList {
    return new RevocationList(parseCrls(crlPem), trustBundlePem);
  }

  get size(): number {
    return this.crls.length;
  }

  /** The earliest nextUpdate of the loaded CRLs: past it, clients of that issuer are refused. */
  get earliestNextUpdate(): Date | undefined {
    const times = this.crls.flatMap((c) => (c.nextUpdate ? [c.nextUpdate.getTime()] : []));
    return times.length > 0 ? new Date(Math.min(...times)) : undefined;
  }

  /** Decides on a peer whose chain TLS has already verified (`getPeerCertificate(true)`). */
  async check(peer: DetailedPeerCertificate, now = new Date()): Promise<RevocationVerdict> {
    const leaf = new NodeCertificate(peer.raw);
    const issuer = this.issuerOf(leaf, peer);
    if (!issuer) {
      return {
        ok: false,
        reason: 'no-crl',
        detail: `the issuer of "${leaf.subject.replaceAll('\n', ', ')}" is not in the trust bundle, so no CRL can be matched to it`,
      };
    }
    let entry = this.byIssuer.get(issuer.fingerprint256);
    if (!entry) {
      entry = this.crlFor(issuer.raw);
      this.byIssuer.set(issuer.fingerprint256, entry);
    }
    const crl = await entry;
    const issuerName = issuer.subject.replaceAll('\n', ', ');
    if (!crl) return { ok: false, reason: 'no-crl', detail: `no CRL signed by issuer "${issuerName}"` };
    if (crl.nextUpdate && crl.nextUpdate.getTime() < now.getTime()) {
      return {
        ok: false,
        reason: 'crl-expired',
        detail: `the CRL of "${issuerName}" expired at ${crl.nextUpdate.toISOString()}; the issuer must re-sign it`,
      };
    }
    if (crl.serials.has(normalizeSerial(leaf.serialNumber))) {
      return {
        ok: false,
        reason: 'revoked',
        detail: `certificate ${leaf.serialNumber} is revoked by "${issuerName}"`,
      };
    }
    return { ok: true };
  }

  private issuerOf(leaf: NodeCertificate, peer: DetailedPeerCertificate): NodeCertificate | undefined {
    const presented = peer.issuerCertificate?.raw;
    const candidates = [
      ...(presented && !presented.equals(peer.raw) ? [new NodeCertificate(presented)] : []),
      ...this.issuers,
    ];
    return candidates.find((ca) => leaf.checkIssued(ca) && leaf.verify(ca.publicKey));
  }

  private async crlFor(issuerRaw: Buffer): Promise<IssuerCrl | undefined> {
    const issuer = new X509Certificate(issuerRaw);
    const subject = issuer.subjectName.toString();
    let newest: X509Crl | undefined;
    for (const crl of this.crls) {
      if (crl.issuerName.toString() !== subject) continue;
      if (!(await crl.verify({ publicKey: issuer }))) continue;
      if (!newest || crl.thisUpdate > newest.thisUpdate) newest = crl;
    }
    if (!newest) return undefined;
    return {
      serials: new Set(newest.entries.map((e) => normalizeSerial(e.serialNumber))),
      nextUpdate: newest.nextUpdate,
    };
  }
}
