// MQTT topics, versioned under a configurable prefix:
//   <prefix>/v1/<site>.<sensor>/<node>/<kind>
// "<site>.<sensor>" is one segment and is exactly the common name of the
// sensor's client certificate. That lets any broker enforce, with one pattern
// rule, that a client publishes only under its own identity (Mosquitto:
// `pattern write <prefix>/v1/%u/+/+` with use_identity_as_username), since
// Mosquitto refuses %u substitution for usernames containing "/". The site is
// a DNS label (no dots), so the first dot splits site from sensor.

export const WIRE_VERSION = 'v1';
export const MESSAGE_KINDS = ['inventory', 'heartbeat', 'status'] as const;
export type MessageKind = (typeof MESSAGE_KINDS)[number];

export interface SensorIdentity {
  site: string;
  sensor: string;
  node: string;
}

const SEGMENT = /^[A-Za-z0-9_.-]{1,128}$/;

export function topicFor(prefix: string, id: SensorIdentity, kind: MessageKind): string {
  for (const [name, value] of Object.entries(id)) {
    if (!SEGMENT.test(value))
      throw new Error(`${name} "${value}" cannot be a topic segment: use letters, digits, . _ -`);
  }
  return `${prefix}/${WIRE_VERSION}/${sensorCommonName(id.site, id.sensor)}/${id.node}/${kind}`;
}

/** The subscription an aggregator makes for every sensor's messages. */
export function subscriptionFor(prefix: string): string {
  return `${prefix}/${WIRE_VERSION}/+/+/+`;
}

export function parseTopic(
  prefix: string,
  topic: string,
): (SensorIdentity & { kind: MessageKind }) | undefined {
  const head = `${prefix}/${WIRE_VERSION}/`;
  if (!topic.startsWith(head)) return undefined;
  const parts = topic.slice(head.length).split('/');
  if (parts.length !== 3) return undefined;
  const [identity, node, kind] = parts as [string, string, string];
  const who = parseSensorCommonName(identity);
  if (!who || !SEGMENT.test(node) || !(MESSAGE_KINDS as readonly string[]).includes(kind)) return undefined;
  return { ...who, node, kind: kind as MessageKind };
}

/** The certificate common name, and topic segment, that names a sensor: "<site>.<sensor>". */
export function sensorCommonName(site: string, sensor: string): string {
  return `${site}.${sensor}`;
}

const SITE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

export function parseSensorCommonName(cn: string): { site: string; sensor: string } | undefined {
  const dot = cn.indexOf('.');
  if (dot < 1) return undefined;
  const site = cn.slice(0, dot);
  const sensor = cn.slice(dot + 1);
  if (!SITE.test(site) || !SEGMENT.test(sensor)) return undefined;
  return { site, sensor };
}

/** Certificates carry their role in the organizational unit, so a broker can tell a sensor from an aggregator. */
export const ROLE_OU = { sensor: 'hark-sensor', aggregator: 'hark-aggregator' } as const;
/** The common name of the aggregator's own client certificate; it has no dot, so it never parses as a sensor. */
export const AGGREGATOR_COMMON_NAME = 'hark-aggregator';
