// Who is on the other end of a broker connection, and what they may do.
// Identity comes only from the client certificate the TLS layer verified
// against the site CA; MQTT usernames and passwords are ignored. The same
// policy is expressed for Mosquitto as an ACL file (mosquitto-config.ts), so
// both brokers enforce one rule set.
import type { PeerCertificate } from 'node:tls';
import { AGGREGATOR_COMMON_NAME, parseSensorCommonName, parseTopic, ROLE_OU } from '@hark/contracts/mqtt';

export type PeerIdentity =
  | { role: 'sensor'; commonName: string; site: string; sensor: string }
  | { role: 'aggregator'; commonName: string }
  | { role: 'none'; commonName: string };

function asList(value: string | string[] | undefined): string[] {
  if (value === undefined) return [];
  return Array.isArray(value) ? value : [value];
}

/** Reads the role from a verified certificate: the OU says what it is, the CN who it is. */
export function identityFromCertificate(cert: PeerCertificate | undefined): PeerIdentity | undefined {
  // getPeerCertificate() returns {} when the peer sent none.
  const subject = cert?.subject as Record<string, string | string[] | undefined> | undefined;
  const cns = asList(subject?.CN);
  // Several CNs would make "who" ambiguous; refuse rather than pick one.
  if (cns.length !== 1) return undefined;
  const commonName = cns[0]!;
  const units = asList(subject?.OU);
  if (units.includes(ROLE_OU.sensor)) {
    const who = parseSensorCommonName(commonName);
    if (who) return { role: 'sensor', commonName, ...who };
  }
  if (units.includes(ROLE_OU.aggregator) && commonName === AGGREGATOR_COMMON_NAME) {
    return { role: 'aggregator', commonName };
  }
  return { role: 'none', commonName };
}

export type Decision = { allowed: true } | { allowed: false; reason: string };
const allow: Decision = { allowed: true };
const deny = (reason: string): Decision => ({ allowed: false, reason });

/**
 * A sensor publishes only under `<prefix>/v1/<its CN>/<node>/<kind>`, so one
 * sensor cannot speak for another. Retain only on its status topic: that is
 * the one message a late subscriber needs (is the sensor online?); retained
 * inventory would be replayed stale forever.
 */
export function mayPublish(identity: PeerIdentity, prefix: string, topic: string, retain: boolean): Decision {
  if (identity.role !== 'sensor') return deny(`a ${identity.role} identity does not publish`);
  const parsed = parseTopic(prefix, topic);
  if (!parsed) return deny('not a hark sensor topic');
  if (`${parsed.site}.${parsed.sensor}` !== identity.commonName) return deny('topic names another sensor');
  if (retain && parsed.kind !== 'status') return deny('retain is allowed only on the status topic');
  return allow;
}

/** Only the aggregator reads, and only hark's own topics. */
export function maySubscribe(identity: PeerIdentity, prefix: string, filter: string): Decision {
  if (identity.role !== 'aggregator') return deny(`a ${identity.role} identity does not subscribe`);
  if (!filter.startsWith(`${prefix}/v1/`)) return deny('outside the hark topic tree');
  return allow;
}
