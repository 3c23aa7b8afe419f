// Multicast DNS (RFC 6762) and DNS-Based Service Discovery (RFC 6763).
// Responses (and the authority section of probes) carry a host's claims:
// A/AAAA owner names are its hostnames, SRV/TXT/PTR describe its services,
// and TXT keys of well-known services name the model (printers: ty, usb_MDL;
// Apple: model; D-Link: model_number...). Records are attributed through the
// packet's own SRV->A chain, so a Bonjour sleep proxy answering for a
// sleeping Mac credits the Mac's address, not the proxy.
import type { PacketView } from '../packet/view.js';
import { type DnsRecord, readDnsMessage } from './dns-message.js';
import type { Decoder, ObservationName, ObservationSink } from './types.js';
import { DNS_MESSAGE_ID, observation, srcIpText } from './util.js';

const MDNS_PORT = 5353;
const LOCAL_SUFFIX = /\.local\.?$/i;
const SERVICE_TYPE = /^(?:.*?\.)?(_[^.]+\._(?:tcp|udp))\.local\.?$/i;
const META_QUERY = '_services._dns-sd._udp.local';
const SERVICE_LABEL = /(^|\.)_[^.]+\._(tcp|udp)\./i;

/** TXT keys -> attribute, confidence. Keys are compared lower-case. */
const TXT_KEYS: Record<string, [ObservationName, number]> = {
  model: ['model', 0.7], // Apple model identifier, e.g. MacBookPro11,1
  md: ['model', 0.7], // model description (HomeKit, Chromecast, printers)
  ty: ['model', 0.75], // IPP/LPD printer: make and model
  usb_mdl: ['model', 0.75],
  model_number: ['model', 0.75], // D-Link HNAP
  modelname: ['model', 0.7],
  product: ['model', 0.6], // printers: "(HP LaserJet ...)"
  usb_mfg: ['manufacturer', 0.75],
  manufacturer: ['manufacturer', 0.7],
  mfg: ['manufacturer', 0.7],
  fwver: ['firmwareVersion', 0.6],
  fw_ver: ['firmwareVersion', 0.6],
  firmware: ['firmwareVersion', 0.6],
  firmware_version: ['firmwareVersion', 0.6],
  serialnumber: ['serialNumber', 0.6],
  serial: ['serialNumber', 0.6],
};

/** A host label that is a UUID or a long hex string: generated, not chosen. */
const GENERATED_NAME = /^(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{24,})$/i;

interface Owner {
  mac: number;
  ip: string | undefined;
}

export const mdnsDecoder: Decoder = {
  name: 'mdns',
  family: 'udp',
  announces: true,
  portBlind: true,
  transactionId: DNS_MESSAGE_ID,
  keys: [MDNS_PORT],
  match: (pkt) => pkt.srcPort === MDNS_PORT || pkt.dstPort === MDNS_PORT,
  decode(pkt: PacketView, sink: ObservationSink): void {
    const message = readDnsMessage(pkt.data, pkt.payloadOffset, pkt.payloadEnd);
    const isResponse = message.isResponse;
    // Queries only describe the asker through a probe's proposed records (authority section).
    const records: DnsRecord[] = isResponse
      ? [...message.answers, ...message.additionals, ...message.authorities]
      : message.authorities;
    if (records.length === 0) return;
    const confidenceScale = isResponse ? 1 : 0.85;
    const srcIp = srcIpText(pkt);
    const sender: Owner = { mac: pkt.srcMac, ip: pkt.srcMac < 0 ? srcIp : undefined };

    // 1. Which host names have which addresses, and which of them are the sender's.
    const addresses = new Map<string, { type: 'A' | 'AAAA'; ip: string }[]>();
    const srvTarget = new Map<string, string>();
    for (const r of records) {
      if ((r.type === 'A' || r.type === 'AAAA') && isHostAddress(r.data)) {
        const list = addresses.get(lower(r.name)) ?? [];
        list.push({ type: r.type, ip: r.data });
        addresses.set(lower(r.name), list);
      } else if (r.type === 'SRV') {
        srvTarget.set(lower(r.name), lower(r.data.target));
      }
    }
    const ownerOfHost = (host: string): Owner => {
      const list = addresses.get(host);
      if (!list || srcIp === undefined || list.some((a) => a.ip === srcIp)) return sender;
      return { mac: -1, ip: list[0]!.ip };
    };
    const ownerOfInstance = (instance: string): Owner => {
      const target = srvTarget.get(instance);
      return target ? ownerOfHost(target) : sender;
    };
    const emit = (owner: Owner, name: ObservationName, value: string, confidence: number, field: string) => {
      if (value === '' || (owner.mac < 0 && owner.ip === undefined)) return;
      sink.observe(
        observation(pkt, owner.mac, owner.ip, 'mdns', name, value, confidence * confidenceScale, field),
      );
    };

    // 2. Host names and their addresses.
    for (const [host, list] of addresses) {
      // Only "<host>.local": names with service labels (seen from some OPC UA stacks) are not host names.
      if (!LOCAL_SUFFIX.test(host) || SERVICE_LABEL.test(host)) continue;
      const owner = ownerOfHost(host);
      const original = records.find((r) => lower(r.name) === host)!.name;
      const name = original.replace(LOCAL_SUFFIX, '');
      // Cast devices and some printers announce "<uuid>.local": an address, not a name anyone gave it.
      emit(owner, 'hostname', name, GENERATED_NAME.test(name) ? 0.35 : 0.7, `${list[0]!.type}.name`);
      for (const a of list) emit(owner, a.type === 'A' ? 'ipv4' : 'ipv6', a.ip, 0.6, `${a.type}.address`);
    }

    // 3. Services: PTR type -> instance, SRV/TXT on the instance.
    for (const r of records) {
      const name = lower(r.name);
      if (r.type === 'PTR') {
        if (name === META_QUERY || name.endsWith('.arpa')) continue;
        const type = SERVICE_TYPE.exec(name)?.[1];
        if (!type) continue;
        const instanceOwner = ownerOfInstance(lower(r.data));
        emit(instanceOwner, 'mdnsService', type, 0.8, 'PTR.service');
        const instance = instanceLabel(r.data, type);
        if (instance) emit(instanceOwner, 'serviceInstance', instance, 0.7, 'PTR.instance');
      } else if (r.type === 'SRV') {
        const type = SERVICE_TYPE.exec(name)?.[1];
        if (type) emit(ownerOfInstance(name), 'mdnsService', type, 0.8, 'SRV.service');
      } else if (r.type === 'TXT') {
        readTxt(r.data, ownerOfInstance(name), emit);
      }
    }
  },
};

function readTxt(
  strings: (Buffer | string)[],
  owner: Owner,
  emit: (owner: Owner, name: ObservationName, value: string, confidence: number, field: string) => void,
): void {
  let hasModelNumber = false;
  let version: string | undefined;
  for (const raw of strings) {
    const entry = typeof raw === 'string' ? raw : raw.toString('utf8');
    const eq = entry.indexOf('=');
    if (eq <= 0) continue;
    const key = entry.slice(0, eq).toLowerCase();
    const value = entry.slice(eq + 1).trim();
    if (value === '') continue;
    const mapped = TXT_KEYS[key];
    if (mapped) {
      emit(
        owner,
        mapped[0],
        key === 'product' ? value.replace(/^\((.*)\)$/, '$1') : value,
        mapped[1],
        `TXT.${key}`,
      );
      if (key === 'model_number') hasModelNumber = true;
    } else if (key === 'osxvers') {
      emit(owner, 'os', `macOS (Darwin ${value})`, 0.6, 'TXT.osxvers');
    } else if (key === 'mac') {
      emit(owner, 'mac', value.toLowerCase(), 0.6, 'TXT.mac');
    } else if (key === 'version') {
      version = value;
    }
  }
  // "version" alone is too generic (txtvers, protocol versions); next to D-Link's model_number it is the firmware.
  if (hasModelNumber && version) emit(owner, 'firmwareVersion', version, 0.5, 'TXT.version');
}

/** Loopback, unspecified and link-local-multicast addresses never identify a host on the segment. */
function isHostAddress(ip: string): boolean {
  if (ip.includes(':')) return ip !== '::1' && ip !== '::' && !ip.toLowerCase().startsWith('ff');
  const first = Number(ip.slice(0, ip.indexOf('.')));
  return first !== 0 && first !== 127 && first < 224;
}

function lower(name: string): string {
  return name.toLowerCase();
}

/** "Living Room._airplay._tcp.local" -> "Living Room". */
function instanceLabel(instance: string, type: string): string | undefined {
  const lowerInstance = instance.toLowerCase();
  const at = lowerInstance.lastIndexOf(`.${type.toLowerCase()}`);
  return at > 0 ? instance.slice(0, at) : undefined;
}
