// In-memory state of one device while the inventory is being built, laid out
// for 100k+ devices per agent (the goal: under 150 MB of process RSS).
//
// What makes it small (measured with test/bench/agent-throughput.ts):
//  - one hidden class with a fixed set of fields; state most devices never
//    need (aliases, IPv6, the router/"ip:" bookkeeping) sits in one lazily
//    allocated `x` object;
//  - IPv4 addresses are uint32 numbers in a small array, not strings in a Map;
//  - the MAC and the first/last-seen times are small integers (24-bit MAC
//    halves; milliseconds relative to the first time stored), not three heap
//    numbers;
//  - attributes are one flat array [name index × 1024 + confidence in
//    thousandths, value, ...] and their evidence one flat array of doubles
//    [source id × 16 + name index, seen ms, ...] (unboxed by V8): a
//    (protocol, field) pair is a small integer from a process-wide registry;
//  - values that repeat across devices (models, firmware versions, vendor
//    classes) are interned, and hint and protocol lists are shared,
//    copy-on-write arrays: devices of the same kind point at the same list.
//
// Evidence policy (unchanged): per attribute, the first MAX_EVIDENCE distinct
// (protocol, field) sources that reported its current value, each with the
// time it was first seen; a different value with higher confidence replaces
// the attribute and its evidence. An evidence value differs from the
// attribute's only by letter case (values match case-insensitively); such
// variants are kept aside in `x.evValues`.
import type { AttributeName } from '@hark/contracts/inventory';
import { ATTRIBUTE_NAMES } from '@hark/contracts/inventory';
import type { HintName } from '../decoders/types.js';

/** How many evidence entries an attribute keeps: enough to explain it, bounded for memory. */
export const MAX_EVIDENCE = 4;
/** Confidence (permille) from which a source's new value for an attribute replaces its old one (setAttribute). */
const FOLLOWS_CHANGES = 500;
/** How many distinct values a hint keeps per device. */
export const MAX_HINT_VALUES = 16;
/** Header-learned IPv4 sources are an array up to this many, then a Set (routers see thousands). */
const HEADER_IP4_ARRAY_MAX = 16;

export type AddressSource = 'strong' | 'header';

/** Rarely needed per-device state, allocated on first use. */
export interface DeviceExtra {
  /** Other MACs of the same device (LLDP chassis id, DUID...). */
  aliases?: number[];
  /** IPv4 values that are not canonical dotted quads (kept verbatim, never seen in practice). */
  ipv4Text?: string[];
  ipv6?: Map<string, AddressSource>;
  /** Last IPv6 source seen in a header, as raw bytes: skips re-formatting the same address per packet. */
  lastIp6Header?: Buffer;
  /** For an "ip:" device known from application-layer facts: the MAC that carried them (Observation.via). */
  via?: number;
  /** For an "ip:" device: its packets crossed a router, so `via` is the router's MAC. */
  routed?: boolean;
  /** Randomized MACs folded into this device, and the DHCP identity that showed they are one (store.stitch). */
  stitches?: { mac: number; by: string; value: string; seenMs: number }[];
  /** Evidence values that differ (by case) from their attribute's value, by evidence entry index. */
  evValues?: (string | undefined)[];
  /** Set when the store folded this device into another: it is no longer in the inventory. */
  merged?: boolean;
}

const NO_STRINGS: readonly string[] = Object.freeze([]);

export class Device {
  /**
   * Strong (ARP/DHCP/...) IPv4 addresses as uint32, in the order learned: the
   * number itself while there is one (most devices), an array beyond. See ip4List.
   */
  ipv4: number | number[] | undefined = undefined;
  /** IPv4 sources seen in IP headers (uint32). */
  headerIp4: number[] | Set<number> | undefined = undefined;
  /** [nameIndex * 1024 + confidence‰, value, ...]; order = first set. */
  attrs: (number | string)[] | undefined = undefined;
  /** [sourceId * 16 + nameIndex, seenMs, ...]. */
  ev: number[] | undefined = undefined;
  /** Hint name/value pairs, flattened ([name, value, name, value...]); shared, never mutated. */
  hints: readonly string[] = NO_STRINGS;
  /** Protocol names in the order seen; shared, never mutated. */
  protocols: readonly string[] = NO_STRINGS;
  x: DeviceExtra | undefined = undefined;
  /**
   * Reporting's bookkeeping (agent/inventory-reports.ts): a 31-bit hash and
   * the length of the record as last reported, 0 when never reported. Two
   * small integers in the object, where a map of serialized records would
   * hold ~800 bytes per device.
   */
  reportedHash = 0;
  reportedLength = 0;
  /** In the store's list of devices that may have changed since the last report. */
  changeQueued = false;
  /**
   * Bumped by every change after which observing again what was observed of
   * this device may act differently (see DeviceStore.observe): it was merged
   * with another, an address it held went to another device or came to it,
   * it is reached through another MAC. Between two bumps, observing the same
   * facts again changes nothing but timestamps, which is what lets the
   * pipeline skip repeated packets (repeat-cache.ts) that named it.
   */
  generation = 0;
  // The MAC and the first/last-seen times are kept as small integers, which V8
  // stores in the object itself; a 48-bit MAC or an epoch-milliseconds time is
  // a separate 16-byte heap number per field, 48 bytes per device. The MAC is
  // two 24-bit halves (macHigh -1: no MAC); times are whole milliseconds after
  // the first time this process stored, small integers within +-24 days of it.
  private macHigh: number;
  private macLow: number;
  private firstRel: number;
  private lastRel: number;

  constructor(mac: number, firstSeenMs: number, lastSeenMs: number) {
    this.macHigh = mac < 0 ? -1 : Math.floor(mac / MAC_HALF);
    this.macLow = mac < 0 ? 0 : mac % MAC_HALF;
    this.firstRel = relative(firstSeenMs);
    this.lastRel = relative(lastSeenMs);
  }

  /** Primary MAC (48-bit integer), or -1 for a device known only by IP (routed). */
  get mac(): number {
    return this.macHigh < 0 ? -1 : this.macHigh * MAC_HALF + this.macLow;
  }

  /** When the device was first seen, ms since the epoch (whole milliseconds). */
  get firstSeenMs(): number {
    return this.firstRel + timeBase;
  }

  /** When the device was last seen, ms since the epoch (whole milliseconds). */
  get lastSeenMs(): number {
    return this.lastRel + timeBase;
  }

  /**
   * The device was seen at `ms`: widens [firstSeen, lastSeen] to include it.
   * True when that moved first-seen, or moved last-seen into another window
   * of `windowMs` (see lastSeenWindow): what makes a reported record stale.
   */
  seenAt(ms: number, windowMs = 1): boolean {
    const r = relative(ms);
    let moved = false;
    if (r > this.lastRel) {
      moved = Math.floor(r / windowMs) !== Math.floor(this.lastRel / windowMs);
      this.lastRel = r;
    }
    if (r < this.firstRel) {
      this.firstRel = r;
      moved = true;
    }
    return moved;
  }

  /** Which window of `windowMs` last-seen falls in (the same windows seenAt reports crossing). */
  lastSeenWindow(windowMs: number): number {
    return Math.floor(this.lastRel / windowMs);
  }
}

/**
 * Generation bumps of all devices so far. Unchanged since a check means no
 * device's generation moved, which lets the repeat cache and the frame memo
 * trust what they remembered without reading each device again.
 */
let generationBumps = 0;

/** Moves the device's generation (see Device.generation). Every bump goes through here. */
export function bumpGeneration(device: Device): void {
  device.generation++;
  generationBumps++;
}

/** How many generation bumps there have been: compare two readings to learn whether any device's moved. */
export function generationBumpCount(): number {
  return generationBumps;
}

const MAC_HALF = 2 ** 24;
/** The first time stored in this process, whole ms: device times are kept relative to it. */
let timeBase = Number.NaN;

function relative(ms: number): number {
  const whole = Math.floor(ms);
  if (Number.isNaN(timeBase)) timeBase = whole;
  return whole - timeBase;
}

export function newDevice(mac: number, timestampMs: number): Device {
  return new Device(mac, timestampMs, timestampMs);
}

export function extraOf(device: Device): DeviceExtra {
  device.x ??= {};
  return device.x;
}

// ---- interning -------------------------------------------------------------

/** Bounded: when full it is cleared (values already stored stay shared; only new ones miss). */
const INTERN_MAX = 50_000;
const strings = new Map<string, string>();
const lists = new Map<string, readonly string[]>();

/** The one stored copy of a value that many devices report (a model, a vendor class...). */
export function intern(value: string): string {
  const known = strings.get(value);
  if (known !== undefined) return known;
  if (strings.size >= INTERN_MAX) strings.clear();
  strings.set(value, value);
  return value;
}

/** The one shared copy of a list of strings; callers never mutate it. */
function shareList(list: string[]): readonly string[] {
  let key = '';
  for (const s of list) key += `${s.length}:${s}`;
  const known = lists.get(key);
  if (known) return known;
  if (lists.size >= INTERN_MAX) lists.clear();
  for (let i = 0; i < list.length; i++) list[i] = intern(list[i]!);
  Object.freeze(list);
  lists.set(key, list);
  return list;
}

/** Attribute values unique to a device gain nothing from interning. */
const UNIQUE_ATTRIBUTES: ReadonlySet<AttributeName> = new Set(['hostname', 'serialNumber']);

// ---- evidence sources --------------------------------------------------------

const sourceIds = new Map<string, Map<string, number>>();
const sourceProtocol: string[] = [];
const sourceField: string[] = [];

/** A process-wide small integer for a (protocol, field) pair; decoders define a few hundred. */
let lastProtocol = '';
let lastField = '';
let lastId = -1;

export function sourceId(protocol: string, field: string): number {
  // Decoders pass the same literals again and again: the last pair answers most calls.
  if (protocol === lastProtocol && field === lastField) return lastId;
  let byField = sourceIds.get(protocol);
  if (!byField) {
    byField = new Map();
    sourceIds.set(protocol, byField);
  }
  let id = byField.get(field);
  if (id === undefined) {
    id = sourceProtocol.length;
    sourceProtocol.push(protocol);
    sourceField.push(field);
    byField.set(field, id);
  }
  lastProtocol = protocol;
  lastField = field;
  lastId = id;
  return id;
}

export function sourceOf(id: number): { protocol: string; field: string } {
  return { protocol: sourceProtocol[id]!, field: sourceField[id]! };
}

// ---- attributes ----------------------------------------------------------------

const NAME_INDEX = new Map<string, number>(ATTRIBUTE_NAMES.map((n, i) => [n, i]));

export function attributeIndex(name: AttributeName): number {
  return NAME_INDEX.get(name)!;
}

export function attributeName(index: number): AttributeName {
  return ATTRIBUTE_NAMES[index]!;
}

export function permille(confidence: number): number {
  return Math.max(0, Math.min(1023, Math.round(confidence * 1000)));
}

export interface AttributeView {
  name: AttributeName;
  value: string;
  /** Thousandths. */
  confidence: number;
  evidence: { protocol: string; field: string; value: string; seenMs: number }[];
}

/** The position of the attribute in `attrs` (even index), or -1. */
function findAttr(device: Device, index: number): number {
  const a = device.attrs;
  if (!a) return -1;
  for (let i = 0; i < a.length; i += 2) if ((a[i] as number) >> 10 === index) return i;
  return -1;
}

/**
 * The array with two more elements, allocated at its exact size: push() would
 * grow the backing store by half plus 16 slots, which at 100k devices of a
 * few attributes each is most of the store.
 */
function grow<T>(array: T[] | undefined, a: T, b: T): T[] {
  return array ? array.concat([a, b]) : [a, b];
}

/**
 * grow for the evidence array, kept apart on purpose: V8 remembers per array
 * literal which kinds of element it has held, and one literal shared with the
 * attributes (strings among numbers) made every evidence array generic, each
 * seen time a 16-byte boxed number. Here the times stay unboxed doubles.
 */
function growNumbers(array: number[] | undefined, a: number, b: number): number[] {
  return array ? array.concat([a, b]) : [a, b];
}

function dropEvidence(device: Device, index: number): void {
  const ev = device.ev;
  if (!ev) return;
  const alt = device.x?.evValues;
  let w = 0;
  for (let r = 0; r < ev.length; r += 2) {
    if ((ev[r]! & 15) === index) continue;
    ev[w] = ev[r]!;
    ev[w + 1] = ev[r + 1]!;
    if (alt) alt[w >> 1] = alt[r >> 1];
    w += 2;
  }
  ev.length = w;
  if (alt) alt.length = w >> 1;
}

/**
 * The attribute's shown spelling changes from `before` to `after`: evidence
 * that said `before` (kept as "the shown value") now says so explicitly, and
 * evidence that said `after` becomes "the shown value".
 */
function respellEvidence(device: Device, index: number, before: string, after: string): void {
  const ev = device.ev;
  if (!ev) return;
  const x = extraOf(device);
  x.evValues ??= [];
  const alt = x.evValues;
  alt.length = ev.length >> 1;
  for (let i = 0; i < ev.length; i += 2) {
    if ((ev[i]! & 15) !== index) continue;
    const said = alt[i >> 1];
    if (said === undefined) alt[i >> 1] = before;
    else if (said === after) alt[i >> 1] = undefined;
  }
}

function pushEvidence(device: Device, packed: number, seenMs: number, altValue: string | undefined): void {
  device.ev = growNumbers(device.ev, packed, seenMs);
  if (altValue !== undefined || device.x?.evValues) {
    const x = extraOf(device);
    x.evValues ??= [];
    const alt = x.evValues;
    alt.length = (device.ev.length >> 1) - 1;
    alt.push(altValue);
  }
}

/**
 * Records one report of an attribute value: the highest confidence wins; the
 * same value (ignoring case) from another source adds evidence; a new value
 * from a source that vouched for the old one replaces it.
 */
export function setAttribute(
  device: Device,
  name: AttributeName,
  value: string,
  confidence: number,
  source: number,
  seenMs: number,
): void {
  const index = NAME_INDEX.get(name)!;
  const conf = permille(confidence);
  const packed = source * 16 + index;
  const at = findAttr(device, index);
  if (at < 0) {
    device.attrs = grow(device.attrs, index * 1024 + conf, storedValue(name, value));
    pushEvidence(device, packed, seenMs, undefined);
    return;
  }
  const attrs = device.attrs!;
  const current = attrs[at + 1] as string;
  const currentConf = (attrs[at] as number) & 1023;
  if (sameValue(current, value)) {
    let shown = current;
    if (conf > currentConf) {
      attrs[at] = index * 1024 + conf;
      // The more confident source's spelling is shown ("d002465" from DHCP over the NetBIOS "D002465").
      if (value !== current) {
        shown = storedValue(name, value);
        attrs[at + 1] = shown;
        respellEvidence(device, index, current, shown);
      }
    }
    const ev = device.ev ?? [];
    let count = 0;
    for (let i = 0; i < ev.length; i += 2) {
      if ((ev[i]! & 15) !== index) continue;
      if (ev[i] === packed) return; // this source already vouches for the value
      count++;
    }
    if (count < MAX_EVIDENCE) pushEvidence(device, packed, seenMs, value === shown ? undefined : value);
    return;
  }
  if (conf > currentConf) {
    replaceAttribute(device, at, index, conf, storedValue(name, value), [packed, seenMs], [undefined]);
    return;
  }
  // A source that vouched for the value, and ranks with the best of those that did, now reports
  // another: the device itself changed (a firmware upgrade, a renamed host), and the newer word of
  // the same source is the truth about it now. Another source of equal rank that disagrees does
  // not unseat the value, and neither does a weak one: a guess is weak because its field may
  // describe something else (a CIP identity routed over a ControlLogix backplane names whichever
  // module was asked, and iti__EIP-IPAddressChangeAttempt flips among three 130 times). The
  // generation moves, so that a repeat of the packet that said the old value is decoded again
  // rather than skipped (repeat-cache.ts): a device that changes back is seen to.
  if (conf === currentConf && conf >= FOLLOWS_CHANGES && vouches(device, packed)) {
    bumpGeneration(device);
    replaceAttribute(device, at, index, conf, storedValue(name, value), [packed, seenMs], [undefined]);
  }
}

/** The source (packed with the attribute's index) is among the evidence for the attribute's current value. */
function vouches(device: Device, packed: number): boolean {
  const ev = device.ev;
  if (!ev) return false;
  for (let i = 0; i < ev.length; i += 2) if (ev[i] === packed) return true;
  return false;
}

function storedValue(name: AttributeName, value: string): string {
  return UNIQUE_ATTRIBUTES.has(name) ? value : intern(value);
}

function replaceAttribute(
  device: Device,
  at: number,
  index: number,
  conf: number,
  value: string,
  ev: number[],
  alt: (string | undefined)[],
): void {
  const attrs = device.attrs!;
  attrs[at] = index * 1024 + conf;
  attrs[at + 1] = value;
  dropEvidence(device, index);
  for (let i = 0; i < ev.length; i += 2) pushEvidence(device, ev[i]!, ev[i + 1]!, alt[i >> 1]);
}

/** Folds the attributes of `source` into `target`: per attribute, the higher confidence wins. */
export function mergeAttributes(target: Device, source: Device): void {
  const a = source.attrs;
  if (!a) return;
  for (let i = 0; i < a.length; i += 2) {
    const index = (a[i] as number) >> 10;
    const conf = (a[i] as number) & 1023;
    const value = a[i + 1] as string;
    const ev: number[] = [];
    const alt: (string | undefined)[] = [];
    const sev = source.ev ?? [];
    for (let j = 0; j < sev.length; j += 2) {
      if ((sev[j]! & 15) !== index) continue;
      ev.push(sev[j]!, sev[j + 1]!);
      alt.push(source.x?.evValues?.[j >> 1]);
    }
    const at = findAttr(target, index);
    if (at < 0) {
      target.attrs = grow(target.attrs, index * 1024 + conf, value);
      for (let j = 0; j < ev.length; j += 2) pushEvidence(target, ev[j]!, ev[j + 1]!, alt[j >> 1]);
    } else if (conf > ((target.attrs![at] as number) & 1023)) {
      replaceAttribute(target, at, index, conf, value, ev, alt);
    }
  }
}

/** The device's attributes in the order they were first set, with their evidence. */
export function attributesOf(device: Device): AttributeView[] {
  const a = device.attrs;
  if (!a) return [];
  const ev = device.ev ?? [];
  const alt = device.x?.evValues;
  const out: AttributeView[] = [];
  for (let i = 0; i < a.length; i += 2) {
    const index = (a[i] as number) >> 10;
    const value = a[i + 1] as string;
    const evidence: AttributeView['evidence'] = [];
    for (let j = 0; j < ev.length; j += 2) {
      if ((ev[j]! & 15) !== index) continue;
      const { protocol, field } = sourceOf(Math.floor(ev[j]! / 16));
      evidence.push({ protocol, field, value: alt?.[j >> 1] ?? value, seenMs: ev[j + 1]! });
    }
    out.push({ name: ATTRIBUTE_NAMES[index]!, value, confidence: (a[i] as number) & 1023, evidence });
  }
  return out;
}

function sameValue(a: string, b: string): boolean {
  return a === b || a.toLowerCase() === b.toLowerCase();
}

// ---- hints, protocols, addresses -------------------------------------------------

export function hintValues(device: Device, name: HintName): ReadonlySet<string> {
  const h = device.hints;
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
  const h = device.hints;
  let count = 0;
  for (let i = 0; i < h.length; i += 2) {
    if (h[i] !== name) continue;
    if (h[i + 1] === value) return;
    count++;
  }
  if (count < MAX_HINT_VALUES) device.hints = shareList([...h, name, value]);
}

export function addProtocol(device: Device, protocol: string): void {
  if (!device.protocols.includes(protocol)) device.protocols = shareList([...device.protocols, protocol]);
}

export function aliasesOf(device: Device): number[] {
  const x = extraOf(device);
  x.aliases ??= [];
  return x.aliases;
}

export function ipv4TextOf(device: Device): string[] {
  const x = extraOf(device);
  x.ipv4Text ??= [];
  return x.ipv4Text;
}

export function ipv6Of(device: Device): Map<string, AddressSource> {
  const x = extraOf(device);
  x.ipv6 ??= new Map();
  return x.ipv6;
}

/** Adds a strong IPv4 address (uint32). */
export function addIp4(device: Device, ip: number): void {
  const v = device.ipv4;
  if (v === undefined) device.ipv4 = ip;
  else if (typeof v === 'number') {
    if (v !== ip) device.ipv4 = [v, ip];
  } else if (!v.includes(ip)) device.ipv4 = v.concat([ip]);
}

const NO_NUMBERS: readonly number[] = Object.freeze([]);

/** The strong IPv4 addresses (uint32) in the order learned. */
export function ip4List(device: Device): readonly number[] {
  const v = device.ipv4;
  return v === undefined ? NO_NUMBERS : typeof v === 'number' ? [v] : v;
}

/** Notes an IPv4 source address seen in a header (the hot path, once per IPv4 packet); true when it was new. */
export function addHeaderIp4(device: Device, ip: number): boolean {
  const h = device.headerIp4;
  if (h === undefined) device.headerIp4 = [ip];
  else if (Array.isArray(h)) {
    // A loop, not h.includes(): this runs for every IPv4 frame, and the builtin call cost more than the few compares.
    for (let i = 0; i < h.length; i++) if (h[i] === ip) return false;
    if (h.length < HEADER_IP4_ARRAY_MAX) h.push(ip);
    else device.headerIp4 = new Set([...h, ip]);
  } else {
    if (h.has(ip)) return false;
    h.add(ip);
  }
  return true;
}

export function hasHeaderIp4(device: Device, ip: number): boolean {
  const h = device.headerIp4;
  if (h === undefined) return false;
  return Array.isArray(h) ? h.includes(ip) : h.has(ip);
}

/** Parses a canonical dotted quad to uint32, or -1 (a non-canonical value is kept as text). */
export function parseIp4(text: string): number {
  const n = text.length;
  if (n < 7 || n > 15) return -1;
  let out = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === 46) {
      if (digits === 0 || dots === 3) return -1;
      out = out * 256 + part;
      part = 0;
      digits = 0;
      dots++;
    } else if (c >= 48 && c <= 57) {
      if (digits > 0 && part === 0) return -1; // a leading zero
      part = part * 10 + (c - 48);
      if (++digits > 3 || part > 255) return -1;
    } else return -1;
  }
  if (dots !== 3 || digits === 0) return -1;
  return out * 256 + part;
}

const EMPTY: ReadonlySet<string> = new Set();
