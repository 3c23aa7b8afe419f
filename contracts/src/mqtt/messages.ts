// Every message on the wire, with the schema that validates it. `schema` is
// the message format version: an aggregator accepts every version it knows,
// so old agents and new aggregators coexist during a rollout.
import { type Static, Type } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import '../formats.js';
import { DeviceRecord } from '../inventory/index.js';

export const MESSAGE_SCHEMA_VERSION = 1;
/** Every message format version this code can read; a message of another version is rejected as 'version'. */
export const KNOWN_SCHEMA_VERSIONS: readonly number[] = [1];
/** Messages larger than this are rejected unread; a snapshot is split to stay under it. */
export const MAX_MESSAGE_BYTES = 4 * 1024 * 1024;

const Envelope = {
  schema: Type.Literal(MESSAGE_SCHEMA_VERSION),
  sentAt: Type.String({ format: 'date-time' }),
  agentVersion: Type.String(),
};

export const InventoryMessage = Type.Object({
  ...Envelope,
  kind: Type.Literal('inventory'),
  mode: Type.Union([Type.Literal('snapshot'), Type.Literal('delta')]),
  /** Monotonic per agent run; with runId it identifies a message for de-duplication. */
  seq: Type.Integer({ minimum: 0 }),
  runId: Type.String({ minLength: 1 }),
  /** A snapshot may span several messages: part/parts. */
  part: Type.Optional(Type.Integer({ minimum: 1 })),
  parts: Type.Optional(Type.Integer({ minimum: 1 })),
  zone: Type.Optional(Type.String()),
  devices: Type.Array(DeviceRecord),
});

export const CaptureStats = Type.Object({
  packets: Type.Integer({ minimum: 0 }),
  bytes: Type.Integer({ minimum: 0 }),
  malformed: Type.Integer({ minimum: 0 }),
  kernelDrops: Type.Integer({ minimum: 0 }),
  agentDrops: Type.Integer({ minimum: 0 }),
});

export const HeartbeatMessage = Type.Object({
  ...Envelope,
  kind: Type.Literal('heartbeat'),
  runId: Type.String({ minLength: 1 }),
  uptimeSeconds: Type.Number({ minimum: 0 }),
  devices: Type.Integer({ minimum: 0 }),
  capture: CaptureStats,
  certificateNotAfter: Type.Optional(Type.String({ format: 'date-time' })),
  spoolDepth: Type.Integer({ minimum: 0 }),
});

/** Retained; the agent's last will publishes `online: false` when it vanishes. */
export const StatusMessage = Type.Object({
  ...Envelope,
  kind: Type.Literal('status'),
  online: Type.Boolean(),
});

export type InventoryMessage = Static<typeof InventoryMessage>;
export type HeartbeatMessage = Static<typeof HeartbeatMessage>;
export type StatusMessage = Static<typeof StatusMessage>;
export type CaptureStats = Static<typeof CaptureStats>;
export type WireMessage = InventoryMessage | HeartbeatMessage | StatusMessage;

const checkers = {
  inventory: TypeCompiler.Compile(InventoryMessage),
  heartbeat: TypeCompiler.Compile(HeartbeatMessage),
  status: TypeCompiler.Compile(StatusMessage),
};

export class MessageRejected extends Error {
  constructor(
    readonly reason: 'oversized' | 'not-json' | 'schema' | 'kind-mismatch' | 'version',
    message: string,
  ) {
    super(message);
    this.name = 'MessageRejected';
  }
}

/** Decodes and validates a payload received on a topic of the given kind. Throws MessageRejected. */
export function decodeMessage(kind: keyof typeof checkers, payload: Uint8Array): WireMessage {
  if (payload.byteLength > MAX_MESSAGE_BYTES) {
    throw new MessageRejected(
      'oversized',
      `message of ${payload.byteLength} bytes exceeds ${MAX_MESSAGE_BYTES}`,
    );
  }
  let value: unknown;
  try {
    // Decoded in place: Buffer.from(payload) would copy a message of up to a megabyte first.
    value = JSON.parse(Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength).toString('utf8'));
  } catch {
    throw new MessageRejected('not-json', 'payload is not JSON');
  }
  const version = (value as { schema?: unknown } | null)?.schema;
  if (typeof version === 'number' && !KNOWN_SCHEMA_VERSIONS.includes(version)) {
    throw new MessageRejected(
      'version',
      `message schema version ${version} is not one of ${KNOWN_SCHEMA_VERSIONS}`,
    );
  }
  const checker = checkers[kind];
  if (!checker.Check(value)) {
    const first = checker.Errors(value).First();
    throw new MessageRejected(
      'schema',
      `invalid ${kind} message: ${first?.path || '/'} ${first?.message ?? ''}`,
    );
  }
  if ((value as WireMessage).kind !== kind)
    throw new MessageRejected('kind-mismatch', `a ${(value as WireMessage).kind} message on a ${kind} topic`);
  return value as WireMessage;
}

export function encodeMessage(message: WireMessage): Buffer {
  return Buffer.from(JSON.stringify(message));
}

/** The envelope of an inventory message (everything but its devices), stamped now. */
export function inventoryEnvelope(o: {
  mode: 'snapshot' | 'delta';
  seq: number;
  runId: string;
  agentVersion: string;
  part?: { part: number; parts: number } | undefined;
  zone?: string | undefined;
}): Omit<InventoryMessage, 'devices'> {
  const envelope: Omit<InventoryMessage, 'devices'> = {
    schema: MESSAGE_SCHEMA_VERSION,
    sentAt: new Date().toISOString(),
    agentVersion: o.agentVersion,
    kind: 'inventory',
    mode: o.mode,
    seq: o.seq,
    runId: o.runId,
  };
  if (o.part) {
    envelope.part = o.part.part;
    envelope.parts = o.part.parts;
  }
  if (o.zone) envelope.zone = o.zone;
  return envelope;
}

/**
 * An inventory message whose device records are already serialized, as their
 * JSON array (bytes, or text): the agent writes a large snapshot's records one
 * at a time into one reused buffer and never holds them all as objects.
 * Decodes to what encodeMessage({ ...envelope, devices }) would. Written into
 * one buffer: no intermediate copies of a message of up to a megabyte.
 */
export function encodeInventoryMessage(
  envelope: Omit<InventoryMessage, 'devices'>,
  devicesJsonArray: Uint8Array | string,
): Buffer {
  const head = `${JSON.stringify(envelope).slice(0, -1)},"devices":`;
  const headBytes = Buffer.byteLength(head);
  const text = typeof devicesJsonArray === 'string';
  const devicesBytes = text ? Buffer.byteLength(devicesJsonArray) : devicesJsonArray.byteLength;
  const out = Buffer.allocUnsafe(headBytes + devicesBytes + 1);
  out.write(head, 0);
  if (text) out.write(devicesJsonArray, headBytes);
  else out.set(devicesJsonArray, headBytes);
  out[headBytes + devicesBytes] = 0x7d; // }
  return out;
}
