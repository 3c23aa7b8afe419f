// System descriptions as devices write them (LLDP sysDescr, CDP software
// version, SNMP sysDescr): what parseSystemDescription makes of each.
import { describe, expect, it } from 'vitest';
import { parseSystemDescription } from '../src/decoders/sysdescr.js';

describe('system descriptions', () => {
  it.each([
    // A network OS: its version is the device's firmware.
    [
      'Cisco IOS Software, C2960 Software (C2960-LANBASEK9-M), Version 12.2(50)SE4, RELEASE SOFTWARE (fc1)',
      { os: 'Cisco IOS', firmwareVersion: '12.2(50)SE4' },
    ],
    // Hardware named first, then its firmware.
    [
      'ProCurve J9280A Switch 2510G-48, revision Y.11.16, ROM N.10.02 (/sw/code/build/cod(cod11))',
      { model: 'ProCurve J9280A Switch 2510G-48', firmwareVersion: 'Y.11.16' },
    ],
    ['SMCGS8P-Smart', { model: 'SMCGS8P-Smart' }],
    ['Managed Switch (v2.1)', { model: 'Managed Switch', firmwareVersion: '2.1' }],
    // lldpd's default on a Linux host: the distribution, then `uname -srvm`; the kernel release is no firmware.
    [
      'Debian GNU/Linux 12 (bookworm) Linux 6.1.0-13-amd64 #1 SMP PREEMPT_DYNAMIC Debian 6.1.55-1 (2023-09-29) x86_64',
      { os: 'Linux (Debian)' },
    ],
    [
      'Debian GNU/Linux 12 (bookworm) Linux 6.18.44-fc-v1252 #1 SMP PREEMPT_DYNAMIC @0 x86_64',
      { os: 'Linux (Debian)' },
    ],
    ['Alpine Linux v3.18 Linux 6.1.0-13-lts #1-Alpine SMP PREEMPT_DYNAMIC x86_64', { os: 'Linux' }],
    // Net-SNMP's default sysDescr: `uname -snrvm`.
    ['Linux plc-gw 5.10.0-21-amd64 #1 SMP Debian 5.10.162-1 (2023-01-21) x86_64', { os: 'Linux' }],
    // Windows's SNMP service: the hardware, then the OS; neither is a model or firmware.
    [
      'Hardware: Intel64 Family 6 Model 85 Stepping 4 AT/AT COMPATIBLE - Software: Windows Version 6.3 (Build 17763 Multiprocessor Free)',
      { os: 'Windows' },
    ],
  ])('%s', (description, facts) => {
    expect(parseSystemDescription(description)).toEqual(facts);
  });
});
