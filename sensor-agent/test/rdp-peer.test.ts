// RDP from a real server: xrdp, in a network namespace, with a certificate
// issued as Windows issues its own (CN = the machine's FQDN), answers a
// client from this side that does what mstsc does first: the X.224
// Connection Request with an RDP Negotiation Request for TLS
// (MS-RDPBCGR 2.2.1.1), then, on the server's Confirm, the TLS handshake on
// the same connection (Python's ssl: OpenSSL). tcpdump records it; the
// agent's inventory is checked against the certificate the server was given
// and tshark's reading of the negotiation.
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { DeviceRecord } from '@hark/contracts/inventory';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commandWorks, VethNamespace } from '../../test/support/netns.js';
import { waitFor } from '../../test/support/processes.js';
import { buildInventory, type InventoryResult } from '../src/pipeline.js';
import { peerAvailable, recording, spawnInside, tsharkFields } from './peers.js';

const XRDP = '/usr/sbin/xrdp';
const canRun = peerAvailable(
  'RDP peer test skipped: needs root, iproute2, tcpdump, tshark, openssl, python3 and xrdp (apt-get install xrdp)',
  commandWorks(XRDP, ['--version']),
  commandWorks('openssl', ['version']),
  commandWorks('python3', ['--version']),
);

const CLIENT_IP = '10.98.1.1';
const SERVER_IP = '10.98.1.2';
const FQDN = 'ENG-WS-04.plant.example.com';

const CLIENT = `
import socket, ssl, struct, sys
cookie = b"Cookie: mstshash=operator\\r\\n"
negotiation = struct.pack("<BBHI", 0x01, 0x00, 8, 0x00000001)  # RDP_NEG_REQ, PROTOCOL_SSL
x224 = bytes([len(cookie) + len(negotiation) + 6, 0xE0, 0, 0, 0, 0, 0]) + cookie + negotiation
s = socket.create_connection((sys.argv[1], 3389), timeout=5)
s.sendall(struct.pack(">BBH", 3, 0, 4 + len(x224)) + x224)
confirm = s.recv(1024)
if len(confirm) < 19 or confirm[5] != 0xD0 or confirm[11] != 0x02: sys.exit("no RDP negotiation response")
context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
context.check_hostname = False
context.verify_mode = ssl.CERT_NONE
context.wrap_socket(s).close()
`;
const run = promisify(execFile);

describe.skipIf(!canRun)('RDP from xrdp, a real server', () => {
  let netns: VethNamespace;
  let dir: string;
  let capture: string;
  let result: InventoryResult;
  let server: DeviceRecord;
  let client: DeviceRecord;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hark-rdp-'));
    capture = join(dir, 'rdp.pcap');
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '2',
        '-subj',
        `/CN=${FQDN}`,
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
      ],
      { stdio: 'ignore' },
    );
    // Debian's xrdp.ini, listening on the namespace's address with this certificate; TLS 1.2, whose
    // certificate travels in clear (TLS 1.3 encrypts it).
    const ini = readFileSync('/etc/xrdp/xrdp.ini', 'utf8')
      .replace(/^port=3389$/m, `port=tcp://${SERVER_IP}:3389`)
      .replace(/^certificate=.*$/m, `certificate=${join(dir, 'cert.pem')}`)
      .replace(/^key_file=.*$/m, `key_file=${join(dir, 'key.pem')}`)
      .replace(/^ssl_protocols=.*$/m, 'ssl_protocols=TLSv1.2');
    writeFileSync(join(dir, 'xrdp.ini'), ini);
    writeFileSync(join(dir, 'client.py'), CLIENT);
    netns = VethNamespace.create('hkr');
    netns.address(CLIENT_IP, SERVER_IP);
    netns.exec(['ip', 'link', 'set', 'lo', 'up']);
    // Its pid file and socket directory on a /run of its own.
    const xrdp = spawnInside(netns, dir, 'unshare', [
      '--mount',
      'sh',
      '-c',
      'mount -t tmpfs tmpfs /run && mkdir -p /run/xrdp/sockdir && exec "$@"',
      'sh',
      XRDP,
      '--nodaemon',
      '--config',
      join(dir, 'xrdp.ini'),
    ]);
    try {
      await recording(netns, capture, 'tcp port 3389', () =>
        waitFor(
          'the client to negotiate TLS with xrdp',
          async () => Boolean(await run('python3', [join(dir, 'client.py'), SERVER_IP], { timeout: 10_000 })),
          { timeoutMs: 20_000, intervalMs: 500 },
        ),
      );
    } finally {
      await xrdp.stop();
    }
    result = await buildInventory(capture);
    server = result.devices.find((d) => d.macs.includes(netns.macs().far))!;
    client = result.devices.find((d) => d.macs.includes(netns.macs().near))!;
  }, 60_000);

  afterAll(() => {
    netns?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it('reads the negotiation and the TLS that follows, and finds nothing malformed', () => {
    expect(tsharkFields(capture, 'rdp.neg_type == 0x02', 'rdp.negReq.selectedProtocol')).toEqual([
      '0x00000001',
    ]);
    expect(result.stats.malformed).toBe(0);
    expect(server.protocols).toEqual(['rdp', 'tls']);
    expect(client.protocols).toEqual(['rdp', 'tls']);
  });

  it("names the server by its certificate's subject, as Windows names its own", () => {
    expect(server.hostname?.value).toBe(FQDN);
    expect(server.hostname?.evidence.map((e) => e.field)).toEqual(['certificate.subject.cn']);
    expect(client.hostname).toBeUndefined();
  });
});
