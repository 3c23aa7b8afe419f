// In-memory state of one device while the inventory is being built.
import type { AttributeName, Evidence } from '@hark/contracts/inventory';
import type { HintName } from '../decoders/types.js';

/** How many evidence entries an attribute keeps: enough to explain it, bounded for memory. */
export const MAX_EVIDENCE = 4;
/** How many distinct values a hint keeps per device. */
export const MAX_HINT_VALUES = 16;

export interface AttributeState {
  value: string;
  confidence: number;
  evidence: Evidence[];
}

export type AddressSource = 'strong' | 'header';

export interface Device {
  /** Primary MAC (48-bit integer), or -1 for a device known only by IP (routed). */
  mac: number;
  /** Other MACs of the same device (LLDP chassis id, DUID...). */
  aliases: Set<number>;
  /** IPv4/IPv6 text -> how it was learned. "header" addresses come only from IP source addresses. */
  ipv4: Map<string, AddressSource>;
  ipv6: Map<string, AddressSource>;
  attributes: Map<AttributeName, AttributeState>;
  hints: Map<HintName, Set<string>>;
  protocols: Set<string>;
  firstSeenMs: number;
  lastSeenMs: number;
  /** Last IPv6 source seen in a header, as raw bytes: skips re-formatting the same address per packet. */
  lastIp6Header?: Buffer;
  /** IPv4 sources seen in headers (integers), before formatting. */
  headerIp4: Set<number>;
}

export function newDevice(mac: number, timestampMs: number): Device {
  return {
    mac,
    aliases: new Set(),
    ipv4: new Map(),
    ipv6: new Map(),
    attributes: new Map(),
    hints: new Map(),
    protocols: new Set(),
    firstSeenMs: timestampMs,
    lastSeenMs: timestampMs,
    headerIp4: new Set(),
  };
}

export function hintValues(device: Device, name: HintName): ReadonlySet<string> {
  return device.hints.get(name) ?? EMPTY;
}

const EMPTY: ReadonlySet<string> = new Set();
