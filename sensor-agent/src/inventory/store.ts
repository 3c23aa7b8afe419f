// The device store: observations in, DeviceRecords out.
//
// Identity: on the local segment a device is its MAC (multicast, broadcast
// and zero MACs never are). An observation that names only an IP (an mDNS
// record about another host, an NBNS answer) joins the device that owns the
// IP if one is known, else becomes an "ip:" device that a later ARP/DHCP
// binding can merge into a MAC device.
//
// Randomized MACs: a device that changes to a locally administered
// (randomized) MAC is stitched to the device it was, not counted anew, when
// it presents the same DHCP client identifier (option 61, RFC 2132/4361) or
// DHCPv6 DUID (RFC 8415), or the same DHCP hostname together with the same
// option-55 request order and vendor class, and (for that weaker key) the old
// MAC fell silent before the new one appeared. Two globally unique MACs are
// never stitched (cloned VMs share DUIDs). The stitch is kept as evidence.
//
// Merging: per attribute the highest-confidence value wins; the same value
// from another field adds evidence (and never lowers confidence).
import type { AttributeName, DeviceRecord, Evidence } from '@hark/contracts/inventory';
import { ATTRIBUTE_NAMES } from '@hark/contracts/inventory';
import { sameWords } from '../bytes.js';
import type { HintName, Observation, ObservationSink } from '../decoders/types.js';
import {
  formatIp4,
  formatIp6,
  formatMac,
  isDeviceMac,
  isHostIp4,
  isHostIp6,
  isLocallyAdministered,
  parseMac,
} from '../packet/addresses.js';
import type { PacketView } from '../packet/view.js';
import { classify } from './classify.js';
import {
  addHeaderIp4,
  addHint,
  addIp4,
  addProtocol,
  aliasesOf,
  attributesOf,
  bumpGeneration,
  type Device,
  extraOf,
  hasHeaderIp4,
  hintValues,
  ip4List,
  ipv4TextOf,
  ipv6Of,
  mergeAttributes,
  newDevice,
  parseIp4,
  setAttribute,
  sourceId,
} from './device.js';
import { MacMap } from './mac-map.js';
import { lookupVendor } from './oui.js';

const ATTRIBUTES: ReadonlySet<string> = new Set(ATTRIBUTE_NAMES);
/**
 * A MAC that is the source of this many distinct IPv4 addresses in IP headers
 * (none of them confirmed by ARP/DHCP) is forwarding for others: a router or
 * gateway. Its header-learned addresses are not its own.
 */
const ROUTER_HEADER_IPS = 8;
/** Sources outside every local subnet: one may be a host's public address, two mean forwarding. */
const FOREIGN_SOURCES = 2;
/** Default for DeviceStoreOptions.lastSeenWindowMs. */
export const LAST_SEEN_WINDOW_MS = 60_000;

export interface DeviceStoreOptions {
  /**
   * How far last-seen must move before a device counts as changed (see
   * takeChanged): a device that talks every second is not re-reported every
   * second for its last-seen alone.
   */
  lastSeenWindowMs?: number;
}

/**
 * What a device's record depends on besides the device itself: the local
 * subnets, the addresses hosts behind routers claim, the MACs that route.
 * `signature` changes when any of them does.
 */
export interface RecordContext {
  readonly local: ReadonlySet<number>;
  readonly claimed: ReadonlySet<number>;
  readonly routers: ReadonlySet<number>;
  readonly signature: number;
}

export class DeviceStore implements ObservationSink {
  /** Hears of the HTTP servers devices announce (the pipeline's learned endpoints). */
  onHttpServer: ((ip4: number, port: number) => void) | undefined;
  private readonly byMac = new MacMap<Device>();
  /** Strongly bound addresses -> device: IPv4 by uint32, IPv6 (and odd IPv4 text) by text. */
  private readonly byIp4 = new Map<number, Device>();
  private readonly byIpText = new Map<string, Device>();
  private readonly ipOnly = new Map<string, Device>();
  private readonly byChassis = new Map<string, Device>();
  /** Identity keys of DHCP clients (see identityKey) by 30-bit hash -> the device that first presented them. */
  private readonly byIdentity = new Map<number, Device>();

  /** While tracing, the devices observe() resolved to, in order, without consecutive repeats. */
  private trace: Device[] | undefined;
  /** The one array tracing reuses (endTrace hands out copies). */
  private readonly traceBuffer: Device[] = [];
  /** Set while tracing when an observation's effect depends on more than the packet (see endTrace). */
  private traceUnrepeatable = false;

  readonly lastSeenWindowMs: number;
  /** Devices whose record may have changed since the last takeChanged, each once (Device.changeQueued). */
  private changed: Device[] = [];

  constructor(options: DeviceStoreOptions = {}) {
    this.lastSeenWindowMs = options.lastSeenWindowMs ?? LAST_SEEN_WINDOW_MS;
  }

  get size(): number {
    return this.byMac.size + this.ipOnly.size;
  }

  /** Starts recording which devices observations land on (see endTrace). */
  beginTrace(): void {
    this.traceBuffer.length = 0;
    this.trace = this.traceBuffer;
    this.traceUnrepeatable = false;
  }

  /**
   * The devices observed since beginTrace, or undefined when observing the
   * same again might not be a no-op: DHCP identities are matched against
   * the device's hostname and vendor class as they are at that moment
   * (stitch), which can change without a generation bump. Stops recording.
   */
  endTrace(): Device[] | undefined {
    const devices = this.traceUnrepeatable || !this.trace ? undefined : this.trace.slice();
    this.trace = undefined;
    return devices;
  }

  /**
   * What observing a repeat would have done, given none of the devices it
   * named changed generation since: they were seen at `timestampMs`.
   */
  seen(devices: readonly Device[], timestampMs: number): void {
    for (let i = 0; i < devices.length; i++) this.seenOne(devices[i]!, timestampMs);
  }

  /** seen() of one device. */
  seenOne(device: Device, timestampMs: number): void {
    if (device.seenAt(timestampMs, this.lastSeenWindowMs)) this.markChanged(device);
  }

  /**
   * The devices whose record may differ from when they were last taken: new
   * devices, every observation's device, new addresses, merges, and last-seen
   * moving into another window. A superset (an observation may repeat what
   * is known); reporting compares the records themselves. Clears the set.
   */
  takeChanged(): Device[] {
    const devices = this.changed;
    this.changed = [];
    for (let i = 0; i < devices.length; i++) devices[i]!.changeQueued = false;
    return devices;
  }

  private markChanged(device: Device): void {
    if (device.changeQueued) return;
    device.changeQueued = true;
    this.changed.push(device);
  }

  /** False once the device was folded into another (it has no record of its own any more). */
  isCurrent(device: Device): boolean {
    return device.x?.merged !== true;
  }

  /** The device touch() refreshes for the frame in `pkt` (after touching it), if its sender is one. */
  sender(pkt: PacketView): Device | undefined {
    return isDeviceMac(pkt.srcMac) ? this.byMac.get(pkt.srcMac) : undefined;
  }

  /** Called for every parsed frame: the sender exists, and (cheaply) which IP it used. */
  touch(pkt: PacketView): void {
    const mac = pkt.srcMac;
    if (!isDeviceMac(mac)) return;
    const ts = pkt.timestampMs;
    let device = this.byMac.get(mac);
    if (!device) {
      device = newDevice(mac, ts);
      this.byMac.set(mac, device);
      this.markChanged(device);
    } else if (device.seenAt(ts, this.lastSeenWindowMs)) {
      this.markChanged(device);
    }
    if (pkt.ipVersion === 4) {
      if (isHostIp4(pkt.srcIp4) && addHeaderIp4(device, pkt.srcIp4)) this.markChanged(device);
    } else if (pkt.ipVersion === 6) {
      const b = pkt.data;
      const o = pkt.srcIp6Offset;
      const last = device.x?.lastIp6Header;
      if (last && sameWords(b, o, last, 0, 16)) return;
      if (!isHostIp6(b, o)) return;
      extraOf(device).lastIp6Header = Buffer.from(b.subarray(o, o + 16));
      const ip = formatIp6(b, o);
      const ipv6 = ipv6Of(device);
      if (!ipv6.has(ip)) {
        ipv6.set(ip, 'header');
        this.markChanged(device);
      }
    }
  }

  httpServerAt(ip4: number, port: number): void {
    this.onHttpServer?.(ip4, port);
  }

  observe(o: Observation): void {
    const device = this.resolve(o);
    if (!device) return;
    const trace = this.trace;
    if (trace && trace[trace.length - 1] !== device) trace.push(device);
    this.markChanged(device);
    device.seenAt(o.timestampMs);
    addProtocol(device, o.protocol);
    switch (o.name) {
      case 'ipv4':
        this.bindIp(device, o.value, 'ipv4', o.confidence);
        return;
      case 'ipv6':
        this.bindIp(device, o.value, 'ipv6', o.confidence);
        return;
      case 'mac': {
        // Another MAC of the same device (LLDP port vs chassis, DUID): one device, both addresses.
        const alias = parseMac(o.value);
        if (!isDeviceMac(alias) || alias === device.mac || device.x?.aliases?.includes(alias)) return;
        const other = this.byMac.get(alias);
        if (other && other !== device) this.merge(device, other);
        else if (!other) {
          aliasesOf(device).push(alias);
          this.byMac.set(alias, device);
        }
        return;
      }
      case 'chassisId': {
        // IEEE 802.1AB: the chassis id names the system; every port announcing it is the same device.
        const other = this.byChassis.get(o.value);
        if (!other) this.byChassis.set(o.value, device);
        else if (other !== device) this.merge(other, device);
        return;
      }
    }
    if (o.name === 'dhcpClientId' || o.name === 'dhcpFingerprint') {
      this.traceUnrepeatable = true;
      this.stitch(device, o);
    }
    if (ATTRIBUTES.has(o.name))
      setAttribute(
        device,
        o.name as AttributeName,
        o.value,
        o.confidence,
        sourceId(o.protocol, o.field),
        o.timestampMs,
      );
    else addHint(device, o.name as HintName, o.value);
  }

  /**
   * Indexes the DHCP identity a client presents and, when another device
   * presented it first and one of the two MACs is randomized, folds this
   * device into that one (see the header).
   */
  private stitch(device: Device, o: Observation): void {
    if (device.mac < 0) return;
    const key = o.name === 'dhcpClientId' ? clientIdKey(o.value) : fingerprintKey(device, o.value);
    if (key === undefined) return;
    const h = hash30(key);
    const other = this.byIdentity.get(h);
    if (!other) {
      this.byIdentity.set(h, device);
      return;
    }
    if (other === device || other.mac < 0) return;
    if (!isLocallyAdministered(device.mac) && !isLocallyAdministered(other.mac)) return;
    // A hash hit is only a candidate: the other device must present the same key.
    const same =
      o.name === 'dhcpClientId'
        ? [...hintValues(other, 'dhcpClientId')].some((v) => clientIdKey(v) === key)
        : [...hintValues(other, 'dhcpFingerprint')].some((fp) => fingerprintKey(other, fp) === key);
    if (!same) return;
    // Hostname + fingerprint is shared by identical devices: only a MAC that replaced a silent one is the same device.
    if (o.name === 'dhcpFingerprint' && other.lastSeenMs > device.firstSeenMs) return;
    const by =
      o.name === 'dhcpClientId' ? (key.startsWith('duid:') ? 'duid' : 'client-id') : 'hostname+fingerprint';
    const x = extraOf(other);
    x.stitches ??= [];
    const stitches = x.stitches;
    stitches.push({ mac: device.mac, by, value: key, seenMs: o.timestampMs });
    for (const s of device.x?.stitches ?? []) stitches.push(s);
    this.merge(other, device);
  }

  private resolve(o: Observation): Device | undefined {
    if (o.mac >= 0) {
      if (!isDeviceMac(o.mac)) return undefined;
      let device = this.byMac.get(o.mac);
      if (!device) {
        device = newDevice(o.mac, o.timestampMs);
        this.byMac.set(o.mac, device);
      }
      return device;
    }
    // Loopback traffic (test harnesses, a gateway talking to itself) carries facts but names no site device.
    if (o.ip === undefined || o.ip.startsWith('127.') || o.ip === '::1') return undefined;
    const known = this.boundTo(o.ip);
    if (known) return known;
    let device = this.ipOnly.get(o.ip);
    if (!device) {
      device = newDevice(-1, o.timestampMs);
      this.bindIp(device, o.ip, o.ip.includes(':') ? 'ipv6' : 'ipv4', 0.5);
      this.ipOnly.set(o.ip, device);
    }
    if (o.via !== undefined && isDeviceMac(o.via) && device.x?.via !== o.via) {
      if (device.x?.via !== undefined) bumpGeneration(device);
      extraOf(device).via = o.via;
    }
    if (o.routed) extraOf(device).routed = true;
    return device;
  }

  /** The device an address is strongly bound to. */
  private boundTo(ip: string): Device | undefined {
    // A packet's observations name its two ends several times, packet after packet: the last two
    // addresses are kept parsed (the decoders hand over the same strings, so mostly by identity).
    let n: number;
    if (ip === this.ipTextA) n = this.ipNumberA;
    else if (ip === this.ipTextB) n = this.ipNumberB;
    else {
      n = ip.includes(':') ? -1 : parseIp4(ip);
      this.ipTextB = this.ipTextA;
      this.ipNumberB = this.ipNumberA;
      this.ipTextA = ip;
      this.ipNumberA = n;
    }
    return n >= 0 ? this.byIp4.get(n) : this.byIpText.get(ip);
  }
  private ipTextA = '';
  private ipNumberA = -1;
  private ipTextB = '';
  private ipNumberB = -1;

  /** A strong MAC<->IP binding; an "ip:" device for that IP merges into the MAC device. */
  private bindIp(device: Device, ip: string, family: 'ipv4' | 'ipv6', confidence: number): void {
    this.markChanged(device);
    const n = family === 'ipv4' ? parseIp4(ip) : -1;
    if (n >= 0) addIp4(device, n);
    else if (family === 'ipv4') {
      const text = ipv4TextOf(device);
      if (!text.includes(ip)) text.push(ip);
    } else ipv6Of(device).set(ip, 'strong');
    if (device.mac < 0 || confidence < 0.5) return;
    const previous = n >= 0 ? this.byIp4.get(n) : this.byIpText.get(ip);
    if (previous !== device) {
      // Facts about this address resolved to `previous`; from now on to `device`.
      if (previous) {
        bumpGeneration(previous);
        bumpGeneration(device);
      }
      if (n >= 0) this.byIp4.set(n, device);
      else this.byIpText.set(ip, device);
    }
    const orphan = this.ipOnly.get(ip);
    if (orphan && orphan !== device) {
      this.ipOnly.delete(ip);
      this.merge(device, orphan);
    }
  }

  /** Folds `source` into `target` and re-points every index entry that named `source`. */
  private merge(target: Device, source: Device): void {
    bumpGeneration(target);
    bumpGeneration(source);
    this.markChanged(target);
    extraOf(source).merged = true;
    if (source.mac >= 0) {
      for (const mac of [source.mac, ...(source.x?.aliases ?? [])]) {
        if (mac === target.mac) continue;
        const aliases = aliasesOf(target);
        if (!aliases.includes(mac)) aliases.push(mac);
        this.byMac.set(mac, target);
      }
    }
    for (const ip of ip4List(source)) {
      addIp4(target, ip);
      if (this.byIp4.get(ip) === source) this.byIp4.set(ip, target);
    }
    for (const ip of source.x?.ipv4Text ?? []) {
      const text = ipv4TextOf(target);
      if (!text.includes(ip)) text.push(ip);
      if (this.byIpText.get(ip) === source) this.byIpText.set(ip, target);
    }
    for (const [ip, how] of source.x?.ipv6 ?? []) {
      const into = ipv6Of(target);
      if (!into.has(ip) || how === 'strong') into.set(ip, how);
      if (this.byIpText.get(ip) === source) this.byIpText.set(ip, target);
    }
    for (const ip of source.headerIp4 ?? []) addHeaderIp4(target, ip);
    for (const [key, d] of this.byChassis) if (d === source) this.byChassis.set(key, target);
    for (const [key, d] of this.byIdentity) if (d === source) this.byIdentity.set(key, target);
    for (const [ip, d] of this.ipOnly) if (d === source) this.ipOnly.delete(ip);
    for (const p of source.protocols) addProtocol(target, p);
    const hints = source.hints;
    for (let i = 0; i < hints.length; i += 2) addHint(target, hints[i] as HintName, hints[i + 1]!);
    mergeAttributes(target, source);
    target.seenAt(source.firstSeenMs);
    target.seenAt(source.lastSeenMs);
  }

  /** Every device, with vendor and classification filled in. */
  devices(): Device[] {
    const unique = new Set<Device>(this.byMac.values());
    for (const d of this.ipOnly.values()) unique.add(d);
    return [...unique];
  }

  /**
   * Joins each "ip:" device to the MAC that carried its facts when that MAC
   * is the host itself: the packets did not cross a router, the MAC sourced
   * that address and carries no other "ip:" device's facts. A MAC that answers for many IPs (a BACnet
   * gateway, a simulator, a NAT) keeps them as separate devices, one per IP;
   * a router's MAC keeps the hosts behind it separate.
   */
  private adoptSoleSenders(): void {
    const viaCount = new Map<number, number>();
    for (const d of this.ipOnly.values()) {
      const via = d.x?.via;
      if (via !== undefined) viaCount.set(via, (viaCount.get(via) ?? 0) + 1);
    }
    for (const [ip, d] of [...this.ipOnly]) {
      const via = d.x?.via;
      if (d.x?.routed || via === undefined || viaCount.get(via) !== 1 || ip.includes(':')) continue;
      const host = this.byMac.get(via);
      if (!host || !hasHeaderIp4(host, ip4ToInt(ip))) continue;
      this.bindIp(host, ip, 'ipv4', 0.6);
    }
  }

  toRecords(): DeviceRecord[] {
    const context = this.recordContext();
    const records = this.devices().map((d) => this.recordOf(d, context));
    records.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    return records;
  }

  /**
   * Settles what records depend on across devices (hosts behind routers, local
   * subnets); with recordOf, records can be built a few at a time (reporting a
   * large site without holding every record at once).
   */
  recordContext(): RecordContext {
    this.adoptSoleSenders();
    const local = localPrefixes(this.devices());
    // IPs that belong to hosts behind a router or a multi-IP gateway are not the carrying MAC's own.
    const claimed = new Set<number>();
    const routers = new Set<number>();
    for (const [ip, d] of this.ipOnly) {
      const via = d.x?.via;
      if (via === undefined || ip.includes(':')) continue;
      claimed.add(ip4ToInt(ip));
      if (d.x?.routed) routers.add(via);
    }
    const signature = setHash(setHash(setHash(0, local), claimed), routers);
    return { local, claimed, routers, signature };
  }

  /**
   * The device's record as the inventory reports it, within `context` (from
   * recordContext). `lastSeen` replaces the last-seen time wherever the record
   * states it (reporting compares records with it masked).
   */
  recordOf(device: Device, context: RecordContext, lastSeen?: string): DeviceRecord {
    return toRecord(device, context.local, context.claimed, context.routers, lastSeen);
  }
}

/** Folds a set of numbers into `h`, independent of their order. */
function setHash(h: number, values: ReadonlySet<number>): number {
  let sum = 0;
  let xor = 0;
  for (const v of values) {
    const m = Math.imul(v ^ (v >>> 16), 0x45d9f3b);
    sum = (sum + m) | 0;
    xor ^= m;
  }
  return Math.imul(h ^ sum, 0x01000193) ^ xor ^ values.size;
}

function toRecord(
  device: Device,
  local: ReadonlySet<number>,
  claimed: ReadonlySet<number>,
  routers: ReadonlySet<number>,
  lastSeen = iso(device.lastSeenMs),
): DeviceRecord {
  const { ipv4, ipv6, forwarder: many } = addressesOf(device, local, claimed);
  const forwarder = many || (device.mac >= 0 && routers.has(device.mac));
  const macs = device.mac >= 0 ? [device.mac, ...(device.x?.aliases ?? [])] : [];
  const record: DeviceRecord = {
    id: device.mac >= 0 ? `mac:${formatMac(device.mac)}` : `ip:${ipv4[0] ?? ipv6[0] ?? 'unknown'}`,
    macs: macs.map(formatMac),
    ipv4,
    ipv6,
    protocols: [...device.protocols].sort(),
    firstSeen: iso(device.firstSeenMs),
    lastSeen,
  };
  const vendor = device.mac >= 0 ? lookupVendor(device.mac) : undefined;
  if (vendor) {
    // The OUI names who made the network interface, not necessarily the device: 0.6.
    record.vendor = {
      value: vendor.vendor,
      confidence: 0.6,
      evidence: [{ protocol: 'oui', field: 'ieee.registry', value: vendor.prefix, seen: record.firstSeen }],
    };
  }
  for (const a of attributesOf(device)) {
    record[a.name] = {
      value: a.value,
      confidence: round(a.confidence / 1000),
      evidence: a.evidence.map((e) => ({
        protocol: e.protocol,
        field: e.field,
        value: e.value,
        seen: iso(e.seenMs),
      })),
    };
  }
  // The contract has no per-MAC evidence: a stitch is evidence on the hostname (the identity it rests on).
  const stitches = device.x?.stitches;
  if (stitches && record.hostname) {
    for (const st of stitches)
      record.hostname.evidence.push({
        protocol: 'stitch',
        field: `randomized-mac.${st.by}`,
        value: `${formatMac(st.mac)} ${st.value}`,
        seen: iso(st.seenMs),
      });
  }
  // Every device gets a category and type: the fused verdict, or unknown/unclassified (confidence 0,
  // no evidence) when no rule fired; each supporting rule is one evidence entry.
  const verdict = classify(device, record, forwarder);
  const evidence: Evidence[] = (verdict?.support ?? []).map((s) => ({
    protocol: 'classifier',
    field: s.rule,
    value: `${s.category}/${s.type} ${s.confidence}: ${s.reason}`,
    seen: record.lastSeen,
  }));
  const confidence = verdict?.confidence ?? 0;
  record.category = { value: verdict?.category ?? 'unknown', confidence, evidence };
  record.type = { value: verdict?.type ?? 'unclassified', confidence, evidence };
  return record;
}

/** The /24 prefixes of every ARP/DHCP-bound IPv4 address: the subnets the sensor sees locally. */
function localPrefixes(devices: Device[]): Set<number> {
  const prefixes = new Set<number>();
  for (const d of devices) {
    if (d.mac < 0) continue;
    for (const ip of ip4List(d)) prefixes.add(ip >>> 8);
    for (const ip of d.x?.ipv4Text ?? []) prefixes.add(ip4ToInt(ip) >>> 8);
  }
  return prefixes;
}

/** Private, shared (CGNAT) and link-local space: a source address there is on some local segment. */
function isPrivateIp4(ip: number): boolean {
  const a = ip >>> 24;
  const b = (ip >>> 16) & 0xff;
  return (
    a === 10 ||
    (a === 172 && b >= 16 && b < 32) ||
    (a === 192 && b === 168) ||
    (a === 169 && b === 254) ||
    (a === 100 && b >= 64 && b < 128)
  );
}

/**
 * The device's addresses: every ARP/DHCP-bound one, plus the source addresses
 * of its IP headers when they look like its own: private space or a subnet
 * where ARP/DHCP show local hosts. A MAC that sources other addresses, or a
 * great many, is forwarding other hosts' traffic (a router), and those
 * addresses are not its own.
 */
function addressesOf(
  device: Device,
  local: ReadonlySet<number>,
  claimed: ReadonlySet<number>,
): { ipv4: string[]; ipv6: string[]; forwarder: boolean } {
  const strong4 = ip4List(device);
  const ipv4 = new Set<string>(device.x?.ipv4Text);
  const header4: number[] = [];
  let foreign = 0;
  for (const ip of device.headerIp4 ?? []) {
    if (strong4.includes(ip)) continue;
    if (device.mac >= 0 && claimed.has(ip)) continue;
    if (isPrivateIp4(ip) || local.has(ip >>> 8)) header4.push(ip);
    else foreign++;
  }
  const all6 = [...(device.x?.ipv6 ?? [])];
  const strong6 = all6.filter(([, how]) => how === 'strong').map(([ip]) => ip);
  const header6 = all6.filter(([, how]) => how === 'header').map(([ip]) => ip);
  const forwarder =
    foreign >= FOREIGN_SOURCES || header4.length >= ROUTER_HEADER_IPS || header6.length >= ROUTER_HEADER_IPS;
  const numeric = header4.length < ROUTER_HEADER_IPS ? [...strong4, ...header4] : [...strong4];
  numeric.sort((a, b) => a - b);
  for (const ip of numeric) ipv4.add(formatIp4(ip));
  const ipv6 = header6.length < ROUTER_HEADER_IPS ? [...strong6, ...header6] : strong6;
  return { ipv4: device.x?.ipv4Text ? [...ipv4].sort(compareIp4) : [...ipv4], ipv6: ipv6.sort(), forwarder };
}

/** Generic DHCP hostnames many devices share: never an identity. */
const GENERIC_HOSTNAME =
  /^(?:localhost|unknown|android|android-dhcp-\d+|iphone|ipad|galaxy|dhcp(?:cd|client)?|host|client|\(none\))$/i;

/**
 * The identity a DHCP client id names. RFC 4361 client ids (type 255: IAID,
 * then the DUID) and DHCPv6 DUIDs both key on the DUID, so a dual-stack
 * client's v4 and v6 identities meet. Values as the decoders emit them:
 * "<type>:<hex>" (DHCPv4) and "duid:<hex>" (DHCPv6).
 */
function clientIdKey(value: string): string | undefined {
  if (value.startsWith('duid:')) return value.length > 9 ? value : undefined;
  if (value.startsWith('255:')) return value.length > 4 + 8 + 4 ? `duid:${value.slice(4 + 8)}` : undefined;
  return value.length > 4 ? `cid:${value}` : undefined;
}

/** Hostname + option-55 order + vendor class, when the hostname is specific enough to identify one device. */
function fingerprintKey(device: Device, fingerprint: string): string | undefined {
  const host = hostnameOf(device);
  if (host === undefined || host.length < 3 || GENERIC_HOSTNAME.test(host)) return undefined;
  const vendorClass = [...hintValues(device, 'dhcpVendorClass')].sort().join(',');
  return `hfp:${host.toLowerCase()}|${fingerprint}|${vendorClass}`;
}

function hostnameOf(device: Device): string | undefined {
  for (const a of attributesOf(device)) if (a.name === 'hostname') return a.value;
  return undefined;
}

/** FNV-1a, folded to 30 bits so the Map key stays a small integer. */
function hash30(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return (h ^ (h >>> 30)) & 0x3fffffff;
}

function ip4ToInt(ip: string): number {
  const p = ip.split('.');
  return ((Number(p[0]) << 24) | (Number(p[1]) << 16) | (Number(p[2]) << 8) | Number(p[3])) >>> 0;
}

function iso(ms: number): string {
  return new Date(Math.floor(ms)).toISOString();
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}

function compareIp4(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < 4; i++) if (pa[i] !== pb[i]) return pa[i]! - pb[i]!;
  return 0;
}
