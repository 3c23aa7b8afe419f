// JSON schemas of the HTTP API. Fastify validates requests and serialises
// responses with them (unknown fields are dropped on the way out, so nothing
// internal leaks), and @fastify/swagger publishes them as OpenAPI.
import { ATTRIBUTE_NAMES, DeviceRecord } from '@hark/contracts/inventory';
import { ALERT_KINDS, SEVERITIES } from '../alerts/rules.js';
import { SORT_FIELDS } from '../inventory/query.js';

const dateTime = { type: 'string', format: 'date-time' } as const;
const strings = { type: 'array', items: { type: 'string' } } as const;

export const errorSchema = {
  type: 'object',
  properties: { statusCode: { type: 'integer' }, error: { type: 'string' }, message: { type: 'string' } },
} as const;

const evidence = {
  type: 'object',
  properties: {
    protocol: { type: 'string' },
    field: { type: 'string' },
    value: { type: 'string' },
    seen: dateTime,
  },
  required: ['protocol', 'field', 'seen'],
} as const;

const attribute = {
  type: 'object',
  description: 'The best evidence for the value among all sensors: highest confidence, then newest.',
  properties: {
    value: { type: 'string' },
    confidence: { type: 'number' },
    evidence: { type: 'array', items: evidence },
    sensor: { type: 'string', description: 'The sensor whose observation supplied the value.' },
  },
  required: ['value', 'confidence', 'evidence', 'sensor'],
} as const;

export const deviceSchema = {
  $id: 'Device',
  type: 'object',
  properties: {
    id: { type: 'string', description: 'Aggregator id: "<site>~[<zone>~]<device id>".' },
    site: { type: 'string' },
    zone: { type: 'string' },
    deviceId: {
      type: 'string',
      description: 'The id the agents use within the site, e.g. "mac:00:11:22:33:44:55".',
    },
    sensors: strings,
    observers: {
      type: 'array',
      items: {
        type: 'object',
        properties: { sensor: { type: 'string' }, node: { type: 'string' }, lastSeen: dateTime },
        required: ['sensor', 'node', 'lastSeen'],
      },
    },
    macs: strings,
    ipv4: strings,
    ipv6: strings,
    protocols: strings,
    hostname: attribute,
    vendor: attribute,
    manufacturer: attribute,
    model: attribute,
    firmwareVersion: attribute,
    serialNumber: attribute,
    os: attribute,
    category: attribute,
    type: attribute,
    firstSeen: dateTime,
    lastSeen: dateTime,
  },
  required: [
    'id',
    'site',
    'deviceId',
    'sensors',
    'observers',
    'macs',
    'ipv4',
    'ipv6',
    'protocols',
    'firstSeen',
    'lastSeen',
  ],
} as const;

/** Asked by a sharded aggregator's replicas of each other; see the README's Scale-out. */
export const scopeParameter = {
  scope: {
    type: 'string',
    enum: ['shard'],
    description:
      "shard: answer from this replica's own sites only. Without it, a sharded aggregator answers for every shard.",
  },
} as const;

/** Shards that did not answer a sharded query: their sites are missing from the answer. */
export const unavailableShards = {
  unavailable: {
    type: 'array',
    description:
      'Present when shards of a sharded aggregator did not answer: their sites are missing from this answer.',
    items: {
      type: 'object',
      properties: { shard: { type: 'integer' }, error: { type: 'string' } },
      required: ['shard', 'error'],
    },
  },
} as const;

/** A querystring of only `scope`, for the reads that take no other parameter. */
export const scopeQuery = {
  type: 'object',
  properties: scopeParameter,
  additionalProperties: false,
} as const;

/** limit/offset paging, as every list in the API takes it. */
const paging = {
  limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
  offset: { type: 'integer', minimum: 0, default: 0 },
} as const;

export const deviceListQuery = {
  type: 'object',
  properties: {
    site: { type: 'string' },
    zone: { type: 'string' },
    category: { type: 'string' },
    type: { type: 'string' },
    vendor: { type: 'string' },
    q: { type: 'string', maxLength: 200, description: 'Free-text search; every word must match.' },
    sort: {
      type: 'string',
      pattern: `^-?(${SORT_FIELDS.join('|')})$`,
      default: '-lastSeen',
      description: `One of ${SORT_FIELDS.join(', ')}; prefix "-" for descending.`,
    },
    ...paging,
    ...scopeParameter,
  },
  additionalProperties: false,
} as const;

export const deviceListResponse = {
  type: 'object',
  properties: {
    items: { type: 'array', items: { $ref: 'Device#' } },
    total: { type: 'integer' },
    ...unavailableShards,
  },
  required: ['items', 'total'],
} as const;

/** The wire's device record schema (contracts), as plain JSON Schema for Fastify and OpenAPI. */
const deviceRecord: object = { ...DeviceRecord, description: 'The device record as the sensor sent it.' };

export const deviceHistoryQuery = {
  type: 'object',
  properties: {
    ...paging,
    ...scopeParameter,
  },
  additionalProperties: false,
} as const;

export const deviceHistoryResponse = {
  type: 'object',
  properties: {
    items: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          receivedAt: { ...dateTime, description: 'When the aggregator received the message.' },
          sensor: { type: 'string' },
          node: { type: 'string' },
          runId: { type: 'string' },
          seq: { type: 'integer' },
          mode: { type: 'string', enum: ['snapshot', 'delta'] },
          record: deviceRecord,
        },
        required: ['receivedAt', 'sensor', 'node', 'runId', 'seq', 'mode', 'record'],
      },
    },
  },
  required: ['items'],
} as const;

const captureStats = {
  type: 'object',
  properties: {
    packets: { type: 'integer' },
    bytes: { type: 'integer' },
    malformed: { type: 'integer' },
    kernelDrops: { type: 'integer' },
    agentDrops: { type: 'integer' },
  },
} as const;

const health = { type: 'string', enum: ['online', 'stale', 'offline', 'unknown'] } as const;

export const sensorSchema = {
  $id: 'Sensor',
  type: 'object',
  properties: {
    id: { type: 'string', description: '"<site>.<sensor>", the certificate common name.' },
    site: { type: 'string' },
    sensor: { type: 'string' },
    health,
    lastHeartbeat: dateTime,
    certificateNotAfter: dateTime,
    agentVersions: strings,
    capture: captureStats,
    nodes: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          node: { type: 'string' },
          health,
          online: { type: 'boolean' },
          statusAt: dateTime,
          lastHeartbeat: dateTime,
          agentVersion: { type: 'string' },
          runId: { type: 'string' },
          uptimeSeconds: { type: 'number' },
          devices: { type: 'integer' },
          spoolDepth: { type: 'integer' },
          capture: captureStats,
          certificateNotAfter: dateTime,
        },
        required: ['node', 'health'],
      },
    },
  },
  required: ['id', 'site', 'sensor', 'health', 'nodes', 'agentVersions', 'capture'],
} as const;

export const siteSchema = {
  type: 'object',
  properties: {
    site: { type: 'string' },
    devices: { type: 'integer' },
    zones: {
      type: 'array',
      items: { type: 'object', properties: { zone: { type: 'string' }, devices: { type: 'integer' } } },
    },
    sensors: {
      type: 'object',
      properties: {
        total: { type: 'integer' },
        online: { type: 'integer' },
        stale: { type: 'integer' },
        offline: { type: 'integer' },
        unknown: { type: 'integer' },
      },
    },
  },
  required: ['site', 'devices', 'zones', 'sensors'],
} as const;

export const alertSchema = {
  $id: 'Alert',
  type: 'object',
  properties: {
    id: {
      type: 'string',
      description: 'Stable: the same finding on the same device has the same id, and recurs under it.',
    },
    kind: {
      type: 'string',
      enum: ALERT_KINDS,
      description:
        "new-device: a device no sensor had reported. attribute-changed: a source that gave one value of a watched attribute now gives another. new-protocol: a control device (OT, BMS) speaks a protocol no sensor heard from it before. sensor-down: a sensor node went offline or stopped reporting. certificate-expiring: a sensor node's client certificate expires within the aggregator's --certificate-warning (7 days by default).",
    },
    severity: { type: 'string', enum: SEVERITIES },
    site: { type: 'string' },
    zone: { type: 'string' },
    device: {
      type: 'string',
      description: "The device, as /api/v1/devices/{id} takes it; absent for a sensor's own alerts.",
    },
    deviceId: { type: 'string', description: "The agents' id of the device within its site." },
    summary: { type: 'string' },
    attribute: { type: 'string', enum: ATTRIBUTE_NAMES },
    from: { type: 'string' },
    to: { type: 'string' },
    evidence: { type: 'array', items: evidence, description: 'What the new value rests on.' },
    protocol: { type: 'string', description: "A new-protocol alert's protocol." },
    sensor: {
      type: 'string',
      description: 'The sensor whose report raised the alert first, or that it is about.',
    },
    node: { type: 'string' },
    firstAt: { ...dateTime, description: 'When the aggregator received the report that first raised it.' },
    lastAt: { ...dateTime, description: 'When it was last raised again.' },
    count: { type: 'integer', description: 'How many times it was raised.' },
    acknowledged: {
      type: 'object',
      description:
        'Someone took note of it (POST /api/v1/alerts/{id}/acknowledge). Cleared when it is raised again: it is then open again.',
      properties: {
        at: dateTime,
        by: { type: 'string', description: 'The Kubernetes user whose token acknowledged it.' },
        comment: { type: 'string' },
      },
      required: ['at', 'by'],
    },
  },
  required: ['id', 'kind', 'severity', 'site', 'summary', 'sensor', 'node', 'firstAt', 'lastAt', 'count'],
} as const;

export const alertListQuery = {
  type: 'object',
  properties: {
    site: { type: 'string' },
    zone: { type: 'string' },
    kind: { type: 'string', enum: ALERT_KINDS },
    severity: { type: 'string', enum: SEVERITIES },
    device: { type: 'string', description: "One device's alerts (its id in /api/v1/devices)." },
    since: {
      ...dateTime,
      description:
        'Only alerts raised (first, or again) after this instant: a SIEM or ticketing integration polls with the newest lastAt it has.',
    },
    acknowledged: { type: 'boolean', description: 'true: only acknowledged alerts; false: only open ones.' },
    ...paging,
    ...scopeParameter,
  },
  additionalProperties: false,
} as const;

export const alertAcknowledgeBody = {
  type: 'object',
  properties: {
    comment: { type: 'string', maxLength: 1000, description: 'Why: a ticket, a finding, "planned change".' },
  },
  additionalProperties: false,
} as const;

export const alertAcknowledgeParams = {
  type: 'object',
  properties: { id: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,64}$' } },
  required: ['id'],
} as const;

export const alertListResponse = {
  type: 'object',
  properties: {
    items: { type: 'array', items: { $ref: 'Alert#' } },
    total: { type: 'integer' },
    ...unavailableShards,
  },
  required: ['items', 'total'],
} as const;
