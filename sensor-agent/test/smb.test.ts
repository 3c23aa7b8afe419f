// SMB session setup and NTLMSSP (src/decoders/smb.ts, ntlmssp.ts): Windows
// hosts name their OS and themselves while authenticating. Facts from tshark
// on iti__EIP-IPAddressChangeAttempt.pcap (a 2008 OT/IT lab): three Windows
// Server 2003 R2 VMs (NTLMSSP AUTHENTICATE host names WIN2K3LAB021/022/024,
// version 5.2 build 3790, SMB native OS "Windows Server 2003 R2 3790 Service
// Pack 2") log on to 192.168.10.105 (CHALLENGE version 5.1 build 2600, target
// info DNS computer name DBLicenseServer, native OS "Windows 5.1").
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { windowsRelease } from '../src/decoders/ntlmssp.js';
import { parseMac } from '../src/packet/addresses.js';
import {
  inventoryOf,
  loadPackets,
  tcpPayloadOffset,
  tsharkAvailable,
  tsharkFields,
  withTcpPayload,
  writePcap,
} from './reframe.js';
import { MISSING, mustFindMac, run } from './support.js';

const FILE = 'iti__EIP-IPAddressChangeAttempt.pcap';
const tmp = mkdtempSync(join(tmpdir(), 'hark-smb-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Frame `number` of the capture (1-based, as tshark counts), an SMB1 session setup, and where its words start. */
async function sessionSetup(number: number) {
  const original = (await loadPackets(FILE))[number - 1]!;
  const f = original.data;
  const smb1 = tcpPayloadOffset(f) + 4;
  expect(f.toString('latin1', smb1, smb1 + 4)).toBe('\xffSMB');
  return { original, f, words: smb1 + 33 };
}

describe.skipIf(MISSING)('SMB1 session setup with NTLMSSP, on the real capture', () => {
  it('names the clients by their workstation names and OS, the server by its computer name and version', async () => {
    const { devices, observations } = await run(FILE);
    for (const [mac, name] of [
      ['00:0c:29:19:9e:8e', 'WIN2K3LAB021'],
      ['00:0c:29:e8:32:7a', 'WIN2K3LAB022'],
      ['00:0c:29:f7:85:99', 'WIN2K3LAB024'],
    ] as const) {
      const d = mustFindMac(devices, mac);
      expect(d.hostname?.value).toBe(name);
      expect(d.os?.value).toBe('Windows Server 2003 R2 3790 Service Pack 2');
      expect(d.type?.value).toBe('server');
      expect(d.protocols).toContain('smb');
    }
    const server = mustFindMac(devices, '00:1d:09:99:b2:2c');
    expect(server.os?.value).toBe('Windows XP (build 2600)');
    const said = (mac: string, name: string) => [
      ...new Set(
        observations
          .filter((o) => o.protocol === 'smb' && o.name === name && o.mac === parseMac(mac))
          .map((o) => `${o.field}=${o.value}`),
      ),
    ];
    expect(said('00:1d:09:99:b2:2c', 'hostname')).toContain(
      'ntlmssp.challenge.dns_computer_name=DBLicenseServer',
    );
    expect(said('00:0c:29:e8:32:7a', 'os')).toContain(
      'ntlmssp.negotiate.version=Windows Server 2003 (build 3790)',
    );
    expect(said('00:0c:29:e8:32:7a', 'hostname')).toEqual(['ntlmssp.authenticate.workstation=WIN2K3LAB022']);
  });
});

describe('Windows releases by version number', () => {
  it('names the release, and says so where a build is desktop and server alike', () => {
    expect(windowsRelease(5, 1, 2600)).toBe('Windows XP (build 2600)');
    expect(windowsRelease(6, 1, 7601)).toBe('Windows 7 / Server 2008 R2 (build 7601)');
    expect(windowsRelease(10, 0, 19045)).toBe('Windows 10 (build 19045)');
    expect(windowsRelease(10, 0, 20348)).toBe('Windows Server 2022 (build 20348)');
    expect(windowsRelease(10, 0, 22631)).toBe('Windows 11 (build 22631)');
    expect(windowsRelease(10, 0, 17763)).toBe('Windows 10 / Server 2019 (build 17763)');
    expect(windowsRelease(5, 1)).toBe('Windows XP');
  });
});

describe.skipIf(MISSING)(
  'SMB2 session setup (the corpus has none: the real CHALLENGE token carried in SMB2)',
  () => {
    it('reads the same identity from an SMB2 SESSION_SETUP response as tshark does', async () => {
      // Frame 382: 192.168.10.105's SMB1 Session Setup AndX response carrying the NTLMSSP CHALLENGE.
      const { original, f, words } = await sessionSetup(382);
      const blobLength = f.readUInt16LE(words + 6);
      const blob = f.subarray(words + 8 + 2, words + 8 + 2 + blobLength); // WC 4 words, then ByteCount
      expect(blob.indexOf('NTLMSSP')).toBe(0); // Windows XP sends the raw token, no SPNEGO around it

      // MS-SMB2 §2.2.1.2 header (response, SESSION_SETUP, STATUS_MORE_PROCESSING_REQUIRED), §2.2.6 body.
      const header = Buffer.alloc(64);
      header.write('\xfeSMB', 0, 'latin1');
      header.writeUInt16LE(64, 4);
      header.writeUInt32LE(0xc0000016, 8);
      header.writeUInt16LE(0x0001, 12);
      header.writeUInt16LE(1, 14);
      header.writeUInt32LE(0x00000001, 16);
      header.writeBigUInt64LE(2n, 24);
      header.writeBigUInt64LE(0x1000000000041n, 40);
      const body = Buffer.alloc(8);
      body.writeUInt16LE(9, 0);
      body.writeUInt16LE(64 + 8, 4);
      body.writeUInt16LE(blob.length, 6);
      const smb2 = Buffer.concat([header, body, blob]);
      const nbss = Buffer.alloc(4);
      nbss.writeUInt32BE(smb2.length);
      const frame = withTcpPayload(f, Buffer.concat([nbss, smb2]));

      const { devices } = inventoryOf([{ ...original, data: frame }]);
      const server = mustFindMac(devices, '00:1d:09:99:b2:2c');
      expect(server.os?.value).toBe('Windows XP (build 2600)');
      expect(server.hostname?.value).toBe('DBLicenseServer');
      expect(server.protocols).toEqual(['smb']);

      if (!tsharkAvailable()) return;
      const file = join(tmp, 'smb2.pcap');
      writePcap(file, [{ ...original, data: frame }]);
      const [[cmd, build, challenge] = []] = tsharkFields(file, [
        'smb2.cmd',
        'ntlmssp.version.build_number',
        'ntlmssp.ntlmserverchallenge',
      ]);
      expect(cmd).toBe('1');
      expect(build).toBe('2600');
      expect(challenge).toMatch(/^[0-9a-f]{16}$/);
    });
  },
);

describe.skipIf(MISSING)(
  'HTTP NTLM authentication (RFC 4559): the real AUTHENTICATE token in an Authorization header',
  () => {
    it('names the client and its Windows version, as tshark reads them', async () => {
      // Frame 383: WIN2K3LAB022's SMB1 Session Setup AndX request carrying its NTLMSSP AUTHENTICATE.
      const { original, f, words } = await sessionSetup(383);
      const blobStart = words + 24 + 2; // WC 12 words, then ByteCount
      const blob = f.subarray(blobStart, blobStart + f.readUInt16LE(words + 14));
      const token = blob.subarray(blob.indexOf('NTLMSSP'));
      const request = Buffer.from(
        `GET /reports/ HTTP/1.1\r\nHost: 192.168.10.105\r\nAuthorization: NTLM ${token.toString('base64')}\r\nUser-Agent: Mozilla/4.0 (compatible; MSIE 7.0; Windows NT 5.2)\r\n\r\n`,
        'latin1',
      );
      const frame = withTcpPayload(f, request, 80);

      const { devices } = inventoryOf([{ ...original, data: frame }]);
      const client = mustFindMac(devices, '00:0c:29:e8:32:7a');
      expect(client.hostname?.value).toBe('WIN2K3LAB022');
      expect(client.hostname?.evidence[0]?.field).toBe('ntlmssp.authenticate.workstation');
      expect(client.os?.value).toBe('Windows Server 2003 (build 3790)');
      expect(client.protocols).toEqual(['http']);

      if (!tsharkAvailable()) return;
      const file = join(tmp, 'http-ntlm.pcap');
      writePcap(file, [{ ...original, data: frame }]);
      const [fields] = tsharkFields(file, [
        'http.request.method',
        'ntlmssp.auth.hostname',
        'ntlmssp.version.build_number',
      ]);
      expect(fields).toEqual(['GET', 'WIN2K3LAB022', '3790']);
    });
  },
);
