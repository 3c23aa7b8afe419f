// The device record an agent builds and the aggregator merges: the shape of
// `hark-agent inventory --json` and of every inventory message on the wire.
import { type Static, Type } from '@sinclair/typebox';

export const Evidence = Type.Object({
  protocol: Type.String({ description: 'The protocol the value was read from, e.g. "dhcp".' }),
  field: Type.String({ description: 'The field within it, e.g. "option12.hostname".' }),
  value: Type.Optional(Type.String({ description: 'The raw value as seen on the wire.' })),
  seen: Type.String({ description: 'When it was seen (ISO 8601).', format: 'date-time' }),
});

export const Attribute = Type.Object({
  value: Type.String(),
  confidence: Type.Number({ minimum: 0, maximum: 1 }),
  evidence: Type.Array(Evidence),
});

export const ATTRIBUTE_NAMES = [
  'hostname',
  'vendor',
  'manufacturer',
  'model',
  'firmwareVersion',
  'serialNumber',
  'os',
  'category',
  'type',
] as const;

export const DeviceRecord = Type.Object({
  id: Type.String({
    description: 'Stable within a site: "mac:<mac>" on the local segment, "ip:<ip>" when routed.',
  }),
  macs: Type.Array(Type.String({ pattern: '^[0-9a-f]{2}(:[0-9a-f]{2}){5}$' })),
  ipv4: Type.Array(Type.String()),
  ipv6: Type.Array(Type.String()),
  hostname: Type.Optional(Attribute),
  vendor: Type.Optional(Attribute),
  manufacturer: Type.Optional(Attribute),
  model: Type.Optional(Attribute),
  firmwareVersion: Type.Optional(Attribute),
  serialNumber: Type.Optional(Attribute),
  os: Type.Optional(Attribute),
  category: Type.Optional(Attribute),
  type: Type.Optional(Attribute),
  protocols: Type.Array(Type.String()),
  firstSeen: Type.String({ format: 'date-time' }),
  lastSeen: Type.String({ format: 'date-time' }),
});

export type Evidence = Static<typeof Evidence>;
export type Attribute = Static<typeof Attribute>;
export type AttributeName = (typeof ATTRIBUTE_NAMES)[number];
export type DeviceRecord = Static<typeof DeviceRecord>;
