// OT identity decoders on real captures: device-by-device facts that
// MANIFEST.md's ground truth (tshark) states about each file.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { type CapturedPacket, readCapture } from '../src/capture/index.js';
import { BACNET_VENDOR_NAMES } from '../src/decoders/vendor-ids/bacnet.js';
import { CIP_VENDOR_NAMES } from '../src/decoders/vendor-ids/cip.js';
import { Pipeline } from '../src/pipeline.js';
import { byId, factsAbout, MISSING, mustFindMac, pcap, run } from './support.js';

const exec = promisify(execFile);
const tshark = await exec('tshark', ['--version']).then(
  () => true,
  () => false,
);

describe.skipIf(MISSING)('EtherNet/IP ListIdentity and CIP identity', () => {
  it('iti__enip_test: 1756-ENBT/A behind a Cisco router MAC is keyed by IP, routed', async () => {
    const { devices, hints } = await run('iti__enip_test.pcap');
    const plc = byId(devices, 'ip:10.1.1.164');
    expect(plc.macs).toEqual([]);
    expect(plc.model?.value).toBe('1756-ENBT/A');
    expect(plc.model?.evidence[0]).toMatchObject({ protocol: 'enip', field: 'list_identity.product_name' });
    expect(plc.manufacturer?.value).toBe('Rockwell Automation/Allen-Bradley');
    expect(plc.firmwareVersion?.value).toBe('4.3');
    expect(plc.serialNumber?.value).toBe('0x00524d8e');
    expect(hints('ip:10.1.1.164', 'productCode')).toEqual(['58']);
    expect(hints('ip:10.1.1.164', 'deviceType')).toEqual(['Communications Adapter']);
    expect(plc.category?.value).toBe('ot');
    // The router's MAC does not own the PLC's address; it forwards for it.
    const router = mustFindMac(devices, '00:19:07:24:3c:ca');
    expect(router.ipv4).not.toContain('10.1.1.164');
    expect(router.type?.value).toBe('router');
  });

  it.skipIf(!tshark)(
    'cisagov enip_cip_example: session roles on 44818 and the CIP I/O producers on UDP 2222, as tshark reads them',
    async () => {
      const { devices, hints } = await run('cisagov-icsnpp-enip__enip_cip_example.pcap');
      const file = pcap('cisagov-icsnpp-enip__enip_cip_example.pcap');
      const fields = async (filter: string, field: string) => {
        const { stdout } = await exec('tshark', ['-r', file, '-Y', filter, '-T', 'fields', '-e', field]);
        return [...new Set(stdout.trim().split('\n'))].sort();
      };
      // Explicit messaging: the listener on 44818 is the target, the other end the originator.
      expect(await fields('enip && tcp.srcport == 44818', 'eth.src')).toEqual([
        '00:00:bc:3e:eb:e4',
        '00:19:07:24:3c:ca',
      ]);
      const target = mustFindMac(devices, '00:00:bc:3e:eb:e4');
      expect(hints(target.id, 'role')).toEqual(['enip:device']);
      expect([target.category?.value, target.type?.value]).toEqual(['ot', 'ot-device']);
      const originator = mustFindMac(devices, '00:1d:09:99:b2:2c');
      expect(hints(originator.id, 'role')).toEqual(['enip:client']);
      expect(originator.type?.value).toBe('hmi');
      // Implicit I/O: every sender tshark reads CIP I/O from is an OT device producing it.
      const producers = await fields('cipio', 'eth.src');
      expect(producers).toEqual(['00:1d:9c:c5:13:dd', '34:c0:f9:fe:65:6b']);
      for (const mac of producers) {
        const d = mustFindMac(devices, mac);
        expect(hints(d.id, 'role'), mac).toEqual(['enip:io']);
        expect([d.category?.value, d.type?.value], mac).toEqual(['ot', 'ot-device']);
      }
    },
  );

  it('cisagov enip_cip_example: the same ListIdentity reply from 10.1.1.164', async () => {
    const { devices } = await run('cisagov-icsnpp-enip__enip_cip_example.pcap');
    const plc = byId(devices, 'ip:10.1.1.164');
    expect([plc.model?.value, plc.serialNumber?.value, plc.firmwareVersion?.value]).toEqual([
      '1756-ENBT/A',
      '0x00524d8e',
      '4.3',
    ]);
  });

  it('iti__EIP-IPAddressChangeAttempt: ConLgxEIP chassis joins its MAC; backplane modules from CIP identity', async () => {
    const { devices, hints } = await run('iti__EIP-IPAddressChangeAttempt.pcap');
    const enbt = mustFindMac(devices, '00:00:bc:3e:eb:e4');
    expect(enbt.hostname?.value).toBe('ConLgxEIP');
    expect(enbt.ipv4).toContain('192.168.10.120');
    expect(enbt.model?.value).toBe('1756-ENBT/A');
    expect(enbt.serialNumber?.value).toBe('0x0051aec3');
    expect(enbt.manufacturer?.value).toBe('Rockwell Automation/Allen-Bradley');
    // tshark: enip.lir.revision = 1031 = 0x0407, major byte 4... shown by tshark -V as major 4 minor 7.
    expect(enbt.firmwareVersion?.value).toBe('4.7');
    expect(enbt.category?.value).toBe('ot');
    const modules = hints(enbt.id, 'module');
    expect(modules).toEqual(
      expect.arrayContaining([
        '1756-ENBT/A (serial 0x0051aec3)',
        '1756-L61/B LOGIX5561 (serial 0x0051823f)',
        'MVI56 ProSoft Technology, Inc. (serial 0x0000ad5e)',
        'MVI56 ProSoft Technology, Inc. (serial 0x0000ad77)',
      ]),
    );
    // The same chassis later answered from 192.168.10.125 (the address change): one device.
    expect(enbt.ipv4).toContain('192.168.10.125');
    expect(devices.find((d) => d.id === 'ip:192.168.10.125')).toBeUndefined();
  });
});

describe.skipIf(MISSING)('Modbus/TCP', () => {
  it('cisagov modbus_example: Read Device Identification objects of the libmodbus server on 127.0.0.1', async () => {
    // Loopback names no site device (see inventory.test), so the decoder's facts are checked directly.
    const { observations, devices } = await run('cisagov-icsnpp-modbus__modbus_example.pcap');
    expect(factsAbout(observations, '127.0.0.1', 'manufacturer')).toEqual(['Zeek Modbus Test']);
    expect(factsAbout(observations, '127.0.0.1', 'productCode')).toEqual(['Protocol Parsing is fun!']);
    expect(factsAbout(observations, '127.0.0.1', 'firmwareVersion')).toEqual(['1.2.3.6']);
    expect(factsAbout(observations, '127.0.0.1', 'role')).toEqual(['modbus:client', 'modbus:server']);
    expect(observations.find((o) => o.name === 'manufacturer')).toMatchObject({
      protocol: 'modbus',
      field: 'mei.vendor_name',
    });
    expect(devices.some((d) => d.ipv4.includes('127.0.0.1'))).toBe(false);
  });

  it('iti__modbus_test: slave 192.168.0.20 (Moxa) answers unit ids 1-3 (and 7); 192.168.0.21 is a master', async () => {
    const { devices, hints } = await run('iti__modbus_test.pcap');
    const slave = mustFindMac(devices, '00:90:e8:4c:83:db');
    expect(slave.ipv4).toEqual(['192.168.0.20']);
    expect(hints(slave.id, 'role')).toEqual(['modbus:server']);
    expect(hints(slave.id, 'unitId')).toEqual(expect.arrayContaining(['1', '2', '3']));
    expect(slave.category?.value).toBe('ot');
    const master = mustFindMac(devices, '20:47:47:87:d4:96');
    expect(master.ipv4).toEqual(['192.168.0.21']);
    expect(hints(master.id, 'role')).toEqual(['modbus:client']);
  });
});

describe('vendor id registries', () => {
  it('hold the published BACnet (ASHRAE) and CIP (ODVA) lists, not a hand-picked few', () => {
    expect(BACNET_VENDOR_NAMES.size).toBeGreaterThan(1400);
    expect(CIP_VENDOR_NAMES.size).toBeGreaterThan(1400);
    expect(BACNET_VENDOR_NAMES.get(24)).toBe('Automated Logic Corporation');
    expect(BACNET_VENDOR_NAMES.has(0)).toBe(false); // ASHRAE: the id test stacks use
    expect(CIP_VENDOR_NAMES.get(1)).toBe('Rockwell Automation/Allen-Bradley');
    for (const name of [...BACNET_VENDOR_NAMES.values(), ...CIP_VENDOR_NAMES.values()])
      expect(name).not.toMatch(/^reserved$/i);
  });
});

describe.skipIf(MISSING)('BACnet/IP', () => {
  it.skipIf(!tshark)(
    'cisagov bacnet_example: each device names the manufacturer tshark names for its I-Am vendor id',
    async () => {
      const { devices } = await run('cisagov-icsnpp-bacnet__bacnet_example.pcap');
      const { stdout } = await exec(
        'tshark',
        [
          '-r',
          pcap('cisagov-icsnpp-bacnet__bacnet_example.pcap'),
          '-Y',
          'bacapp.vendor_identifier',
          '-T',
          'pdml',
        ],
        { maxBuffer: 64 * 1024 * 1024 },
      );
      // Per packet: the IP source, then "Vendor Identifier: <name> (<id>)".
      const expected = new Map<string, string>();
      let ip = '';
      for (const m of stdout.matchAll(
        /name="ip\.src"[^>]*show="([^"]+)"|name="bacapp\.vendor_identifier" showname="[^:]+: (.+) \(\d+\)"/g,
      )) {
        if (m[1]) ip = m[1];
        else if (m[2] && ip) expected.set(ip, m[2].replace(/&amp;/g, '&'));
      }
      expect(expected.size).toBe(30);
      for (const [address, name] of expected) {
        const device = byId(devices, `ip:${address}`);
        // Wireshark appends former names ("Siemens Schweiz AG (Formerly: Cerberus AG)"); the registry's entry has none.
        expect(device.manufacturer?.value, address).toBe(name.replace(/ \(Formerly: [^)]*\)$/, ''));
      }
    },
  );

  const truth: [string, string, string, string, string, string, string, string][] = [
    ['172.20.32.100', '416', '138', 'PLC_93', 'GHU-026', '5.6.1', '1.8.5', 'bay_3257'],
    ['172.20.32.101', '276', '167', 'PLC_2', 'HVY-869', '0.0.7', '1.8.5', 'bay_1945'],
    ['172.20.32.110', '136', '134', 'PLC_15', 'TNX-397', '3.3.6', '3.3.7', 'bay_7555'],
    ['172.20.32.117', '663', '221', 'PLC_28', 'TEI-757', '4.8.2', '5.8.2', 'bay_3015'],
    ['172.20.32.129', '788', '116', 'PLC_66', 'WLK-428', '2.0.0', '2.8.4', 'bay_6414'],
  ];

  it('cisagov bacnet_example: 30 BACnet devices, 8 sensors and 2 clients behind one MAC, one device per IP', async () => {
    const { devices, hints } = await run('cisagov-icsnpp-bacnet__bacnet_example.pcap');
    const bacnet = devices.filter((d) => d.id.startsWith('ip:172.20.32.') && d.protocols.includes('bacnet'));
    expect(bacnet).toHaveLength(40);
    // tshark: .200 sends ReadProperty (service 12) and .250 SubscribeCOV (20); neither answers as a device.
    for (const ip of ['172.20.32.200', '172.20.32.250']) {
      const client = byId(devices, `ip:${ip}`);
      expect(hints(client.id, 'role')).toEqual(['bacnet:client']);
      expect([client.category?.value, client.type?.value]).toEqual(['bms', 'bms-workstation']);
    }
    const withInstance = bacnet.filter((d) => hints(d.id, 'deviceInstance').length === 1);
    expect(withInstance).toHaveLength(30);
    for (const [ip, instance, vendor, name, model, firmware, app, location] of truth) {
      const d = byId(devices, `ip:${ip}`);
      expect(hints(d.id, 'deviceInstance')).toEqual([instance]);
      expect(hints(d.id, 'vendorId')).toEqual([vendor]);
      expect(d.hostname?.value).toBe(name);
      expect(d.model?.value).toBe(model);
      expect(d.firmwareVersion?.value).toBe(firmware);
      expect(hints(d.id, 'softwareVersion')).toEqual([app]);
      expect(hints(d.id, 'location')).toEqual([location]);
      expect([d.category?.value, d.type?.value]).toEqual(['bms', 'building-controller']);
    }
    for (let i = 50; i <= 57; i++) expect(byId(devices, `ip:172.20.32.${i}`).protocols).toEqual(['bacnet']);
    // The shared MAC does not absorb the 38 device addresses.
    const host = mustFindMac(devices, 'd4:6a:6a:56:98:17');
    expect(host.ipv4.filter((ip) => /^172\.20\.32\.(1[0-2]\d|5\d)$/.test(ip))).toEqual([]);
  });

  it('arkime bacnet-stack-services: I-Am device 61 (vendor 42) from 192.168.0.5, device 123 (vendor 0) from .13', async () => {
    const { devices, hints } = await run('arkime__bacnet-stack-services.pcap');
    // tshark: the I-Am of device 61 carries SNET/SADR: it sits on a BACnet network behind 192.168.0.5.
    const router = mustFindMac(devices, '00:60:2d:00:15:d5');
    expect(router.ipv4).toEqual(['192.168.0.5']);
    expect(hints(router.id, 'role')).toContain('bacnet:router');
    expect(
      hints(router.id, 'module').some((m) => /^BACnet device 61 vendor 42 on network \d+$/.test(m)),
    ).toBe(true);
    const d123 = devices.find((d) => d.ipv4.includes('192.168.0.13'))!;
    expect(hints(d123.id, 'deviceInstance')).toEqual(['123']);
    expect(hints(d123.id, 'vendorId')).toEqual(['0']);
  });
});

describe.skipIf(MISSING)('PROFINET DCP', () => {
  it('iti__ChangeIPUsingDCP: SCALANCE X208 "X208-BORD", Siemens 0x002a/0x0a01, IP set .10 -> .6', async () => {
    const { devices, hints } = await run('iti__ChangeIPUsingDCP.pcap');
    const x208 = mustFindMac(devices, '08:00:06:93:cf:32');
    expect(hints(x208.id, 'stationName')).toEqual(['X208-BORD']);
    expect(x208.hostname?.value).toBe('X208-BORD');
    expect(x208.model?.value).toBe('INC');
    expect(hints(x208.id, 'vendorId')).toEqual(['0x002a']);
    expect(hints(x208.id, 'productCode')).toEqual(['0x0a01']);
    expect(x208.manufacturer?.value).toBe('Siemens');
    expect(x208.ipv4).toEqual(expect.arrayContaining(['192.168.0.10', '192.168.0.6']));
  });

  it('iti__profinet-wireshark-bug: the malformed NameOfStation is kept as text, the rest still decodes', async () => {
    const { devices, hints, pipeline } = await run('iti__profinet-wireshark-bug.pcap');
    const cp = mustFindMac(devices, '00:02:e3:17:c7:50');
    expect(cp.hostname?.value).toBe('%n%n%n');
    expect(cp.model?.value).toBe('S7-300EC');
    expect(hints(cp.id, 'vendorId')).toEqual(['0x002a']);
    expect(hints(cp.id, 'productCode')).toEqual(['0x0101']);
    expect(cp.ipv4).toEqual(['192.168.0.11']);
    expect(pipeline.stats.decoded.profinet).toBeGreaterThan(0);
  });

  it('profinet_io_cm_mixed_1: versamax-pns11, IC200PNS001, VendorID 0x015a DeviceID 0x0003, IO-Device, 192.168.1.2', async () => {
    const { devices, hints } = await run('cisagov-icsnpp-profinet-io-cm__profinet_io_cm_mixed_1.pcap');
    const pns = mustFindMac(devices, '00:09:91:43:e0:67');
    expect(pns.hostname?.value).toBe('versamax-pns11');
    expect(pns.model?.value).toBe('IC200PNS001');
    expect(hints(pns.id, 'vendorId')).toEqual(['0x015a']);
    expect(hints(pns.id, 'productCode')).toEqual(['0x0003']);
    expect(hints(pns.id, 'role')).toEqual(['profinet:io-device']);
    expect(pns.ipv4).toContain('192.168.1.2');
    expect(pns.category?.value).toBe('ot');
    // The requested-but-absent stations ("turck", "flm-pn-bk-2tx4") are not named from Identify requests.
    expect(devices.some((d) => /turck|flm-pn/.test(d.hostname?.value ?? ''))).toBe(false);
  });
});

describe.skipIf(MISSING)('S7comm SZL identity', () => {
  it('iti__s7comm_reading_plc_status: ET200S IM151-8 PN/DP CPU, serial S C-C6TW74882012', async () => {
    const { devices, hints } = await run('iti__s7comm_reading_plc_status.pcap');
    const cpu = mustFindMac(devices, '00:1b:1b:23:eb:3b');
    expect(cpu.ipv4).toEqual(['192.168.1.40']);
    expect(cpu.model?.value).toBe('IM151-8 PN/DP CPU');
    expect(cpu.serialNumber?.value).toBe('S C-C6TW74882012');
    expect(hints(cpu.id, 'stationName')).toEqual(['IM151-8-CPU']);
    expect(cpu.manufacturer?.value).toBe('Siemens');
    expect([cpu.category?.value, cpu.type?.value]).toEqual(['ot', 'plc']);
    // The client that read them (MANIFEST: "HMI/PG"): an S7 client, classified in classify.test.ts.
    const client = mustFindMac(devices, '90:e6:ba:84:5e:41');
    expect(client.ipv4).toEqual(['192.168.1.10']);
    expect(client.protocols).toContain('s7comm');
  });

  it('iti__tia_s300_goOnline: S7-300 "PLC_1", CPU 315-2 PN/DP, station S7300/ET200M station_1', async () => {
    const { devices, hints } = await run('iti__tia_s300_goOnline.pcapng');
    const plc = mustFindMac(devices, '00:0e:8c:d0:f9:cb');
    expect(plc.ipv4).toEqual(['134.217.61.211']);
    expect(plc.hostname?.value).toBe('PLC_1');
    expect(plc.model?.value).toBe('CPU 315-2 PN/DP');
    expect(plc.serialNumber?.value).toBe('S C-B1U393142011');
    expect(hints(plc.id, 'stationName')).toEqual(['S7300/ET200M station_1']);
    expect(plc.type?.value).toBe('plc');
  });
});

describe.skipIf(MISSING)('DNP3', () => {
  it('zeek__dnp3: link addresses and roles from the DIR bit, keyed per IP (two outstation IPs share one MAC)', async () => {
    const { devices, hints } = await run('zeek__dnp3.pcap');
    // tshark: 10.0.0.3 sends from link address 4 with DIR clear (from an outstation; it also sends
    // unsolicited responses, FC 0x82, from TCP port 20000); 10.0.0.8/.9 send from address 3 with DIR set.
    const a = devices.find((d) => d.ipv4.includes('10.0.0.3'))!;
    expect(hints(a.id, 'linkAddress')).toContain('4');
    expect(hints(a.id, 'role')).toEqual(['dnp3:outstation']);
    for (const ip of ['10.0.0.8', '10.0.0.9']) {
      const d = byId(devices, `ip:${ip}`);
      expect(hints(d.id, 'linkAddress')).toEqual(['3']);
      expect(hints(d.id, 'role')).toEqual(['dnp3:master']);
    }
  });
});

describe.skipIf(MISSING)('IEC 60870-5-104', () => {
  it.skipIf(!tshark)(
    'ndpi__IEC104: the stations listening on 2404 behind a Cisco router are RTUs keyed by IP; their peer is the SCADA side',
    async () => {
      const { devices, hints } = await run('ndpi__IEC104.pcap');
      // tshark: which addresses send IEC 104 APDUs from port 2404 (controlled stations) and to it.
      const { stdout } = await exec('tshark', [
        '-r',
        pcap('ndpi__IEC104.pcap'),
        '-Y',
        'iec60870_104',
        '-T',
        'fields',
        '-e',
        'ip.src',
        '-e',
        'ip.dst',
        '-e',
        'tcp.srcport',
      ]);
      const rows = stdout
        .trim()
        .split('\n')
        .map((l) => l.split('\t'));
      const controlled = [...new Set(rows.filter((r) => r[2] === '2404').map((r) => r[0]!))].sort();
      const controlling = [...new Set(rows.filter((r) => r[2] === '2404').map((r) => r[1]!))];
      expect(controlled).toEqual(['10.175.211.1', '10.175.211.3']);
      for (const ip of controlled) {
        const rtu = byId(devices, `ip:${ip}`);
        expect(rtu.macs).toEqual([]); // TTL 125: they sit behind the router, whose MAC is not theirs
        expect(hints(rtu.id, 'role')).toEqual(['iec104:controlled-station']);
        expect([rtu.category?.value, rtu.type?.value]).toEqual(['ot', 'rtu']);
        expect(rtu.protocols).toEqual(['iec104']);
      }
      const router = mustFindMac(devices, '00:12:00:c6:4a:c0');
      expect(router.ipv4).toEqual([]);
      expect(router.type?.value).toBe('router');
      // The SCADA front end only acknowledges at the TCP level here: its role comes from its peers' APDUs.
      expect(controlling).toEqual(['10.119.105.26']);
      const scada = mustFindMac(devices, '78:2b:cb:2b:b9:56');
      expect(scada.ipv4).toEqual(['10.119.105.26']);
      expect(hints(scada.id, 'role')).toEqual(['iec104:controlling-station']);
      expect(scada.type?.value).toBe('scada-server');
    },
  );

  it('iti__090813_diverse: one host runs both stations over its loopback adapter; I, S and U frames all decode', async () => {
    const { devices, hints, pipeline } = await run('iti__090813_diverse.pcap');
    const host = mustFindMac(devices, '02:00:4c:4f:4f:50');
    expect(hints(host.id, 'role')).toEqual(['iec104:controlled-station', 'iec104:controlling-station']);
    expect(host.protocols).toContain('iec104');
    expect(pipeline.stats.decodeErrors.iec104).toBe(0);
    if (tshark) {
      // Every segment tshark reads as IEC 104 was decoded.
      const { stdout } = await exec('tshark', ['-r', pcap('iti__090813_diverse.pcap'), '-Y', 'iec60870_104']);
      expect(pipeline.stats.decoded.iec104).toBe(stdout.trim().split('\n').length);
    }
  });

  it('counts a segment on 2404 that is not IEC 104 as malformed, and keeps going', async () => {
    const packets: CapturedPacket[] = [];
    for await (const p of readCapture(pcap('ndpi__IEC104.pcap')))
      packets.push({ ...p, data: Buffer.from(p.data) });
    // Frame 3 is an S frame (68 04 01 00 xx xx) from 10.175.211.1; make its control octet a U function that does not exist.
    const s = packets[2]!;
    const at = s.data.indexOf(Buffer.from([0x68, 0x04, 0x01, 0x00]));
    expect(at).toBeGreaterThan(0);
    s.data[at + 2] = 0x33;
    const pipeline = new Pipeline({ skipRepeats: false });
    for (const p of packets) pipeline.process(p);
    expect(pipeline.stats.decodeErrors.iec104).toBe(1);
    expect(pipeline.stats.malformed).toBe(1);
    expect(pipeline.store.toRecords().some((d) => d.id === 'ip:10.175.211.1')).toBe(true);
  });
});

describe.skipIf(MISSING)('OPC UA', () => {
  it('ndpi__opc-ua: open62541 server on localhost, ApplicationUri/ProductUri/EndpointUrl', async () => {
    const { observations } = await run('ndpi__opc-ua.pcap');
    const about = (name: string) => factsAbout(observations, '127.0.0.1', name);
    expect(about('applicationUri')).toEqual(['urn:open62541.server.application']);
    expect(about('productUri')).toEqual(['http://open62541.org']);
    expect(about('endpointUrl')).toContain('opc.tcp://localhost:4840');
    expect(about('model')).toEqual(['open62541-based OPC UA Application']);
    expect(about('role')).toEqual(['opcua:client', 'opcua:server']);
  });

  it('open62541 discover_urls: the local discovery server answers FindServers describing itself first', async () => {
    // tshark: the FindServers response (service 425) lists the LDS itself, then the registered server.
    const { observations } = await run(
      'cisagov-icsnpp-opcua-binary__open62541_discover_getendpoints_discover_urls.pcap',
    );
    const about = (name: string) => factsAbout(observations, '127.0.0.1', name);
    expect(about('applicationUri')).toEqual(['urn:open62541.example.local_discovery_server']);
    expect(about('productUri')).toEqual(['http://open62541.org']);
  });
});
