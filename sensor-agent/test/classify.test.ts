// Classification against the ground truth MANIFEST.md states for the real
// captures (the "Device type" columns and the per-file notes), one row per
// fact: file, MAC (or record id), expected category and type. Plus what must
// NOT be inventoried or classified. Evidence fusion is asserted on the way:
// every verdict lists the rules that support it, and below the threshold a
// device is unknown/unclassified.
import type { DeviceRecord } from '@hark/contracts/inventory';
import { describe, expect, it } from 'vitest';
import { CLASSIFY_THRESHOLD } from '../src/inventory/classify.js';
import { buildInventory } from '../src/pipeline.js';
import { MISSING, pcap } from './support.js';

/** [file, MAC or "ip:<addr>", category, type, what MANIFEST.md says]. */
const FACTS: [string, string, string, string, string][] = [
  [
    'iotsentinel__D-LinkCam__Setup-A-1-STA.pcap',
    'b0:c5:54:25:5b:0e',
    'iot',
    'camera',
    'IP camera (D-Link DCS-935L)',
  ],
  [
    'iotsentinel__D-LinkCam__Setup-A-1-STA.pcap',
    'bc:f5:ac:f4:c0:9d',
    'mobile',
    'mobile-phone',
    'Android phone (LG)',
  ],
  ['ndpi__anyconnect-vpn.pcap', 'd8:31:34:20:77:fb', 'iot', 'media-player', 'Streaming media player (Roku)'],
  ['ndpi__anyconnect-vpn.pcap', 'a4:77:33:8c:f1:40', 'iot', 'media-player', 'Chromecast'],
  ['ndpi__anyconnect-vpn.pcap', '34:36:3b:cf:75:28', 'it', 'laptop', 'Laptop (MacBook Pro)'],
  ['ndpi__anyconnect-vpn.pcap', '2c:7e:81:b0:4a:a1', 'network', 'router', 'Cable gateway/router'],
  ['arkime__wireshark-lldp.pcap', '00:13:21:57:ca:7f', 'network', 'switch', 'HP ProCurve 2600 switch'],
  ['tcpdump__LLDP_and_CDP.pcap', '00:18:ba:98:68:8f', 'network', 'switch', 'Catalyst WS-C3560-24TS'],
  ['tcpdump__LLDP_and_CDP.pcap', '00:19:2f:a7:b2:8d', 'network', 'switch', 'Catalyst WS-C3560G-24PS'],
  ['zeek__cdp-v1.pcap', '00:e0:1e:d5:d5:15', 'network', 'router', 'Cisco 1601 router (CDP R1)'],
  [
    'iti__EIP-IPAddressChangeAttempt.pcap',
    '00:00:bc:3e:eb:e4',
    'ot',
    'plc',
    'ControlLogix chassis (1756-ENBT/A + L61)',
  ],
  ['iti__EIP-IPAddressChangeAttempt.pcap', '00:e0:62:60:35:d0', 'ot', 'plc', 'Koyo DL405 PLC'],
  [
    'iti__EIP-IPAddressChangeAttempt.pcap',
    '00:1e:f6:73:59:81',
    'network',
    'switch',
    'Cisco WS-CE500-24TT switch',
  ],
  [
    'cisagov-icsnpp-profinet-io-cm__profinet_io_cm_mixed_1.pcap',
    '00:0e:8c:ef:75:c9',
    'network',
    'industrial-switch',
    'SCALANCE X200 port (LLDP)',
  ],
  [
    'cisagov-icsnpp-profinet-io-cm__profinet_io_cm_mixed_1.pcap',
    '00:0e:8c:ef:75:c5',
    'network',
    'industrial-switch',
    'SCALANCE X208 (DHCP siemens-x208-switch)',
  ],
  [
    'cisagov-icsnpp-profinet-io-cm__profinet_io_cm_mixed_1.pcap',
    'e4:11:5b:5a:d9:73',
    'it',
    'workstation',
    'Windows laptop',
  ],
  [
    'cisagov-icsnpp-profinet-io-cm__profinet_io_cm_mixed_1.pcap',
    '00:a0:45:6d:d3:44',
    'it',
    'workstation',
    'Windows industrial PC',
  ],
  [
    'suricata-verify__sip-method__sip.pcap',
    '00:e0:ed:01:6e:bd',
    'it',
    'workstation',
    'Windows PC with SIP softphone',
  ],
  [
    'suricata-verify__sip-method__sip.pcap',
    '00:30:54:00:34:56',
    'network',
    'router',
    'Router / ADSL gateway',
  ],
  ['ndpi__android.pcap', '4c:6a:f6:9f:f6:27', 'mobile', 'mobile-phone', 'Nokia 2.2 (Android 9)'],
  ['ndpi__iphone.pcap', 'c4:61:8b:35:82:a9', 'mobile', 'mobile-phone', 'Lucas-iPhone'],
  ['ndpi__iphone.pcap', 'd8:30:62:56:00:1c', 'it', 'workstation', 'Lucas-iMac (model=iMac11,3)'],
  [
    'arkime__bacnet-stack-services.pcap',
    '00:0c:6e:b0:3c:15',
    'bms',
    'building-controller',
    'BACnet device 123',
  ],
  [
    'cisagov-icsnpp-bacnet__bacnet_example.pcap',
    'ip:172.20.32.100',
    'bms',
    'building-controller',
    'BACnet device 416',
  ],
  ['iti__tia_s300_goOnline.pcapng', '00:0e:8c:d0:f9:cb', 'ot', 'plc', 'S7-300 CPU 315-2 PN/DP'],
  [
    'iti__tia_s300_goOnline.pcapng',
    '00:0c:29:c1:49:92',
    'ot',
    'engineering-workstation',
    'TIA Portal engineering VM going online to the PLC',
  ],
  ['iti__wincc_s400_production.pcapng', '00:1b:1b:01:95:2f', 'ot', 'plc', 'S7-400 polled by WinCC'],
  ['iti__wincc_s400_production.pcapng', '00:0e:8c:ec:72:b6', 'ot', 'hmi', 'WinCC HMI polling the S7-400'],
  ['iti__s7comm_reading_plc_status.pcap', '00:1b:1b:23:eb:3b', 'ot', 'plc', 'ET200S IM151-8 PN/DP CPU'],
  ['zeek__wikipedia.pcap', '00:24:7e:e0:1d:b5', 'it', 'workstation', 'Linux (Ubuntu 10.04) workstation'],
  ['zeek__wikipedia.pcap', '00:17:f2:d7:cf:65', 'it', 'workstation', 'Mac (gemini, _sftp-ssh)'],
  // Its only frames are Chrome's Cast (DIAL) M-SEARCH: "Google Chrome/99.0.4844.74 Mac OS X".
  ['ndpi__ssdp-m-search-ua.pcap', 'f0:2f:4b:09:93:bc', 'it', 'workstation', 'desktop Chrome on a Mac'],
  // PROFINET IO CM: the Hilscher controller names itself in its Connects; the VersaMax PNS is a scanner (IO device).
  [
    'cisagov-icsnpp-profinet-io-cm__profinet_io_cm.pcap',
    '00:02:a2:2b:54:7f',
    'ot',
    'plc',
    'Hilscher IO controller',
  ],
  [
    'cisagov-icsnpp-profinet-io-cm__profinet_io_cm.pcap',
    '00:30:de:06:82:5f',
    'ot',
    'io-device',
    'WAGO IO device',
  ],
  [
    'cisagov-icsnpp-profinet-io-cm__profinet_io_cm_mixed_1.pcap',
    '00:09:91:43:e0:67',
    'ot',
    'io-device',
    'VersaMax PROFINET scanner IC200PNS001 (IO device)',
  ],
  ['ndpi__IEC104.pcap', 'ip:10.175.211.1', 'ot', 'rtu', 'IEC 104 controlled station behind a Cisco router'],
  ['ndpi__IEC104.pcap', '78:2b:cb:2b:b9:56', 'ot', 'scada-server', 'IEC 104 controlling station (Dell)'],
  // Both IEC 104 stations run on it, and it announces Windows XP: not an RTU, a PC mastering one.
  [
    'iti__090813_diverse.pcap',
    '02:00:4c:4f:4f:50',
    'ot',
    'scada-server',
    'Windows XP host (EVON), IEC 104 master',
  ],
];

const cache = new Map<string, Promise<DeviceRecord[]>>();
function devicesOf(file: string): Promise<DeviceRecord[]> {
  let p = cache.get(file);
  if (!p) {
    p = buildInventory(pcap(file)).then((r) => r.devices);
    cache.set(file, p);
  }
  return p;
}

function find(devices: DeviceRecord[], key: string): DeviceRecord | undefined {
  if (key.startsWith('ip:')) return devices.find((d) => d.id === key);
  if (/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/.test(key)) return devices.find((d) => d.macs.includes(key));
  return undefined;
}

describe.skipIf(MISSING)('classification matches MANIFEST.md ground truth', () => {
  it.each(FACTS)('%s %s is %s/%s (%s)', async (file, key, category, type) => {
    const d = find(await devicesOf(file), key);
    expect(d, `${key} in ${file}`).toBeDefined();
    expect([d!.category?.value, d!.type?.value]).toEqual([category, type]);
    // A verdict is fused from rules that each state their evidence, and clears the threshold.
    expect(d!.type!.confidence).toBeGreaterThanOrEqual(CLASSIFY_THRESHOLD);
    expect(d!.type!.evidence.length).toBeGreaterThan(0);
    for (const e of d!.type!.evidence) {
      expect(e.protocol).toBe('classifier');
      expect(e.value).toMatch(/^[a-z]+\/[a-z-]+ [0-9.]+: ./);
    }
  });

  it('the Brother printer named only in NBNS/LLMNR queries is not inventoried (zeek__wikipedia.pcap)', async () => {
    const devices = await devicesOf('zeek__wikipedia.pcap');
    expect(devices.some((d) => /BRWC0CB383D1F42/i.test(d.hostname?.value ?? ''))).toBe(false);
    expect(devices.some((d) => d.macs.includes('c0:cb:38:3d:1f:42'))).toBe(false);
    expect(devices.some((d) => d.type?.value === 'printer')).toBe(false);
  });

  it('an S7 client that only reads SZLs and the CPU state is an HMI at low confidence (MANIFEST: "HMI/PG")', async () => {
    const d = find(await devicesOf('iti__s7comm_reading_plc_status.pcap'), '90:e6:ba:84:5e:41')!;
    // Its requests show neither engineering nor operator functions: the generic client role alone, as a
    // Modbus or EtherNet/IP client's, below what either specific role would give.
    expect([d.category?.value, d.type?.value, d.type?.confidence]).toEqual(['ot', 'hmi', 0.45]);
    expect(d.type?.evidence.map((e) => e.field)).toEqual(['role.s7comm:client']);
  });

  it('fuses agreeing evidence: the TIA PLC is a PLC by its S7 server role and its SZL module type', async () => {
    const plc = find(await devicesOf('iti__tia_s300_goOnline.pcapng'), '00:0e:8c:d0:f9:cb')!;
    const rules = plc.type!.evidence.map((e) => e.field);
    expect(rules).toEqual(expect.arrayContaining(['role.s7comm:server', 'identity.plc']));
    // noisy-OR of 0.75 and 0.7 = 0.925, reported to two decimals
    expect(plc.type!.confidence).toBe(0.93);
  });

  it('a device with no classifying evidence is unknown/unclassified, not guessed (OUI-only VMware hosts)', async () => {
    const d = find(await devicesOf('iti__EIP-IPAddressChangeAttempt.pcap'), '00:0c:29:40:8c:b1')!;
    expect([d.category?.value, d.type?.value, d.type?.confidence]).toEqual(['unknown', 'unclassified', 0]);
  });

  it('a VMware host that logs on over SMB as Windows Server 2003 is a server (the MANIFEST\'s "Windows VMs")', async () => {
    const d = find(await devicesOf('iti__EIP-IPAddressChangeAttempt.pcap'), '00:0c:29:19:9e:8e')!;
    expect([d.category?.value, d.type?.value]).toEqual(['it', 'server']);
    expect(d.type?.evidence.map((e) => e.field)).toContain('os.windows-server');
  });

  it('the Modbus/TCP clients polling the MOXA gateway are the SCADA side: HMIs (iti__modbus_test.pcap)', async () => {
    // tshark: 192.168.0.21/.112/.133/.144/.156 open connections to 192.168.0.20:502 and read registers.
    const d = find(await devicesOf('iti__modbus_test.pcap'), '20:47:47:87:d4:96')!;
    expect([d.category?.value, d.type?.value]).toEqual(['ot', 'hmi']);
    expect(d.type?.evidence.map((e) => e.field)).toContain('role.modbus:client');
    expect(find(await devicesOf('iti__modbus_test.pcap'), '00:90:e8:4c:83:db')!.type?.value).toBe(
      'ot-device',
    );
  });

  it('DNP3 masters are SCADA servers (zeek__dnp3.pcap: 10.0.0.8 and .9 poll with DIR set)', async () => {
    const devices = await devicesOf('zeek__dnp3.pcap');
    for (const ip of ['10.0.0.8', '10.0.0.9']) {
      const d = devices.find((x) => x.ipv4.includes(ip))!;
      expect([d.category?.value, d.type?.value], ip).toEqual(['ot', 'scada-server']);
    }
  });

  // MANIFEST.md's notes on the IoT Sentinel setups (device label from the dataset's directory).
  it.each([
    ['iotsentinel__D-LinkSwitch__Setup-A-1-STA.pcap', '90:8d:78:a9:3d:6f', 'smart-plug'], // DSP-W215
    ['iotsentinel__TP-LinkPlugHS110__Setup-A-1-STA.pcap', '50:c7:bf:00:c7:03', 'smart-plug'], // HS110(EU)
    ['iotsentinel__WeMoSwitch__Setup-A-1-STA.pcap', '94:10:3e:35:01:c1', 'smart-plug'], // urn:Belkin:device:controllee
    ['iotsentinel__Lightify__Setup-C-1-STA.pcap', '84:18:26:7b:5f:6b', 'smart-home-hub'], // Lightify-7B5F6B
    ['iotsentinel__MAXGateway__Setup-A-1-STA.pcap', '00:1a:22:03:cb:be', 'smart-home-hub'], // KEQ0817541
    ['iotsentinel__Withings__Setup-A-1-STA.pcap', '00:24:e4:24:80:2a', 'smart-appliance'], // Withings scale
    ['iotsentinel__EdimaxCam1__Setup-A-1-STA.pcap', '74:da:38:80:7a:08', 'camera'], // SSDP /IPCamDesc.xml
    ['iotsentinel__SmarterCoffee__Setup-A-1-STA.pcap', '5c:cf:7f:07:ae:fb', 'iot-device'], // ESP_07AEFB
    ['iotsentinel__Aria__Setup-A-1-STA.pcap', '20:f8:5e:ca:91:52', 'iot-device'], // GainSpanca9152
    ['iotsentinel__HomeMaticPlug__Setup-C-1-STA.pcap', '00:1a:22:05:c4:2e', 'iot-device'], // eQ-3 OUI only
  ])('%s: %s is iot/%s', async (file, mac, type) => {
    const d = find(await devicesOf(file), mac)!;
    expect([d.category?.value, d.type?.value]).toEqual(['iot', type]);
  });

  it("the IoT lab's gateway is a router: by the traffic it forwards, or by the leases it hands out", async () => {
    // MANIFEST: 28:b2:bd:c3:41:79 at 10.10.10.1 is the "lab access point / router" of the D-LinkCam setup;
    // in the Aria setup 10.10.10.1 is 00:b5:6d:06:08:ba, the DHCP server (option 54) every device leases from.
    const gateway = find(await devicesOf('iotsentinel__D-LinkCam__Setup-A-1-STA.pcap'), '28:b2:bd:c3:41:79')!;
    expect([gateway.category?.value, gateway.type?.value]).toEqual(['network', 'router']);
    const server = find(await devicesOf('iotsentinel__Aria__Setup-A-1-STA.pcap'), '00:b5:6d:06:08:ba')!;
    expect([server.category?.value, server.type?.value]).toEqual(['network', 'router']);
    expect(server.type?.evidence.map((e) => e.field)).toContain('dhcp.server');
  });

  // MANIFEST.md's notes: devices whose only evidence is their NIC's maker with one more hint.
  it.each([
    ['arkime__wireshark-dhcp.pcap', '00:0b:82:01:fc:42', 'it', 'ip-phone'], // a Grandstream DHCP client
    ['arkime__wireshark-lldp.pcap', '00:04:96:1f:a7:26', 'network', 'switch'], // "a third Extreme Networks device"
    ['iti__EIP-IPAddressChangeAttempt.pcap', '00:21:91:06:f1:66', 'network', 'switch'], // "Switch (LLDP)", D-Link
    ['ndpi__android.pcap', 'd8:30:62:56:00:1c', 'it', 'workstation'], // "Lucas-iMac"
    ['ndpi__netbios.pcap', 'ec:a8:6b:f4:60:77', 'it', 'workstation'], // GURU, an Elitegroup PC's NetBIOS name
  ])('%s: %s is %s/%s', async (file, mac, category, type) => {
    const d = find(await devicesOf(file), mac)!;
    expect([d.category?.value, d.type?.value]).toEqual([category, type]);
  });
});
