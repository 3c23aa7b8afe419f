// A synthetic site for demos and load tests: N devices of several classes,
// each speaking the discovery protocols its real counterparts speak, over a
// simulated time window. Deterministic for a given seed (mulberry32 PRNG), so
// a demo or benchmark is reproducible byte for byte.
import {
  arpAnnouncement,
  browserHostAnnouncement,
  dhcpAck,
  dhcpClient,
  lldp,
  type Mac,
  mdnsAnnouncement,
  rstpBpdu,
  ssdpNotify,
  vrrpAdvertisement,
} from './encoders.js';
import { PcapWriter } from './pcap-writer.js';

export const DEVICE_CLASSES = ['printer', 'camera', 'plc', 'switch', 'workstation'] as const;
export type DeviceClass = (typeof DEVICE_CLASSES)[number];

export interface SimulatedDevice {
  kind: DeviceClass;
  mac: Mac;
  ip: string;
  hostname: string;
  model: string;
}

export interface SiteOptions {
  devices: number;
  seed?: number;
  /** Simulated seconds of traffic (announcements repeat within it). */
  durationSeconds?: number;
  /** Simulated start time, ms since the epoch. */
  startMs?: number;
}

export interface SimulatedFrame {
  timestampMs: number;
  frame: Buffer;
}

/** Class -> a real OUI of a typical vendor (so vendor lookup has something to find) and model names. */
const PROFILES: Record<DeviceClass, { oui: string; models: string[]; prefix: string }> = {
  printer: { oui: '3cd92b', models: ['HP LaserJet Pro M404dn', 'HP OfficeJet Pro 9020'], prefix: 'NPI' },
  camera: { oui: '00408c', models: ['AXIS P3245-V', 'AXIS M3106-L'], prefix: 'axis' },
  plc: { oui: '001b1b', models: ['CPU 1516-3 PN/DP', 'CPU 315-2 PN/DP'], prefix: 'plc' },
  switch: { oui: '001ef6', models: ['WS-C2960X-24TS', 'WS-C3850-48P'], prefix: 'sw' },
  workstation: { oui: 'f04da2', models: ['OptiPlex 7090', 'Precision 3660'], prefix: 'WS' },
};

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function planSite(options: SiteOptions): SimulatedDevice[] {
  const random = mulberry32(options.seed ?? 1);
  const used = new Set<string>();
  const devices: SimulatedDevice[] = [];
  for (let i = 0; i < options.devices; i++) {
    const kind = DEVICE_CLASSES[i % DEVICE_CLASSES.length]!;
    const profile = PROFILES[kind];
    let mac: Buffer;
    do {
      mac = Buffer.from(
        profile.oui +
          Math.floor(random() * 0xffffff)
            .toString(16)
            .padStart(6, '0'),
        'hex',
      );
    } while (used.has(mac.toString('hex')));
    used.add(mac.toString('hex'));
    const host = i + 10;
    const ip = `10.${20 + Math.floor(host / 62500)}.${Math.floor(host / 250) % 250}.${(host % 250) + 1}`;
    const suffix = mac.toString('hex').slice(6).toUpperCase();
    devices.push({
      kind,
      mac,
      ip,
      hostname: `${profile.prefix}-${suffix}`,
      model: profile.models[Math.floor(random() * profile.models.length)]!,
    });
  }
  return devices;
}

const GATEWAY_MAC = Buffer.from('001ef6000001', 'hex');
const GATEWAY_IP = '10.20.0.1';
const BROADCAST_IP = '10.255.255.255';
const WINDOWS_PRL = [1, 3, 6, 15, 31, 33, 43, 44, 46, 47, 119, 121, 249, 252];
const LINUX_PRL = [1, 28, 2, 3, 15, 6, 119, 12, 44, 47, 26, 121, 42];

/** Every frame of the site, in time order. */
export function simulateSite(options: SiteOptions): SimulatedFrame[] {
  const random = mulberry32((options.seed ?? 1) ^ 0x5eed);
  const start = options.startMs ?? Date.UTC(2025, 0, 1);
  const duration = (options.durationSeconds ?? 300) * 1000;
  const frames: SimulatedFrame[] = [];
  const at = (ms: number, frame: Buffer) => frames.push({ timestampMs: start + Math.floor(ms), frame });
  const every = (periodMs: number, make: () => Buffer) => {
    for (let t = random() * periodMs; t < duration; t += periodMs) at(t, make());
  };
  at(0, arpAnnouncement(GATEWAY_MAC, GATEWAY_IP));
  // A router at .2 is VRRP master for the site's default route .1 (RFC 5798: one advertisement a second).
  every(1_000, () => vrrpAdvertisement('10.20.0.2', 1, GATEWAY_IP));
  planSite(options).forEach((d, i) => {
    const join = random() * Math.min(duration, 30_000);
    const xid = (i * 2654435761) >>> 0;
    const windows = d.kind === 'workstation';
    const client = {
      mac: d.mac,
      xid,
      hostname: d.hostname,
      vendorClass: windows ? 'MSFT 5.0' : d.kind === 'camera' ? 'udhcp 1.24.2' : undefined,
      parameterList: windows ? WINDOWS_PRL : LINUX_PRL,
    };
    at(join, dhcpClient({ ...client, messageType: 1 }));
    at(join + 5, dhcpClient({ ...client, messageType: 3, requestedIp: d.ip }));
    at(join + 9, dhcpAck(GATEWAY_MAC, GATEWAY_IP, d.mac, xid, d.ip));
    at(join + 20, arpAnnouncement(d.mac, d.ip));
    every(60_000, () => arpAnnouncement(d.mac, d.ip));
    switch (d.kind) {
      case 'printer':
        every(120_000, () =>
          mdnsAnnouncement(d.mac, d.ip, d.hostname, [
            {
              instance: d.model,
              type: '_ipp._tcp',
              port: 631,
              txt: { txtvers: '1', ty: d.model, usb_MFG: 'HP', rp: 'ipp/print' },
            },
          ]),
        );
        break;
      case 'camera':
        every(60_000, () =>
          ssdpNotify(
            d.mac,
            d.ip,
            'Linux/4.9 UPnP/1.0 AXIS/10.12',
            'urn:schemas-upnp-org:device:Basic:1',
            uuidFor(d.mac),
          ),
        );
        every(120_000, () =>
          mdnsAnnouncement(d.mac, d.ip, d.hostname, [
            {
              instance: `${d.model} - ${d.hostname}`,
              type: '_axis-video._tcp',
              port: 80,
              txt: { macaddress: d.mac.toString('hex') },
            },
          ]),
        );
        break;
      case 'switch':
        // Spanning tree: every port sends a BPDU every 2 s; this one from its first port.
        every(2_000, () => rstpBpdu(portMac(d.mac), d.mac, GATEWAY_MAC, 0x8001));
        every(30_000, () =>
          lldp(d.mac, {
            chassis: d.mac,
            port: 'Gi1/0/1',
            systemName: d.hostname,
            systemDescription: `Cisco IOS Software, ${d.model} Software, Version 15.2(7)E4, RELEASE SOFTWARE (fc2)`,
            capabilities: 0x0014,
            managementIp: d.ip,
            med: {
              model: d.model,
              manufacturer: 'Cisco',
              serial: `FOC${d.mac.toString('hex').slice(6).toUpperCase()}`,
            },
          }),
        );
        break;
      case 'workstation':
        // Windows 10/11 with file sharing: a browser host announcement on joining, then every 12 minutes.
        {
          const announce = () =>
            browserHostAnnouncement(d.mac, d.ip, d.hostname, [10, 0], 0x00001003, BROADCAST_IP);
          at(join + 1_000, announce());
          every(720_000, announce);
        }
        break;
      case 'plc':
        break; // DHCP and ARP only, as many real ones
    }
  });
  frames.sort((a, b) => a.timestampMs - b.timestampMs);
  return frames;
}

/** A switch port's MAC: the bridge's address plus one, as switches number their ports. */
function portMac(bridge: Buffer): Buffer {
  const port = Buffer.from(bridge);
  port[5] = (port[5]! + 1) & 0xff;
  return port;
}

function uuidFor(mac: Buffer): string {
  const h = mac.toString('hex');
  return `5f9ec1b3-ed59-49ef-a1e8-${h}`;
}

/** Writes the site to a pcap file; returns the number of frames. */
export async function writeSitePcap(path: string, options: SiteOptions): Promise<number> {
  const frames = simulateSite(options);
  const writer = new PcapWriter(path);
  for (const f of frames) await writer.write(f.timestampMs, f.frame);
  await writer.close();
  return frames.length;
}
