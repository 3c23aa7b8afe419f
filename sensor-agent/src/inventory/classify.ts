// Rule-based device classification: category (network / it / iot / ot) and
// type. Every rule is one line of evidence a person can check, and carries
// the confidence it deserves; the strongest matching rule wins and its
// reason is recorded as the evidence. Deliberately small: later work adds
// rules (and fingerprint tables), not cleverness.
import type { DeviceRecord } from '@hark/contracts/inventory';
import type { HintName } from '../decoders/types.js';
import { type Device, hintValues } from './device.js';

export interface Classification {
  category: 'network' | 'it' | 'iot' | 'ot';
  type: string;
  confidence: number;
  /** Rule id, recorded as the evidence field. */
  rule: string;
  /** Why, in words, recorded as the evidence value. */
  reason: string;
}

interface Facts {
  hint(name: HintName): ReadonlySet<string>;
  /** Attribute values (model, hostname, os, manufacturer, vendor) joined for pattern tests. */
  identity: string;
  model: string;
  hostname: string;
  os: string;
  forwarder: boolean;
}

type Rule = (f: Facts) => Classification | undefined;

const PRINTER_SERVICES = ['_ipp._tcp', '_ipps._tcp', '_printer._tcp', '_pdl-datastream._tcp'];
const CAMERA_SERVICES = ['_axis-video._tcp', '_onvif._tcp'];
const PRINTER_MODEL =
  /laserjet|officejet|deskjet|designjet|\bprinter\b|\bMFC-|\bHL-\d|ecosys|imagerunner|workcentre|bizhub/i;
const CAMERA_TEXT =
  /\bDCS-\d|\baxis\b|ipcam|ip ?camera|network camera|\bNVR\b|\bDVR\b|webcam|\bIC-\d{4}|hikvision|dahua|\bonvif\b/i;
const PLC_TEXT =
  /\b1756-|logix|\bS7-?\d{3,4}\b|\bCPU ?31\d|\bIM151|\bIC200|simatic s7|modicon|micrologix|compactlogix|controllogix|\bDL[0-9]{3}\b|koyo/i;
const INDUSTRIAL_SWITCH = /scalance|hirschmann|moxa eds|stratix/i;
const MEDIA_TEXT = /mediarenderer|roku|chromecast|_googlecast|apple ?tv|_airplay|_raop|sonos/i;

/** Server-side industrial roles (hint "role") -> what the device is. */
const OT_ROLES: readonly [string, string, number][] = [
  ['s7comm:server', 'plc', 0.75],
  ['s7comm-plus:server', 'plc', 0.75],
  ['profinet:io-controller', 'plc', 0.65],
  ['profinet:io-device', 'io-device', 0.65],
  ['dnp3:outstation', 'rtu', 0.65],
  ['bacnet:device', 'building-controller', 0.6],
  ['bacnet:router', 'bacnet-router', 0.6],
  ['enip:device', 'ot-device', 0.55],
  ['modbus:server', 'ot-device', 0.55],
  ['opcua:server', 'opcua-server', 0.5],
];

const RULES: readonly Rule[] = [
  (f) =>
    [...f.hint('deviceType')].some((t) => t === 'Programmable Logic Controller')
      ? c('ot', 'plc', 0.85, 'cip.device_type', 'CIP identity device type is Programmable Logic Controller')
      : undefined,
  (f) => {
    const roles = f.hint('role');
    for (const [role, type, confidence] of OT_ROLES)
      if (roles.has(role)) return c('ot', type, confidence, `role.${role}`, `acts as ${role}`);
    return undefined;
  },
  (f) => {
    const types = [...f.hint('wsdTypes')].join(' ');
    if (/NetworkVideoTransmitter/i.test(types))
      return c(
        'iot',
        'camera',
        0.8,
        'wsd.onvif',
        'announces an ONVIF NetworkVideoTransmitter (WS-Discovery)',
      );
    if (/PrintDeviceType|PrinterServiceType/i.test(types))
      return c('it', 'printer', 0.8, 'wsd.printer', 'announces a printer (WS-Discovery)');
    if (/pub:Computer/i.test(types))
      return c('it', 'workstation', 0.5, 'wsd.computer', 'announces pub:Computer (WS-Discovery)');
    return undefined;
  },
  (f) => {
    const caps = f.hint('capabilities');
    const switching = caps.has('bridge') || caps.has('switch');
    if (switching) {
      const industrial = INDUSTRIAL_SWITCH.test(f.identity);
      return c(
        'network',
        industrial ? 'industrial-switch' : 'switch',
        0.85,
        'capabilities.bridge',
        'announces bridge/switch capability (LLDP/CDP)',
      );
    }
    if (caps.has('router'))
      return c('network', 'router', 0.85, 'capabilities.router', 'announces router capability (LLDP/CDP)');
    if (caps.has('wlan-ap'))
      return c(
        'network',
        'access-point',
        0.85,
        'capabilities.wlan-ap',
        'announces WLAN access point capability (LLDP)',
      );
    if (caps.has('telephone'))
      return c(
        'iot',
        'voip-phone',
        0.8,
        'capabilities.telephone',
        'announces telephone capability (LLDP/CDP)',
      );
    if (caps.has('camera'))
      return c('iot', 'camera', 0.8, 'capabilities.camera', 'announces camera capability (CDP)');
    return undefined;
  },
  (f) => {
    for (const s of PRINTER_SERVICES) {
      if (f.hint('mdnsService').has(s))
        return c('it', 'printer', 0.85, 'mdns.printer-service', `advertises ${s} over mDNS`);
    }
    return undefined;
  },
  (f) => {
    for (const s of CAMERA_SERVICES) {
      if (f.hint('mdnsService').has(s))
        return c('iot', 'camera', 0.8, 'mdns.camera-service', `advertises ${s} over mDNS`);
    }
    return undefined;
  },
  (f) =>
    PRINTER_MODEL.test(f.model)
      ? c('it', 'printer', 0.7, 'model.printer', `model "${f.model}" is a printer`)
      : undefined,
  (f) =>
    /^BR[WN][0-9A-F]{12}$/i.test(f.hostname)
      ? c(
          'it',
          'printer',
          0.6,
          'hostname.brother',
          `hostname "${f.hostname}" follows Brother's printer naming`,
        )
      : undefined,
  (f) => {
    const text = `${f.identity} ${[...f.hint('ssdpServer')].join(' ')} ${[...f.hint('serviceInstance')].join(' ')}`;
    const m = CAMERA_TEXT.exec(text);
    return m ? c('iot', 'camera', 0.7, 'identity.camera', `"${m[0]}" names a camera`) : undefined;
  },
  (f) => {
    const m = INDUSTRIAL_SWITCH.exec(f.identity);
    return m
      ? c(
          'network',
          'industrial-switch',
          0.75,
          'identity.industrial-switch',
          `"${m[0]}" names an industrial switch`,
        )
      : undefined;
  },
  (f) => {
    const m = PLC_TEXT.exec(f.identity);
    return m ? c('ot', 'plc', 0.7, 'identity.plc', `"${m[0]}" names a PLC or its module`) : undefined;
  },
  (f) => {
    const types = [...f.hint('ssdpType'), ...f.hint('mdnsService'), f.identity].join(' ');
    if (/InternetGatewayDevice/i.test(types)) {
      return c('network', 'router', 0.6, 'ssdp.gateway', 'announces a UPnP InternetGatewayDevice');
    }
    const m = MEDIA_TEXT.exec(`${types} ${[...f.hint('ssdpServer')].join(' ')}`);
    return m ? c('iot', 'media-player', 0.6, 'identity.media', `"${m[0]}" names a media device`) : undefined;
  },
  (f) => {
    if (/^(MacBook)/i.test(f.model))
      return c('it', 'laptop', 0.75, 'model.apple', `Apple model "${f.model}"`);
    if (/^(iMac|Macmini|MacPro|Mac\d)/i.test(f.model))
      return c('it', 'workstation', 0.75, 'model.apple', `Apple model "${f.model}"`);
    if (/^(iPhone|iPad)/i.test(f.model))
      return c('it', 'mobile', 0.75, 'model.apple', `Apple model "${f.model}"`);
    return undefined;
  },
  (f) => {
    if (/^Windows/i.test(f.os)) return c('it', 'workstation', 0.55, 'os.windows', `runs ${f.os}`);
    if (/^Android/i.test(f.os)) return c('it', 'mobile', 0.55, 'os.android', `runs ${f.os}`);
    if (/^macOS/i.test(f.os)) return c('it', 'workstation', 0.5, 'os.macos', `runs ${f.os}`);
    return undefined;
  },
  (f) =>
    f.forwarder
      ? c('network', 'router', 0.5, 'traffic.forwarder', 'sources traffic for many IP addresses')
      : undefined,
  (f) =>
    /BusyBox|embedded/i.test(f.os)
      ? c('iot', 'embedded-device', 0.3, 'os.embedded', `embedded stack (${f.os})`)
      : undefined,
];

export function classify(
  device: Device,
  record: DeviceRecord,
  forwarder: boolean,
): Classification | undefined {
  const model = record.model?.value ?? '';
  const hostname = record.hostname?.value ?? '';
  const os = record.os?.value ?? '';
  const facts: Facts = {
    hint: (name) => hintValues(device, name),
    identity: [
      model,
      hostname,
      record.manufacturer?.value ?? '',
      ...hintValues(device, 'systemDescription'),
    ].join(' '),
    model,
    hostname,
    os,
    forwarder,
  };
  let best: Classification | undefined;
  for (const rule of RULES) {
    const result = rule(facts);
    if (result && (!best || result.confidence > best.confidence)) best = result;
  }
  return best;
}

function c(
  category: Classification['category'],
  type: string,
  confidence: number,
  rule: string,
  reason: string,
): Classification {
  return { category, type, confidence, rule, reason };
}
