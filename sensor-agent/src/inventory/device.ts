// In-memory state of one device while the inventory is being built.
import type { AttributeName, Evidence } from '@hark/contracts/inventory';
import type { HintName } from '../decoders/types.js';

/** How many evidence entries an attribute keeps: enough to explain it, bounded for memory. */
export const MAX_EVIDENCE = 4;
/** How many distinct values a hint keeps per device. */
export const MAX_HINT_VALUES = 16;

/** Evidence as kept in memory: the timestamp stays a number until a record is written. */
export interface StoredEvidence extends Omit<Evidence, 'seen'> {
  seenMs: number;
}

export interface AttributeState {
  value: string;
  confidence: number;
  evidence: StoredEvidence[];
}

export type AddressSource = 'strong' | 'header';

export interface Device {
  /** Primary MAC (48-bit integer), or -1 for a device known only by IP (routed). */
  mac: number;
  /** Other MACs of the same device (LLDP chassis id, DUID...). */
  aliases?: Set<number>;
  /** IPv4/IPv6 text -> how it was learned. "header" addresses come only from IP source addresses. */
  ipv4: Map<string, AddressSource>;
  ipv6?: Map<string, AddressSource>;
  /** A plain object, not a Map: a handful of keys, and 100k devices make every byte count. */
  attributes: Partial<Record<AttributeName, AttributeState>>;
  /** Hint name/value pairs, flattened ([name, value, name, value...]); see hintValues. */
  hints?: string[];
  /** Protocol names (few per device: an array is smaller than a Set). */
  protocols: string[];
  firstSeenMs: number;
  lastSeenMs: number;
  /** Last IPv6 source seen in a header, as raw bytes: skips re-formatting the same address per packet. */
  lastIp6Header?: Buffer;
  /** IPv4 sources seen in headers (integers), before formatting. */
  headerIp4?: Set<number>;
  /** For an "ip:" device known from application-layer facts: the MAC that carried them (Observation.via). */
  via?: number;
  /** For an "ip:" device: its packets crossed a router, so `via` is the router's MAC. */
  routed?: boolean;
}

// Collections a device may never need (aliases, IPv6, hints, header IPs) are
// created on first use: at 100k devices every empty Map/Set costs megabytes.
export function newDevice(mac: number, timestampMs: number): Device {
  return {
    mac,
    ipv4: new Map(),
    attributes: {},
    protocols: [],
    firstSeenMs: timestampMs,
    lastSeenMs: timestampMs,
  };
}

export function hintValues(device: Device, name: HintName): ReadonlySet<string> {
  const h = device.hints;
  if (!h) return EMPTY;
  let out: Set<string> | undefined;
  for (let i = 0; i < h.length; i += 2) {
    if (h[i] !== name) continue;
    out ??= new Set();
    out.add(h[i + 1]!);
  }
  return out ?? EMPTY;
}

/** Adds a hint value unless present or the name already holds MAX_HINT_VALUES values. */
export function addHint(device: Device, name: HintName, value: string): void {
  device.hints ??= [];
  const h = device.hints;
  let count = 0;
  for (let i = 0; i < h.length; i += 2) {
    if (h[i] !== name) continue;
    if (h[i + 1] === value) return;
    count++;
  }
  if (count < MAX_HINT_VALUES) h.push(name, value);
}

export function addProtocol(device: Device, protocol: string): void {
  if (!device.protocols.includes(protocol)) device.protocols.push(protocol);
}

export function aliasesOf(device: Device): Set<number> {
  device.aliases ??= new Set();
  return device.aliases;
}

export function ipv6Of(device: Device): Map<string, AddressSource> {
  device.ipv6 ??= new Map();
  return device.ipv6;
}

export function headerIp4Of(device: Device): Set<number> {
  device.headerIp4 ??= new Set();
  return device.headerIp4;
}

const EMPTY: ReadonlySet<string> = new Set();
