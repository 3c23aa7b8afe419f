// Device classification by evidence fusion: category (it, iot, ot, bms,
// network, mobile, unknown) and type (printer, camera, plc, hmi, switch...).
//
// Every rule is one line of evidence a person can check and carries the
// confidence that evidence deserves. Rules that agree on a (category, type)
// are fused as independent evidence (noisy-OR: 1 - prod(1 - c)); the
// strongest fused verdict wins, and every rule that supports it is recorded
// as evidence. Below CLASSIFY_THRESHOLD the device is "unknown"/
// "unclassified" (with the best guess's evidence still listed), never a guess
// stated as fact.
import type { DeviceRecord } from '@hark/contracts/inventory';
import type { HintName } from '../decoders/types.js';
import { type Device, hintValues } from './device.js';

export type Category = 'it' | 'iot' | 'ot' | 'bms' | 'network' | 'mobile' | 'unknown';

/** One rule's finding: what the device is, how sure this one piece of evidence makes us, and why. */
export interface Classification {
  category: Category;
  type: string;
  confidence: number;
  /** Rule id, recorded as the evidence field. */
  rule: string;
  /** Why, in words, recorded as the evidence value. */
  reason: string;
}

interface Facts {
  hint(name: HintName): ReadonlySet<string>;
  /** Attribute values (model, hostname, manufacturer) and LLDP/CDP system descriptions joined for pattern tests. */
  identity: string;
  model: string;
  hostname: string;
  os: string;
  /** Manufacturer the device declares in a protocol (CIP, SZL, LLDP...). */
  manufacturer: string;
  /** NIC vendor from the IEEE OUI registry. */
  vendor: string;
  forwarder: boolean;
  /** The device sent LLDP. */
  lldp: boolean;
}

type Rule = (f: Facts) => Classification | undefined;

const PRINTER_SERVICES = ['_ipp._tcp', '_ipps._tcp', '_printer._tcp', '_pdl-datastream._tcp'];
const CAMERA_SERVICES = ['_axis-video._tcp', '_onvif._tcp'];
/** Google Cast receivers (Chromecast, Cast-enabled TVs and speakers) advertise these (Google Cast SDK docs). */
const CAST_SERVICES = ['_googlecast._tcp', '_googlezone._tcp'];
const MAC_WORKSTATION_SERVICES = [
  '_sftp-ssh._tcp',
  '_ssh._tcp',
  '_afpovertcp._tcp',
  '_smb._tcp',
  '_rfb._tcp',
];
const PRINTER_MODEL =
  /laserjet|officejet|deskjet|designjet|\bprinter\b|\bMFC-|\bHL-\d|ecosys|imagerunner|workcentre|bizhub/i;
const CAMERA_TEXT =
  /\bDCS-\d|\baxis\b|ipcam|ip ?camera|network camera|internet camera|\bNVR\b|\bDVR\b|webcam|\bIC-\d{4}|hikvision|dahua|\bonvif\b/i;
// Schneider's CPU part numbers, as a Modicon answers Modbus's Read Device Identification (product code, model):
// BMX P34 (M340), BME P58 (M580), 140 CPU (Quantum), TSX P57 (Premium), TM221/TM241/TM251/TM262 (M221-M262).
const PLC_TEXT =
  /\b1756-|logix|\bS7-?\d{3,4}\b|\bCPU ?31\d|\bIM151|\bIC200CPU|simatic s7|modicon|micrologix|compactlogix|controllogix|\bDL[0-9]{3}\b|koyo|\bBM[XE] ?P ?(?:34|58)|\b140 ?CPU|\bTSX ?P ?57|\bTM2[2-6][1-2]/i;
const HMI_TEXT =
  /\bwincc\b|panelview|simatic (?:hmi|panel)|\bK?TP\d{3,4}\b|\bHMI\b|factorytalk view|\bpro-face\b/i;
const INDUSTRIAL_SWITCH = /scalance|hirschmann|moxa eds|stratix|ruggedcom/i;
/** OUI owners whose switches are industrial (used only together with a "switch" name). */
const INDUSTRIAL_VENDOR = /siemens|hirschmann|moxa|phoenix contact|belden|westermo|rockwell|ruggedcom/i;
const MEDIA_TEXT = /mediarenderer|roku|chromecast|_googlecast|apple ?tv|_airplay|_raop|sonos/i;
const SMART_TV_TEXT = /smart ?tv|\bbravia\b|\bwebos\b|\btizen\b|_androidtvremote|\bfire ?tv\b|\bvizio\b/i;
const CONFERENCING_TEXT =
  /telepresence|webex (?:room|board|desk)|zoom ?rooms?|polycom (?:realpresence|group|studio|trio)|poly (?:studio|trio|g7500)|crestron|clickshare|logitech (?:rally|meetup)|yealink (?:meeting|mvc|uvc)/i;
const IP_PHONE_TEXT =
  /\bcisco ?ip ?phone|\bCP-\d{4}\b|\bSEP[0-9A-F]{12}\b|yealink sip-t|\bSIP-T\d{2}|polycom ?(?:vvx|soundpoint)|\bsnom ?\d|grandstream gxp|avaya \d{4}|\bmitel ?\d{4}/i;
/** Smart plugs and switched sockets by model or announced type (TP-Link Kasa, D-Link, Edimax, Belkin WeMo, Tasmota). */
const SMART_PLUG_TEXT =
  /\b(?:HS1[01]0|HS2\d\d|KP\d{3}|DSP-W\d{3}|SP-?[12]101W|SP-?\d{4}W)\b|\bwemo ?(?:insight|switch|mini)?\b|controllee|smart ?plug|\btasmota\b|\bsonoff\b/i;
/** Smart-home hubs and gateways (Zigbee/Z-Wave/proprietary radio to IP). */
const SMART_HOME_HUB_TEXT =
  /lightify|hue ?bridge|philips-hue|tradfri|smartthings|homematic|\bMAX!? ?(?:cube|gateway)|\bKEQ\d{7}\b|wemo ?link|ednet ?gateway|\bhomey\b|hubitat|\bzigbee\b|\bz-wave\b/i;
/** Smart-home sensors and alarms. */
const SMART_SENSOR_TEXT = /(?:door|window|water|motion|leak) ?sensor|\bDCH-S\d{3}\b|\bsiren\b/i;
/** Connected appliances and health devices. */
const SMART_APPLIANCE_TEXT = /withings|fitbit|\baria\b|kettle|smarter ?coffee|\bikettle\b|\bscale\b/i;
/**
 * OUI owners that make radio modules or smart-home products, not PCs or
 * phones: a device with their NIC and no other evidence is an IoT device.
 */
const IOT_VENDOR =
  /espressif|hi-flying|gainspan|tuya|particle industries|ayla networks|broadlink|lumi united|itead|allterco|shelly|eq-3|withings|osram|signify|philips lighting|lifx|nest labs|ecobee|\bring\b|wyze|irobot|fitbit|sonoff|texas instruments|silicon labs|nordic semiconductor|murata/i;

/** OUI owners that make VoIP phones above all (their NIC with no other evidence: an IP phone). */
const VOIP_VENDOR =
  /grandstream|polycom|yealink|snom|mitel|aastra|fanvil|htek|gigaset|unify|escene|flyingvoice/i;
/** OUI owners that make network gear only: such a NIC sending LLDP is a switch port. */
const NETWORK_VENDOR =
  /extreme networks|juniper|arista|aruba|ruckus|ubiquiti|mikrotik|routerboard|netgear|d-link|zyxel|brocade|allied telesis|h3c|hirschmann|ruggedcom|fortinet|meraki|edgecore|accton|mellanox|cumulus/i;
/** OUI owners that make PCs: such a NIC registering a NetBIOS name is a Windows (or Samba) computer. */
const PC_VENDOR =
  /^(?:dell|hewlett packard|hp inc|lenovo|elitegroup|asustek|giga-byte|micro-star|asrock|acer|fujitsu|microsoft|intel corporate|tyan|super micro|quanta|wistron|compal|pegatron|liteon)/i;
/** Host names that say what the computer is (Apple's and Windows' defaults, phones). */
const WORKSTATION_HOSTNAME =
  /\b(?:iMac|MacBook(?:-?(?:Pro|Air))?|Mac-?mini|Mac-?Pro)\b|^(?:DESKTOP|LAPTOP)-[A-Z0-9]{7}$/i;
const PHONE_HOSTNAME = /\b(?:iPhone|iPad|Galaxy-|android-[0-9a-f]{16}|Pixel-?\d)/i;

/** Host names Wi-Fi modules' firmware gives by default (Espressif, GainSpan, Hi-Flying, Tasmota, Shelly). */
const IOT_MODULE_HOSTNAME = /^(?:ESP[_-][0-9A-F]{6}|GainSpan|HF-LP[BT]\d+|espressif|tasmota|shelly)/i;

/** The vendor class Windows' DHCP client sends ("MSFT 5.0", "MSFT 98"). */
const WINDOWS_VENDOR_CLASS = /^MSFT /;

/** Server-side (or client-side) roles (hint "role") -> what the device is. */
const ROLES: readonly [string, Category, string, number][] = [
  ['s7comm:server', 'ot', 'plc', 0.75],
  ['s7comm-plus:server', 'ot', 'plc', 0.75],
  // An S7 client that lists/uploads/downloads blocks or controls the CPU is an engineering station (STEP 7/TIA Portal).
  ['s7comm:engineering', 'ot', 'engineering-workstation', 0.7],
  // An S7 client that reads/writes variables or subscribes to cyclic data is an operator station (HMI/SCADA).
  ['s7comm:hmi', 'ot', 'hmi', 0.6],
  // One that shows neither (reads system status lists, the CPU state) still talks to PLCs as their
  // operator and diagnostic tools do: as Modbus, EtherNet/IP and OPC UA clients are, an HMI at less
  // confidence, which either role above outweighs.
  ['s7comm:client', 'ot', 'hmi', 0.45],
  // Answers FINS: an Omron controller. Asks for program areas, run/stop or files: CX-Programmer; memory areas: an HMI or SCADA driver.
  ['fins:plc', 'ot', 'plc', 0.75],
  ['fins:engineering', 'ot', 'engineering-workstation', 0.65],
  ['fins:hmi', 'ot', 'hmi', 0.55],
  // Answers Beckhoff ADS: a TwinCAT controller (an embedded PC or IPC running the PLC runtime); asks it: an HMI,
  // a SCADA driver or TwinCAT engineering.
  ['ads:server', 'ot', 'plc', 0.7],
  ['ads:client', 'ot', 'hmi', 0.5],
  ['profinet:io-controller', 'ot', 'plc', 0.65],
  ['profinet:io-device', 'ot', 'io-device', 0.65],
  // Opens a supervisor AR to IO devices: an engineering or commissioning tool.
  ['profinet:supervisor', 'ot', 'engineering-workstation', 0.6],
  ['dnp3:outstation', 'ot', 'rtu', 0.65],
  // Listens on IEC 104's port: an RTU, a protection relay or a substation gateway.
  ['iec104:controlled-station', 'ot', 'rtu', 0.65],
  // Publishes GOOSE (trips, interlocks, status): a protection relay or bay controller. Publishes sampled
  // values: a merging unit digitising a bay's currents and voltages.
  ['iec61850:goose-publisher', 'ot', 'ied', 0.75],
  ['iec61850:sv-publisher', 'ot', 'merging-unit', 0.75],
  // Describes itself in a C37.118 configuration as one PMU, or as a concentrator of several; streams
  // synchrophasor data without a configuration seen; sends C37.118 commands (a concentrator or an application).
  ['synchrophasor:pmu', 'ot', 'pmu', 0.75],
  ['synchrophasor:pdc', 'ot', 'phasor-data-concentrator', 0.75],
  ['synchrophasor:source', 'ot', 'ot-device', 0.55],
  ['synchrophasor:client', 'ot', 'phasor-data-concentrator', 0.5],
  // Answers MMS on 102: an IED (relay, bay controller), a substation gateway or a controller.
  ['mms:server', 'ot', 'ied', 0.65],
  ['bacnet:device', 'bms', 'building-controller', 0.6],
  ['bacnet:router', 'bms', 'bacnet-router', 0.6],
  // Answers KNXnet/IP searches offering routing (an IP router coupling a KNX line to the backbone) or
  // tunnelling (an IP interface to the bus): a KNX gateway.
  ['knx:ip-router', 'bms', 'knx-gateway', 0.7],
  ['knx:ip-interface', 'bms', 'knx-gateway', 0.65],
  // Multicasts KNX telegrams onto the IP backbone: an IP router (or a server in routing mode).
  ['knx:routing', 'bms', 'knx-gateway', 0.55],
  ['enip:device', 'ot', 'ot-device', 0.55],
  // Produces CIP real-time I/O (UDP 2222): a controller, an adapter, a drive.
  ['enip:io', 'ot', 'ot-device', 0.55],
  ['modbus:server', 'ot', 'ot-device', 0.55],
  ['opcua:server', 'ot', 'opcua-server', 0.5],
  // Asks BACnet devices (reads, writes, subscriptions) without being heard as one itself: a BMS front end
  // or operator workstation. A controller that reads its peers also answers as a device, which outweighs it.
  ['bacnet:client', 'bms', 'bms-workstation', 0.45],
  // Searches for KNX gateways or connects to one: ETS, a visualisation, a home automation server.
  ['knx:client', 'bms', 'bms-workstation', 0.45],
  // Answers IPP on 631 (a printer, or a print server sharing one).
  ['ipp:printer', 'it', 'printer', 0.7],
  // Polls process values (Modbus/TCP client) or masters outstations (DNP3, IEC 104): the SCADA side.
  // Telecontrol masters are nothing but SCADA front ends, so they outweigh a desktop OS (a Windows
  // PC mastering RTUs is a SCADA server); a Modbus client may be any tool.
  ['modbus:client', 'ot', 'hmi', 0.5],
  // Opens EtherNet/IP sessions to targets: an HMI, an engineering tool (RSLinx), a SCADA driver.
  ['enip:client', 'ot', 'hmi', 0.5],
  // Opens OPC UA sessions: SCADA, an HMI, a historian or MES, an engineering tool.
  ['opcua:client', 'ot', 'hmi', 0.45],
  ['dnp3:master', 'ot', 'scada-server', 0.6],
  ['iec104:controlling-station', 'ot', 'scada-server', 0.6],
  // Sends MMS requests to IEDs: a SCADA server or station gateway; engineering tools do too, at times.
  ['mms:client', 'ot', 'scada-server', 0.5],
  // Greets mail clients: a mail server (appliances send mail, they do not serve it).
  ['smtp:server', 'it', 'server', 0.6],
  ['imap:server', 'it', 'server', 0.6],
  ['pop3:server', 'it', 'server', 0.6],
  // Announces itself by MikroTik's or Ubiquiti's discovery protocol, with a board or product code that
  // says what it is (CRS/CSS boards switch; UniFi US* switch, UGW/UDM route, UP* are phones, U6/U7/UAP are APs).
  ['mndp:router', 'network', 'router', 0.75],
  ['mndp:switch', 'network', 'switch', 0.75],
  ['ubiquiti:router', 'network', 'router', 0.75],
  ['ubiquiti:switch', 'network', 'switch', 0.75],
  ['ubiquiti:access-point', 'network', 'access-point', 0.75],
  ['ubiquiti:phone', 'iot', 'ip-phone', 0.75],
  ['ubiquiti:camera', 'iot', 'camera', 0.75],
  // Answers TP-Link's smart-home get_sysinfo as a plug or switch, a bulb, or another Kasa device.
  ['tplink:smart-plug', 'iot', 'smart-plug', 0.8],
  ['tplink:smart-bulb', 'iot', 'smart-light', 0.8],
  ['tplink:device', 'iot', 'embedded-device', 0.6],
  // Speaks a routing or first-hop redundancy protocol (OSPF, EIGRP, VRRP, HSRP, RIP, GLBP).
  ['routing:router', 'network', 'router', 0.7],
  // What a Windows or Samba host announces it serves (browser server type bits).
  ['windows:domain-controller', 'it', 'domain-controller', 0.8],
  // Answers Kerberos logons on port 88: a KDC, which in an enterprise network is an Active Directory domain
  // controller (a Kerberos realm of its own is rarer).
  ['kerberos:kdc', 'it', 'domain-controller', 0.6],
  ['windows:sql-server', 'it', 'server', 0.65],
  ['windows:terminal-server', 'it', 'server', 0.65],
  ['windows:print-server', 'it', 'print-server', 0.6],
];

/**
 * What a server role makes of a device that is a controller or field device. A desktop OS
 * contradicts that: a Windows or macOS computer that answers as a PLC, RTU or Modbus server runs
 * a simulator, a soft controller or a protocol gateway, and stays the computer its OS says.
 */
const FIELD_DEVICE_TYPES: ReadonlySet<string> = new Set([
  'plc',
  'rtu',
  'io-device',
  'ot-device',
  'ied',
  'pmu',
]);
const DESKTOP_OS = /^(?:Windows(?! Server)|macOS)/i;

/** General-purpose streaming servers: a host serving RTSP with one is a media server, not a camera. */
const STREAMING_SERVER =
  /\b(?:VLC|GStreamer|MediaMTX|rtsp-simple-server|Wowza|Darwin|QuickTime Streaming|Helix|Lavf|FFmpeg|LIVE555 Media ?Server|Red5|Flussonic|Nimble|Ant Media|Kurento)\b/i;

const RULES: readonly Rule[] = [
  (f) =>
    [...f.hint('deviceType')].some((t) => t === 'Programmable Logic Controller')
      ? c('ot', 'plc', 0.85, 'cip.device_type', 'CIP identity device type is Programmable Logic Controller')
      : undefined,
  ...ROLES.map(
    ([role, category, type, confidence]): Rule =>
      (f) =>
        f.hint('role').has(role) && !(FIELD_DEVICE_TYPES.has(type) && DESKTOP_OS.test(f.os))
          ? c(category, type, confidence, `role.${role}`, `acts as ${role}`)
          : undefined,
  ),
  (f) => {
    // Serves RTSP: cameras, video encoders and NVRs, unless the server is streaming software on a computer.
    if (!f.hint('role').has('rtsp:server')) return undefined;
    const streamer = [...f.hint('rtspServer')].find((s) => STREAMING_SERVER.test(s));
    if (streamer) return c('it', 'server', 0.5, 'rtsp.streaming-server', `serves RTSP with "${streamer}"`);
    if (DESKTOP_OS.test(f.os)) return undefined;
    return c('iot', 'camera', 0.55, 'role.rtsp:server', 'serves RTSP video (cameras, encoders, NVRs)');
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
        'announces bridge/switch capability (LLDP, CDP or FDP)',
      );
    }
    if (caps.has('router'))
      return c(
        'network',
        'router',
        0.85,
        'capabilities.router',
        'announces router capability (LLDP, CDP or FDP)',
      );
    if (caps.has('wlan-ap'))
      return c(
        'network',
        'access-point',
        0.85,
        'capabilities.wlan-ap',
        'announces WLAN access point capability (LLDP)',
      );
    if (caps.has('telephone'))
      return c('iot', 'ip-phone', 0.8, 'capabilities.telephone', 'announces telephone capability (LLDP/CDP)');
    if (caps.has('camera'))
      return c('iot', 'camera', 0.8, 'capabilities.camera', 'announces camera capability (CDP)');
    return undefined;
  },
  (f) => {
    for (const s of PRINTER_SERVICES)
      if (f.hint('mdnsService').has(s))
        return c('it', 'printer', 0.85, 'mdns.printer-service', `advertises ${s} over mDNS`);
    return undefined;
  },
  (f) => {
    for (const s of CAMERA_SERVICES)
      if (f.hint('mdnsService').has(s))
        return c('iot', 'camera', 0.8, 'mdns.camera-service', `advertises ${s} over mDNS`);
    return undefined;
  },
  (f) => {
    for (const s of CAST_SERVICES)
      if (f.hint('mdnsService').has(s))
        return c(
          'iot',
          'media-player',
          0.7,
          'mdns.google-cast',
          `advertises ${s} (Google Cast receiver) over mDNS`,
        );
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
      : /^NPI[0-9A-F]{6}$/i.test(f.hostname)
        ? c('it', 'printer', 0.6, 'hostname.jetdirect', `hostname "${f.hostname}" is HP JetDirect's default`)
        : undefined,
  (f) => {
    const text = `${f.identity} ${[...f.hint('ssdpServer')].join(' ')} ${[...f.hint('serviceInstance')].join(' ')}`;
    const m = CAMERA_TEXT.exec(text);
    return m ? c('iot', 'camera', 0.7, 'identity.camera', `"${m[0]}" names a camera`) : undefined;
  },
  (f) => {
    // The UPnP description a camera points SSDP at is often named for what it is ("/IPCamDesc.xml").
    for (const location of f.hint('upnpLocation'))
      if (/ipcam|camera|onvif/i.test(location.replace(/^[a-z][\w+.-]*:\/\/[^/]*/i, '')))
        return c(
          'iot',
          'camera',
          0.6,
          'ssdp.location.camera',
          `SSDP LOCATION ${location} describes a camera`,
        );
    return undefined;
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
    const m = /\bswitch\b|\bcatalyst\b|procurve|\bWS-C\d/i.exec(`${f.hostname} ${f.model}`);
    if (!m) return undefined;
    const industrial = INDUSTRIAL_VENDOR.exec(`${f.vendor} ${f.manufacturer}`);
    return industrial
      ? c(
          'network',
          'industrial-switch',
          0.55,
          'name.industrial-switch',
          `"${m[0]}" in its name and made by ${industrial[0]} (industrial networking vendor)`,
        )
      : c('network', 'switch', 0.55, 'name.switch', `"${m[0]}" in its name or model`);
  },
  (f) => {
    const m = PLC_TEXT.exec(f.identity);
    return m ? c('ot', 'plc', 0.7, 'identity.plc', `"${m[0]}" names a PLC or its module`) : undefined;
  },
  (f) => {
    const m = HMI_TEXT.exec(`${f.identity} ${[...f.hint('applicationUri')].join(' ')}`);
    return m ? c('ot', 'hmi', 0.7, 'identity.hmi', `"${m[0]}" names an HMI`) : undefined;
  },
  (f) => {
    const types = [...f.hint('ssdpType'), ...f.hint('mdnsService'), f.identity].join(' ');
    if (/InternetGatewayDevice/i.test(types))
      return c('network', 'router', 0.6, 'ssdp.gateway', 'announces a UPnP InternetGatewayDevice');
    const text = `${types} ${[...f.hint('ssdpServer')].join(' ')}`;
    const tv = SMART_TV_TEXT.exec(text);
    if (tv) return c('iot', 'smart-tv', 0.65, 'identity.smart-tv', `"${tv[0]}" names a smart TV`);
    const m = MEDIA_TEXT.exec(text);
    return m ? c('iot', 'media-player', 0.6, 'identity.media', `"${m[0]}" names a media device`) : undefined;
  },
  (f) => {
    const text = `${f.identity} ${[...f.hint('sipUserAgent'), ...f.hint('userAgent'), ...f.hint('ssdpServer')].join(' ')}`;
    const conf = CONFERENCING_TEXT.exec(text);
    if (conf)
      return c(
        'iot',
        'conferencing',
        0.7,
        'identity.conferencing',
        `"${conf[0]}" names a conferencing system`,
      );
    const phone = IP_PHONE_TEXT.exec(text);
    return phone
      ? c('iot', 'ip-phone', 0.7, 'identity.ip-phone', `"${phone[0]}" names a desk IP phone`)
      : undefined;
  },
  (f) => {
    if (/^MacBook/i.test(f.model)) return c('it', 'laptop', 0.75, 'model.apple', `Apple model "${f.model}"`);
    if (/^(iMac|Macmini|MacPro|Mac\d)/i.test(f.model))
      return c('it', 'workstation', 0.75, 'model.apple', `Apple model "${f.model}"`);
    if (/^iPhone/i.test(f.model))
      return c('mobile', 'mobile-phone', 0.8, 'model.apple', `Apple model "${f.model}"`);
    if (/^iPad/i.test(f.model)) return c('mobile', 'tablet', 0.8, 'model.apple', `Apple model "${f.model}"`);
    return undefined;
  },
  (f) => {
    if (/iphone/i.test(f.hostname))
      return c('mobile', 'mobile-phone', 0.6, 'hostname.iphone', `hostname "${f.hostname}" names an iPhone`);
    if (/ipad/i.test(f.hostname))
      return c('mobile', 'tablet', 0.6, 'hostname.ipad', `hostname "${f.hostname}" names an iPad`);
    if (/^android[-_]/i.test(f.hostname))
      return c(
        'mobile',
        'mobile-phone',
        0.5,
        'hostname.android',
        `hostname "${f.hostname}" is Android's default`,
      );
    return undefined;
  },
  (f) => {
    for (const ua of [...f.hint('userAgent'), ...f.hint('sipUserAgent')]) {
      if (/\b(iPhone|CPU iPhone OS)\b/.test(ua))
        return c('mobile', 'mobile-phone', 0.6, 'user_agent.iphone', `User-Agent "${ua}" is an iPhone's`);
      if (/\bAndroid\b.*\bMobile\b|ksoap2-android|okhttp|Dalvik/i.test(ua))
        return c(
          'mobile',
          'mobile-phone',
          0.45,
          'user_agent.android',
          `User-Agent "${ua}" is an Android app's`,
        );
      if (/Windows NT \d/.test(ua))
        return c('it', 'workstation', 0.5, 'user_agent.windows', `User-Agent "${ua}" is a Windows desktop's`);
      if (/X11; (?:U; )?(?:Linux|Ubuntu|FreeBSD)|Macintosh; Intel Mac OS X/.test(ua))
        return c('it', 'workstation', 0.5, 'user_agent.desktop', `User-Agent "${ua}" is a desktop browser's`);
      // Chromium's Cast discovery (DIAL M-SEARCH) names the product and the OS, and runs on the desktop
      // builds only (dial_service_impl.cc): Chrome (Brave says it is Chrome too), Edge.
      if (/^(?:Google Chrome|Microsoft Edge|Chromium)\/[\d.]+ (?:Mac OS X|Windows|Linux|CrOS)$/.test(ua))
        return c(
          'it',
          'workstation',
          0.5,
          'user_agent.chrome-dial',
          `User-Agent "${ua}" is desktop Chrome's`,
        );
    }
    return undefined;
  },
  (f) =>
    /\bmobile communications\b/i.test(f.vendor)
      ? c(
          'mobile',
          'mobile-phone',
          0.5,
          'oui.mobile',
          `NIC registered to "${f.vendor}" (a handset maker's OUI)`,
        )
      : undefined,
  (f) => {
    if (/^Windows Server/i.test(f.os)) return c('it', 'server', 0.7, 'os.windows-server', `runs ${f.os}`);
    if (/^Windows/i.test(f.os)) return c('it', 'workstation', 0.55, 'os.windows', `runs ${f.os}`);
    // Samba makes a Unix host a Windows file server (its own browser announcement and NTLM version say so).
    if (/\(Samba\b(?! client)/.test(f.os))
      return c('it', 'server', 0.5, 'os.samba', `runs ${f.os}, a file server`);
    if (/^Android/i.test(f.os)) return c('mobile', 'mobile-phone', 0.55, 'os.android', `runs ${f.os}`);
    if (/^(iOS|iPadOS)/i.test(f.os)) return c('mobile', 'mobile-phone', 0.6, 'os.ios', `runs ${f.os}`);
    if (/^macOS/i.test(f.os)) return c('it', 'workstation', 0.5, 'os.macos', `runs ${f.os}`);
    if (/^MikroTik RouterOS/.test(f.os)) return c('network', 'router', 0.6, 'os.routeros', `runs ${f.os}`);
    // A general-purpose Unix that answers SSH: a server (a desktop seldom runs sshd; boards and appliances
    // announce themselves otherwise).
    if (/^(Debian|Ubuntu|FreeBSD)\b/.test(f.os) && f.hint('role').has('ssh:server'))
      return c('it', 'server', 0.5, 'os.unix-ssh-server', `runs ${f.os} and answers SSH`);
    return undefined;
  },
  (f) => {
    for (const vc of f.hint('dhcpVendorClass')) {
      if (WINDOWS_VENDOR_CLASS.test(vc))
        return c(
          'it',
          'workstation',
          0.5,
          'dhcp.vendor_class.msft',
          `DHCP vendor class "${vc}" is Windows' client`,
        );
      if (/^android-dhcp-/i.test(vc))
        return c(
          'mobile',
          'mobile-phone',
          0.6,
          'dhcp.vendor_class.android',
          `DHCP vendor class "${vc}" is Android's client`,
        );
    }
    return undefined;
  },
  (f) => {
    if (!/^Apple/i.test(f.vendor)) return undefined;
    for (const s of MAC_WORKSTATION_SERVICES)
      if (f.hint('mdnsService').has(s))
        return c(
          'it',
          'workstation',
          0.5,
          'mdns.mac-services',
          `Apple NIC advertising ${s} (a Mac's file/remote login service)`,
        );
    return undefined;
  },
  (f) =>
    f.forwarder
      ? c('network', 'router', 0.5, 'traffic.forwarder', 'sources traffic for many IP addresses')
      : undefined,
  (f) => {
    const text = `${f.identity} ${[...f.hint('ssdpType')].join(' ')} ${[...f.hint('userAgent')].join(' ')}`;
    if (SMART_PLUG_TEXT.test(text))
      return c(
        'iot',
        'smart-plug',
        0.65,
        'identity.smart-plug',
        `names a smart plug ("${match(text, SMART_PLUG_TEXT)}")`,
      );
    if (SMART_HOME_HUB_TEXT.test(text))
      return c(
        'iot',
        'smart-home-hub',
        0.6,
        'identity.smart-home-hub',
        `names a smart-home hub ("${match(text, SMART_HOME_HUB_TEXT)}")`,
      );
    if (SMART_SENSOR_TEXT.test(text))
      return c(
        'iot',
        'sensor',
        0.6,
        'identity.sensor',
        `names a sensor ("${match(text, SMART_SENSOR_TEXT)}")`,
      );
    if (SMART_APPLIANCE_TEXT.test(`${text} ${f.vendor}`))
      return c(
        'iot',
        'smart-appliance',
        0.55,
        'identity.appliance',
        `names a connected appliance ("${match(`${text} ${f.vendor}`, SMART_APPLIANCE_TEXT)}")`,
      );
    return undefined;
  },
  (f) =>
    WORKSTATION_HOSTNAME.test(f.hostname)
      ? c('it', 'workstation', 0.6, 'hostname.computer', `hostname "${f.hostname}" names a desktop or laptop`)
      : PHONE_HOSTNAME.test(f.hostname)
        ? c(
            'mobile',
            'mobile-phone',
            0.6,
            'hostname.phone',
            `hostname "${f.hostname}" names a phone or tablet`,
          )
        : undefined,
  (f) =>
    PC_VENDOR.test(f.vendor) && f.hint('netbiosName').size > 0
      ? c(
          'it',
          'workstation',
          0.5,
          'netbios.pc',
          `a PC maker's NIC ("${f.vendor}") registering NetBIOS name ${[...f.hint('netbiosName')][0]}`,
        )
      : undefined,
  (f) =>
    VOIP_VENDOR.test(f.vendor)
      ? c('it', 'ip-phone', 0.5, 'oui.voip', `NIC registered to "${f.vendor}" (a VoIP phone maker)`)
      : undefined,
  (f) =>
    NETWORK_VENDOR.test(f.vendor) && f.lldp
      ? c(
          'network',
          'switch',
          0.5,
          'lldp.network-vendor',
          `sends LLDP from a "${f.vendor}" NIC (network gear)`,
        )
      : undefined,
  (f) =>
    IOT_MODULE_HOSTNAME.test(f.hostname)
      ? c(
          'iot',
          'iot-device',
          0.55,
          'hostname.module',
          `hostname "${f.hostname}" is a Wi-Fi module's default`,
        )
      : undefined,
  (f) =>
    f.hint('dhcpServer').size > 0
      ? c(
          'network',
          'router',
          0.5,
          'dhcp.server',
          'hands out DHCP leases (the gateway of a home or branch site)',
        )
      : undefined,
  (f) =>
    IOT_VENDOR.test(f.vendor)
      ? c(
          'iot',
          'iot-device',
          0.5,
          'oui.iot-vendor',
          `NIC registered to "${f.vendor}" (radio modules, smart-home products)`,
        )
      : undefined,
  (f) =>
    /BusyBox|embedded/i.test(f.os)
      ? c('iot', 'embedded-device', 0.3, 'os.embedded', `embedded stack (${f.os})`)
      : undefined,
];

/** Fused confidence below which a device is reported as unknown/unclassified. */
export const CLASSIFY_THRESHOLD = 0.45;

export interface Verdict {
  category: Category;
  type: string;
  /** Fused confidence of every rule that supports this verdict. */
  confidence: number;
  /** The supporting rules, strongest first. */
  support: Classification[];
}

/** Runs every rule and fuses the results; undefined when no rule fires at all. */
export function classify(device: Device, record: DeviceRecord, forwarder: boolean): Verdict | undefined {
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
      ...hintValues(device, 'banner'),
      ...hintValues(device, 'certificateSubject'),
    ].join(' '),
    model,
    hostname,
    os,
    manufacturer: record.manufacturer?.value ?? '',
    vendor: record.vendor?.value ?? '',
    forwarder,
    lldp: record.protocols.includes('lldp'),
  };
  const groups = new Map<string, Classification[]>();
  for (const rule of RULES) {
    const result = rule(facts);
    if (!result) continue;
    const key = `${result.category}/${result.type}`;
    const group = groups.get(key);
    if (group) {
      if (!group.some((g) => g.rule === result.rule)) group.push(result);
    } else groups.set(key, [result]);
  }
  let best: Verdict | undefined;
  for (const support of groups.values()) {
    support.sort((a, b) => b.confidence - a.confidence);
    let miss = 1;
    for (const s of support) miss *= 1 - s.confidence;
    const confidence = Math.round((1 - miss) * 100) / 100;
    const top = support[0]!;
    if (!best || confidence > best.confidence)
      best = { category: top.category, type: top.type, confidence, support };
  }
  if (best && best.confidence < CLASSIFY_THRESHOLD) {
    return { category: 'unknown', type: 'unclassified', confidence: best.confidence, support: best.support };
  }
  return best;
}

function match(text: string, pattern: RegExp): string {
  return pattern.exec(text)?.[0] ?? '';
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
