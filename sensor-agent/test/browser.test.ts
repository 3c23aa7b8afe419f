// The Windows browser protocol (src/decoders/browser.ts) on the real
// captures. Facts from tshark (browser.server, browser.os_major/minor,
// browser.server_type) on each file.
import { describe, expect, it } from 'vitest';
import { MISSING, mustFindMac, run } from './support.js';

describe.skipIf(MISSING)('Windows browser host announcements', () => {
  const cases: [file: string, mac: string, name: string, os: string, type: string][] = [
    // 10.0, type 0x00001003 (workstation, server, NT)
    ['ndpi__gnutella.pcap', '08:00:27:e6:e5:59', 'MSEDGEWIN10', 'Windows 10/11', 'workstation'],
    // 5.2, type 0x00829003 (... NT, server NT, backup browser, DFS)
    ['iti__EIP-IPAddressChangeAttempt.pcap', '00:0c:29:e8:32:7a', 'WIN2K3LAB022', '', 'server'],
    // 5.0 and 5.1, type 0x00001003; D002465 also names itself "d002465" in DHCP option 12, the surer spelling
    ['suricata-verify__sip-method__sip.pcap', '00:e0:ed:01:6e:bd', 'd002465', 'Windows 2000', 'workstation'],
    ['suricata-verify__sip-method__sip.pcap', '00:60:97:0f:ee:72', 'LAB111', 'Windows XP', 'workstation'],
    // 4.0, type 0x00402003 (workstation, server, WfW, Windows 9x)
    ['arkime__nbns.pcap', '00:50:56:33:78:9e', 'MDJR98', 'Windows 95/98/Me', 'workstation'],
    // a local master announcement: 5.1, type 0x00051003 (master browser)
    // It also masters an IEC 104 station (classify.test.ts): the SCADA role says more than the OS.
    ['iti__090813_diverse.pcap', '02:00:4c:4f:4f:50', 'EVON', 'Windows XP', 'scada-server'],
  ];

  it.each(cases)('%s: %s announces itself as %s', async (file, mac, name, os, type) => {
    const { devices, observations } = await run(file);
    const d = mustFindMac(devices, mac);
    expect(d.hostname?.value).toBe(name);
    expect(d.protocols).toContain('browser');
    expect(d.type?.value).toBe(type);
    const announced = observations
      .filter((o) => o.protocol === 'browser' && o.name === 'os')
      .map((o) => o.value);
    // WIN2K3LAB022's SMB session setup names its service pack, which outranks the browser's "Windows Server 2003".
    if (os) expect(d.os?.value).toBe(os);
    else expect(announced).toContain('Windows Server 2003');
  });

  it('a Windows 7 desktop announcing SQL Server (type 0x00011007) keeps that role as evidence', async () => {
    // A desktop OS running SQL Server (NVR9: a video recorder's database, likely): the OS and the PC maker's
    // NetBIOS name outweigh the role, which stays in the type's runner-up evidence and the hints.
    const { devices, hints } = await run('ndpi__netbios.pcap');
    for (const mac of ['00:30:48:b0:b1:94', '00:30:48:b0:b1:a6']) {
      const d = mustFindMac(devices, mac);
      expect(d.os?.value).toBe('Windows 7'); // 6.1 without the server-edition bit
      expect(hints(d.id, 'role')).toContain('windows:sql-server');
      expect([d.category?.value, d.type?.value]).toEqual(['it', 'workstation']);
    }
  });

  it('a domain announcement names a workgroup, not a host', async () => {
    // 169.254.216.43 announces the domain AMERICAS (opcode 0x0c) and nothing else on 138.
    const { observations } = await run('cisagov-icsnpp-profinet-io-cm__profinet_io_cm_mixed_1.pcap');
    expect(observations.filter((o) => o.protocol === 'browser')).toEqual([]);
  });
});
