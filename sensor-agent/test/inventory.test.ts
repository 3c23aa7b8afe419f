// Device-by-device assertions against the ground truth of MANIFEST.md (facts
// tshark decodes from each capture), not against hark's own output.
import type { DeviceRecord } from '@hark/contracts/inventory';
import {
  decodeMessage,
  encodeMessage,
  type InventoryMessage,
  MESSAGE_SCHEMA_VERSION,
} from '@hark/contracts/mqtt';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildInventory, type InventoryResult } from '../src/pipeline.js';
import { byMac, MISSING, manifest, mustFindMac, pcap } from './support.js';

const cache = new Map<string, Promise<InventoryResult>>();
function inventory(file: string): Promise<InventoryResult> {
  let r = cache.get(file);
  if (!r) {
    r = buildInventory(pcap(file));
    cache.set(file, r);
  }
  return r;
}
const devicesOf = async (file: string) => (await inventory(file)).devices;

describe.skipIf(MISSING)('LLDP and CDP: network gear announces itself', () => {
  it('tcpdump__LLDP_and_CDP: S1 and S2, Catalyst 3560 switches, from both LLDP and CDP', async () => {
    const devices = await devicesOf('tcpdump__LLDP_and_CDP.pcap');
    const s1 = mustFindMac(devices, '00:18:ba:98:68:8f');
    expect(s1.hostname?.value).toMatch(/^S1(\.cisco\.com)?$/);
    expect(s1.model?.value).toBe('WS-C3560-24TS');
    expect(s1.model?.evidence[0]).toMatchObject({ protocol: 'cdp', field: 'platform' });
    expect(s1.firmwareVersion?.value).toBe('12.2(44)SE');
    expect(s1.protocols).toEqual(expect.arrayContaining(['cdp', 'lldp']));
    expect(s1.vendor?.value).toMatch(/Cisco/);
    expect([s1.category?.value, s1.type?.value]).toEqual(['network', 'switch']);
    const s2 = mustFindMac(devices, '00:19:2f:a7:b2:8d');
    expect(s2.hostname?.value).toMatch(/^S2(\.cisco\.com)?$/);
    expect(s2.model?.value).toBe('WS-C3560G-24PS');
    expect(s2.firmwareVersion?.value).toBe('12.2(44)SE');
    expect(devices).toHaveLength(2);
  });

  it('tcpdump__3560_CDP: "Switch", WS-C3560G-24PS, IOS 12.2, mgmt 192.168.0.1', async () => {
    const [sw, ...rest] = await devicesOf('tcpdump__3560_CDP.pcap');
    expect(rest).toHaveLength(0);
    expect(sw!.hostname?.value).toBe('Switch');
    expect(sw!.ipv4).toContain('192.168.0.1');
    expect(sw!.model?.value).toBe('WS-C3560G-24PS');
    expect(sw!.firmwareVersion?.value).toMatch(/^12\.2/);
    expect(sw!.type?.value).toBe('switch');
  });

  it('zeek__cdp-v1: router R1, cisco 1601, IOS 11.2(12)P, 192.168.10.1', async () => {
    const [r1] = await devicesOf('zeek__cdp-v1.pcap');
    expect(r1!.hostname?.value).toBe('R1');
    expect(r1!.ipv4).toEqual(['192.168.10.1']);
    expect(r1!.model?.value).toBe('1601');
    expect(r1!.firmwareVersion?.value).toBe('11.2(12)P');
    expect([r1!.category?.value, r1!.type?.value]).toEqual(['network', 'router']);
  });

  it('arkime__wireshark-lldp: HP ProCurve, Extreme Summit and a nameless Extreme device', async () => {
    const devices = await devicesOf('arkime__wireshark-lldp.pcap');
    expect(devices).toHaveLength(3);
    const hp = mustFindMac(devices, '00:13:21:57:ca:7f');
    expect(hp.hostname?.value).toBe('ProCurve Switch 2600-8-PWR');
    expect(hp.ipv4).toEqual(['15.255.122.148']);
    expect(hp.model?.value).toContain('J8762A');
    expect(hp.firmwareVersion?.value).toBe('H.08.89');
    expect(hp.vendor?.value).toMatch(/Hewlett Packard/i);
    const summit = mustFindMac(devices, '00:01:30:f9:ad:a0');
    expect(summit.hostname?.value).toBe('Summit300-48');
    expect(summit.firmwareVersion?.value).toBe('7.4e.1');
    expect(summit.vendor?.value).toMatch(/Extreme/);
    const third = mustFindMac(devices, '00:04:96:1f:a7:26');
    expect(third.hostname).toBeUndefined();
    expect(third.protocols).toEqual(['lldp']);
  });

  it('zeek__lldp: SMC GS8P smart switch v3.20, mgmt 192.168.2.10', async () => {
    const [smc] = await devicesOf('zeek__lldp.pcap');
    expect(smc!.macs).toContain('00:22:2d:81:db:10');
    expect(smc!.hostname?.value).toBe('SMCGS8P-Smart');
    expect(smc!.ipv4).toEqual(['192.168.2.10']);
    expect(smc!.firmwareVersion?.value).toBe('3.20');
    expect(smc!.vendor?.value).toMatch(/SMC/);
  });

  it('iti__EIP-IPAddressChangeAttempt: CDP from Cisco CE500 "Ns5gt", 12.2(25)SEG4, 192.168.10.253', async () => {
    const ce = mustFindMac(await devicesOf('iti__EIP-IPAddressChangeAttempt.pcap'), '00:1e:f6:73:59:81');
    expect(ce.hostname?.value).toBe('Ns5gt');
    expect(ce.model?.value).toBe('WS-CE500-24TT');
    expect(ce.firmwareVersion?.value).toBe('12.2(25)SEG4');
    expect(ce.ipv4).toContain('192.168.10.253');
  });

  it('profinet mixed: the SCALANCE X208 ports announcing one chassis id are one switch', async () => {
    const devices = await devicesOf('cisagov-icsnpp-profinet-io-cm__profinet_io_cm_mixed_1.pcap');
    const port4 = mustFindMac(devices, '00:0e:8c:ef:75:c9');
    expect(port4.macs).toContain('00:0e:8c:ef:75:cd');
    expect(port4.model?.value ?? '').toMatch(/SCALANCE X 200/);
    expect(port4.category?.value).toBe('network');
  });
});

describe.skipIf(MISSING)('DHCP: clients name themselves, servers bind addresses', () => {
  it('zeek__dhcp: client btest.is.cool (Dell) gets 128.2.6.189 in the ACK', async () => {
    const devices = await devicesOf('zeek__dhcp.pcap');
    const client = mustFindMac(devices, '90:b1:1c:99:49:29');
    expect(client.hostname?.value).toBe('btest.is.cool');
    expect(client.hostname?.evidence[0]).toMatchObject({ protocol: 'dhcp', field: 'option12.hostname' });
    expect(client.ipv4).toContain('128.2.6.189');
    expect(client.vendor?.value).toMatch(/Dell/);
  });

  it('arkime__wireshark-dhcp: Grandstream client gets 192.168.0.10 from 192.168.0.1; no hostname', async () => {
    const devices = await devicesOf('arkime__wireshark-dhcp.pcap');
    const client = mustFindMac(devices, '00:0b:82:01:fc:42');
    expect(client.ipv4).toEqual(['192.168.0.10']);
    expect(client.hostname).toBeUndefined();
    expect(client.vendor?.value).toMatch(/Grandstream/i);
    expect(mustFindMac(devices, '00:08:74:ad:f1:9b').ipv4).toEqual(['192.168.0.1']);
  });

  it.each([
    ['iotsentinel__D-LinkDayCam__Setup-A-1-STA.pcap', 'b0:c5:54:1c:71:85', 'DCS-930LB', '10.10.10.58'],
    ['iotsentinel__Aria__Setup-A-1-STA.pcap', '20:f8:5e:ca:91:52', 'GainSpanca9152', '10.10.10.123'],
    ['iotsentinel__EdnetGateway__Setup-A-1-STA.pcap', 'ac:cf:23:62:3c:6e', 'HF-LPB100', '10.10.10.149'],
    ['iotsentinel__Lightify__Setup-C-1-STA.pcap', '84:18:26:7b:5f:6b', 'Lightify-7B5F6B', '10.10.10.114'],
    ['iotsentinel__MAXGateway__Setup-A-1-STA.pcap', '00:1a:22:03:cb:be', 'KEQ0817541', '10.10.10.129'],
    ['iotsentinel__SmarterCoffee__Setup-A-1-STA.pcap', '5c:cf:7f:07:ae:fb', 'ESP_07AEFB', '10.10.10.146'],
    ['iotsentinel__TP-LinkPlugHS110__Setup-A-1-STA.pcap', '50:c7:bf:00:c7:03', 'HS110(EU)', '10.10.10.20'],
    ['iotsentinel__D-LinkSwitch__Setup-A-1-STA.pcap', '90:8d:78:a9:3d:6f', 'DSP-W215', '10.10.10.176'],
    ['suricata-verify__sip-method__sip.pcap', '00:e0:ed:01:6e:bd', 'd002465', '192.168.1.2'],
    ['ndpi__iphone.pcap', 'c4:61:8b:35:82:a9', 'Lucas-iPhone', '192.168.2.17'],
  ])('%s: %s is "%s" at %s', async (file, mac, hostname, ip) => {
    const d = mustFindMac(await devicesOf(file), mac);
    expect(d.hostname?.value).toBe(hostname);
    expect(d.ipv4).toContain(ip);
    expect(d.protocols).toContain('dhcp');
  });

  it('OT lab: DHCP names ConLgxEIP (Rockwell) and KoyoDL405 (Host Engineering) from the server replies', async () => {
    const devices = await devicesOf('iti__EIP-IPAddressChangeAttempt.pcap');
    const logix = mustFindMac(devices, '00:00:bc:3e:eb:e4');
    expect(logix.hostname?.value).toBe('ConLgxEIP');
    expect(logix.ipv4).toContain('192.168.10.120');
    expect(logix.vendor?.value).toMatch(/Rockwell/);
    const koyo = mustFindMac(devices, '00:e0:62:60:35:d0');
    expect(koyo.hostname?.value).toBe('KoyoDL405');
    expect(koyo.ipv4).toContain('192.168.10.131');
    expect(koyo.category?.value).toBe('ot');
  });

  it('vendor class MSFT 5.0 (DHCPv4 or DHCPv6) means Windows; android-dhcp-9 means Android 9', async () => {
    const laptop = mustFindMac(
      await devicesOf('cisagov-icsnpp-profinet-io-cm__profinet_io_cm_mixed_1.pcap'),
      'e4:11:5b:5a:d9:73',
    );
    expect(laptop.hostname?.value).toBe('LT-US-DSWANSON');
    expect(laptop.os?.value).toBe('Windows');
    expect([laptop.category?.value, laptop.type?.value]).toEqual(['it', 'workstation']);
    const siemens = mustFindMac(
      await devicesOf('cisagov-icsnpp-profinet-io-cm__profinet_io_cm_mixed_1.pcap'),
      '00:0e:8c:ef:75:c5',
    );
    expect(siemens.hostname?.value).toBe('siemens-x208-switch');
    // MANIFEST: Phoenix Contact's Valueline IPC, a Windows industrial PC whose only vendor class is DHCPv6's.
    const ipc = mustFindMac(
      await devicesOf('cisagov-icsnpp-profinet-io-cm__profinet_io_cm_mixed_1.pcap'),
      '00:a0:45:6d:d3:44',
    );
    expect(ipc.os?.value).toBe('Windows');
    expect(ipc.os?.evidence.map((e) => e.field)).toEqual(['option16.vendor_class']);
    const nokia = mustFindMac(await devicesOf('ndpi__android.pcap'), '4c:6a:f6:9f:f6:27');
    expect(nokia.os?.value).toBe('Android 9');
    expect(nokia.ipv4).toContain('192.168.2.16');
    expect([nokia.category?.value, nokia.type?.value]).toEqual(['mobile', 'mobile-phone']);
  });

  it.each([
    // tshark: option 55 1,121,3,6,15,119,252 from Lucas-iPhone; 1,121,3,6,15,119,252,95,44,46 from Lucas-iMac.
    ['ndpi__iphone.pcap', 'c4:61:8b:35:82:a9', 'iOS'],
    ['ndpi__android.pcap', 'd8:30:62:56:00:1c', 'macOS'],
    // 1,3,28,6 and longer lists that begin so: an Espressif ESP8266, an HF-LPB100 Wi-Fi module, a Withings scale.
    ['iotsentinel__SmarterCoffee__Setup-A-1-STA.pcap', '5c:cf:7f:07:ae:fb', 'lwIP (embedded)'],
    ['iotsentinel__EdnetGateway__Setup-A-1-STA.pcap', 'ac:cf:23:62:3c:6e', 'lwIP (embedded)'],
    ['iotsentinel__Withings__Setup-A-1-STA.pcap', '00:24:e4:24:80:2a', 'lwIP (embedded)'],
  ])('no vendor class: the order of the options %s asks for names %s as %s', async (file, mac, os) => {
    const d = mustFindMac(await devicesOf(file), mac);
    expect(d.os?.value).toBe(os);
    expect(d.os?.evidence[0]).toMatchObject({ protocol: 'dhcp', field: 'option55.parameter_request_list' });
  });
});

describe.skipIf(MISSING)('mDNS / DNS-SD', () => {
  it('D-Link DCS-935L: DHCP name, mDNS TXT model_number and version, a camera', async () => {
    const devices = await devicesOf('iotsentinel__D-LinkCam__Setup-A-1-STA.pcap');
    const cam = mustFindMac(devices, 'b0:c5:54:25:5b:0e');
    expect(cam.hostname?.value).toBe('DCS-935L');
    expect(cam.model?.value).toBe('DCS-935L');
    expect(cam.model?.evidence.map((e) => `${e.protocol}:${e.field}`)).toContain('mdns:TXT.model_number');
    // mDNS TXT says version=0106; the HNAP settings answer says 1.06, as D-Link names its releases (hnap.test.ts).
    expect(cam.firmwareVersion?.value).toBe('1.06');
    expect(cam.ipv4).toContain('10.10.10.37');
    expect(cam.protocols).toEqual(expect.arrayContaining(['arp', 'dhcp', 'mdns', 'ssdp']));
    expect(cam.vendor?.value).toMatch(/D-Link/);
    expect([cam.category?.value, cam.type?.value]).toEqual(['iot', 'camera']);
    // The LG phone and the lab gateway are there too; the gateway's cloud peers are not its addresses.
    expect(mustFindMac(devices, 'bc:f5:ac:f4:c0:9d').ipv4).toEqual(['10.10.10.28']);
    expect(mustFindMac(devices, '28:b2:bd:c3:41:79').ipv4).toEqual(['10.10.10.1']);
  });

  it('zeek__mdns: the QEMU VM names itself johanna-QEMU-Virtual-Machine.local with IPv4 and ULA IPv6', async () => {
    const [vm, ...rest] = await devicesOf('zeek__mdns.pcap');
    expect(rest).toHaveLength(0);
    expect(vm!.macs).toEqual(['8a:3c:d6:e1:4d:c4']);
    expect(vm!.hostname?.value).toBe('johanna-QEMU-Virtual-Machine');
    expect(vm!.ipv4).toEqual(['10.0.2.7']);
    expect(vm!.ipv6.some((ip) => ip.startsWith('fd52:'))).toBe(true);
    expect(vm!.vendor).toBeUndefined(); // locally administered MAC: no OUI
  });

  it('anyconnect: the MacBook Pro (TXT model=MacBookPro11,1, osxvers=17) is a laptop', async () => {
    const mac = mustFindMac(await devicesOf('ndpi__anyconnect-vpn.pcap'), '34:36:3b:cf:75:28');
    expect(mac.model?.value).toBe('MacBookPro11,1');
    expect(mac.os?.value).toMatch(/macOS/);
    expect(mac.ipv4).toContain('10.0.0.227');
    expect([mac.category?.value, mac.type?.value]).toEqual(['it', 'laptop']);
  });

  it('wikipedia: gemini.local is the Apple host 141.142.220.50; a printer only queried for is not a device', async () => {
    const devices = await devicesOf('zeek__wikipedia.pcap');
    const gemini = mustFindMac(devices, '00:17:f2:d7:cf:65');
    expect(gemini.hostname?.value).toBe('gemini');
    expect(gemini.ipv4).toEqual(['141.142.220.50']);
    expect(devices.some((d) => /BRWC0CB383D1F42/i.test(d.hostname?.value ?? ''))).toBe(false);
    expect(byMac(devices, 'c0:cb:38:3d:1f:42')).toBeUndefined();
    // ARP-only host
    expect(mustFindMac(devices, '00:1a:a0:ba:f3:5d').ipv4).toEqual(['141.142.220.195']);
  });
});

describe.skipIf(MISSING)('SSDP and NBNS', () => {
  it('anyconnect: the Roku (SSDP Server "Roku UPnP/1.0 Roku/9.1.0") at 10.0.0.151 is a media player', async () => {
    const roku = mustFindMac(await devicesOf('ndpi__anyconnect-vpn.pcap'), 'd8:31:34:20:77:fb');
    expect(roku.ipv4).toContain('10.0.0.151');
    expect(roku.protocols).toContain('ssdp');
    expect(roku.vendor?.value).toMatch(/Roku/);
    expect([roku.category?.value, roku.type?.value]).toEqual(['iot', 'media-player']);
  });

  it('ssdp-m-search-ua: a search names its sender by its USER-AGENT ("Google Chrome/99.0.4844.74 Mac OS X")', async () => {
    const mac = mustFindMac(await devicesOf('ndpi__ssdp-m-search-ua.pcap'), 'f0:2f:4b:09:93:bc');
    expect(mac.ipv4).toEqual(['192.168.242.50']);
    expect(mac.os?.value).toBe('macOS');
    expect(mac.os?.evidence.map((e) => `${e.protocol} ${e.field}`)).toEqual(['ssdp user-agent']);
  });

  it('arkime__nbns: the Windows 98 host registers MDJR98 at 192.168.239.129', async () => {
    const devices = await devicesOf('arkime__nbns.pcap');
    const host = mustFindMac(devices, '00:50:56:33:78:9e');
    expect(host.hostname?.value).toBe('MDJR98');
    expect(host.ipv4).toContain('192.168.239.129');
    // group names (WORKGROUP) and the messenger name are not host names
    expect(devices.every((d) => d.hostname?.value !== 'WORKGROUP')).toBe(true);
  });

  it('profinet mixed: the Phoenix Valueline IPC registers KW-VLIPC at 192.168.1.1', async () => {
    const ipc = mustFindMac(
      await devicesOf('cisagov-icsnpp-profinet-io-cm__profinet_io_cm_mixed_1.pcap'),
      '00:a0:45:6d:d3:44',
    );
    expect(ipc.hostname?.value.toUpperCase()).toBe('KW-VLIPC');
    expect(ipc.ipv4).toContain('192.168.1.1');
  });
});

describe.skipIf(MISSING)('ARP and link layers', () => {
  it('HomeMatic plug: ARP alone gives 10.10.10.89 and the eQ-3 OUI', async () => {
    const plug = mustFindMac(
      await devicesOf('iotsentinel__HomeMaticPlug__Setup-C-1-STA.pcap'),
      '00:1a:22:05:c4:2e',
    );
    expect(plug.ipv4).toContain('10.10.10.89');
    expect(plug.protocols).toContain('arp');
    expect(plug.vendor?.value).toMatch(/eQ-3/i);
  });

  it('Linux SLL2: the one sender with a link address, 8e:36:06:44:ac:af, is 192.0.2.1 by ARP', async () => {
    const devices = await devicesOf('zeek__linux_dlt_sll2.pcap');
    expect(devices.map((d) => d.macs)).toEqual([['8e:36:06:44:ac:af']]);
    expect(devices[0]!.ipv4).toEqual(['192.0.2.1']);
    expect(devices[0]!.protocols).toEqual(['arp']);
  });

  it('BSD NULL loopback: every OPC UA frame parses as IPv4 TCP, and loopback is nobody', async () => {
    const { devices, stats } = await inventory('ndpi__opc-ua.pcap');
    expect(stats.packets).toBe(381);
    expect(stats.malformed).toBe(0);
    expect(stats.unsupportedLink).toBe(0);
    expect(devices).toEqual([]);
  });
});

describe.skipIf(MISSING)('every shared capture through the whole pipeline', () => {
  const all = new Map<string, DeviceRecord[]>();
  beforeAll(async () => {
    for (const e of manifest()) all.set(e.file, (await inventory(e.file)).devices);
  });

  it('never makes a device of a multicast, broadcast or zero MAC', () => {
    expect(all.size).toBeGreaterThanOrEqual(60);
    for (const [file, devices] of all) {
      for (const d of devices) {
        for (const mac of d.macs) {
          const firstOctet = Number.parseInt(mac.slice(0, 2), 16);
          expect((firstOctet & 1) === 0 && mac !== '00:00:00:00:00:00', `${file}: ${mac}`).toBe(true);
        }
      }
    }
  });

  it('produces records an aggregator accepts: a snapshot message passes the contract validator', () => {
    for (const [file, devices] of all) {
      const message: InventoryMessage = {
        schema: MESSAGE_SCHEMA_VERSION,
        sentAt: new Date().toISOString(),
        agentVersion: 'test',
        kind: 'inventory',
        mode: 'snapshot',
        seq: 0,
        runId: 'test',
        devices,
      };
      expect(() => decodeMessage('inventory', encodeMessage(message)), file).not.toThrow();
    }
  });
});
