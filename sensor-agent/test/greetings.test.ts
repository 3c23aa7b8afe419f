// Server greetings of FTP, SMTP, POP3 and IMAP (src/decoders/greetings.ts).
// The corpus has one: a 2005 ProFTPD greeting from a public server, behind
// the site's router. Its real frame, moved onto the local segment (a private
// source, an initial TTL), carries the other greetings too: the products'
// own wording, each checked with tshark's dissectors.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { CapturedPacket } from '../src/capture/index.js';
import { Pipeline } from '../src/pipeline.js';
import { ip4 } from '../src/simulate/encoders.js';
import {
  inventoryOf,
  loadPackets,
  tsharkAvailable,
  tsharkFields,
  withTcpPayload,
  writePcap,
} from './reframe.js';
import { MISSING, mustFindMac, RecordingStore, run } from './support.js';

const SIP = 'suricata-verify__sip-method__sip.pcap';
const tmp = mkdtempSync(join(tmpdir(), 'hark-greetings-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** The real FTP greeting's frame (frame 47: 147.234.1.253:21 via the router 00:30:54:00:34:56, TTL 57). */
async function ftpGreetingFrame(): Promise<CapturedPacket> {
  const packets = await loadPackets(SIP);
  return packets.find((p) => p.data.includes('220 ProFTPD Server'))!;
}

/** The frame as a local server at 192.168.1.20 would send `line`, from `port`, to the same client. */
function localServer(frame: CapturedPacket, line: string, port: number): CapturedPacket {
  const data = Buffer.from(frame.data);
  data[14 + 8] = 64; // an initial TTL: no router crossed
  ip4('192.168.1.20').copy(data, 14 + 12);
  const tcp = 14 + (data[14]! & 0x0f) * 4;
  data.writeUInt16BE(port, tcp);
  return { ...frame, data: withTcpPayload(data, Buffer.from(`${line}\r\n`, 'latin1')) };
}

describe.skipIf(MISSING)('FTP greeting on the real capture', () => {
  it('is read, and a public server behind the router is no site device; the credentials sent are not kept', async () => {
    const { devices, observations, pipeline } = await run(SIP);
    expect(pipeline.stats.decoded.ftp).toBeGreaterThan(0);
    expect(pipeline.stats.decodeErrors.ftp).toBe(0);
    expect(devices.some((d) => d.ipv4.includes('147.234.1.253'))).toBe(false);
    // The client logged in with USER/PASS: nothing of them becomes a fact.
    expect(observations.some((o) => o.protocol === 'ftp' && /anonymous|d0xa/.test(o.value))).toBe(false);
  });

  it('from a local server: its banner and role, as tshark reads the greeting', async () => {
    const frame = localServer(
      await ftpGreetingFrame(),
      '220 ProFTPD Server In ECI Telecom (ftp.ecitele.com)',
      21,
    );
    const store = new RecordingStore();
    new Pipeline({ store }).process(frame);
    const facts = store.recorded.map((o) => [o.mac, o.name, o.value]);
    expect(facts).toEqual([
      [0x003054003456, 'role', 'ftp:server'],
      [0x003054003456, 'banner', 'ProFTPD Server In ECI Telecom (ftp.ecitele.com)'],
    ]);
    if (!tsharkAvailable()) return;
    const file = join(tmp, 'ftp.pcap');
    writePcap(file, [frame]);
    const [[code, arg]] = tsharkFields(file, ['ftp.response.code', 'ftp.response.arg']) as [[string, string]];
    expect(code).toBe('220');
    expect(arg.trim()).toBe('ProFTPD Server In ECI Telecom (ftp.ecitele.com)');
  });
});

describe.skipIf(MISSING)('greetings that name the platform', () => {
  const cases: { line: string; port: number; protocol: string; expect: Record<string, string> }[] = [
    {
      // RouterOS's FTP server.
      line: '220 MikroTik FTP server (MikroTik 6.49.10) ready',
      port: 21,
      protocol: 'ftp',
      expect: { os: 'MikroTik RouterOS', firmwareVersion: '6.49.10', type: 'router' },
    },
    {
      // Postfix with Debian's packaged smtpd_banner ("$myhostname ESMTP $mail_name (Debian/GNU)").
      line: '220 mail.example.org ESMTP Postfix (Debian/GNU)',
      port: 25,
      protocol: 'smtp',
      expect: { os: 'Linux (Debian)', hostname: 'mail.example.org', type: 'server' },
    },
    {
      line: '220 exch01.corp.example.com Microsoft ESMTP MAIL Service ready at Mon, 1 Dec 2025 10:00:00 +0000',
      port: 25,
      protocol: 'smtp',
      expect: { os: 'Windows', hostname: 'exch01.corp.example.com', type: 'server' },
    },
    {
      // Dovecot as Ubuntu packages it.
      line: '* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ STARTTLS] Dovecot (Ubuntu) ready.',
      port: 143,
      protocol: 'imap',
      expect: { os: 'Linux (Ubuntu)', type: 'server' },
    },
    {
      line: '+OK Dovecot (Debian) ready.',
      port: 110,
      protocol: 'pop3',
      expect: { os: 'Linux (Debian)', type: 'server' },
    },
  ];

  it.each(cases)('$protocol: $line', async ({ line, port, protocol, expect: want }) => {
    const frame = localServer(await ftpGreetingFrame(), line, port);
    const { devices, stats } = inventoryOf([frame]);
    expect(stats.decodeErrors[protocol]).toBe(0);
    const d = mustFindMac(devices, '00:30:54:00:34:56');
    expect(d.protocols).toEqual([protocol]);
    const got: Record<string, string | undefined> = {
      os: d.os?.value,
      firmwareVersion: d.firmwareVersion?.value,
      hostname: d.hostname?.value,
      type: d.type?.value,
    };
    for (const [k, v] of Object.entries(want)) expect(got[k], k).toBe(v);
    if (!tsharkAvailable()) return;
    // tshark takes the same bytes for a greeting of that protocol.
    const file = join(tmp, `${protocol}.pcap`);
    writePcap(file, [frame]);
    const field = {
      ftp: 'ftp.response.code',
      smtp: 'smtp.response.code',
      imap: 'imap.line',
      pop3: 'pop.response.indicator',
    }[protocol]!;
    expect(tsharkFields(file, [field])[0]![0]).not.toBe('');
  });

  it("SMTP: a client's EHLO names it; an address literal names nobody", async () => {
    const packets = await loadPackets(SIP);
    const request = packets.find((p) => p.data.includes('USER anonymous'))!; // the client's segment to port 21
    const ehlo = (line: string) => {
      const data = Buffer.from(request.data);
      const tcp = 14 + (data[14]! & 0x0f) * 4;
      data.writeUInt16BE(25, tcp + 2);
      return { ...request, data: withTcpPayload(data, Buffer.from(`${line}\r\n`, 'latin1')) };
    };
    const named = inventoryOf([ehlo('EHLO NPI3C2B1A.corp.example.com')]);
    expect(mustFindMac(named.devices, '00:e0:ed:01:6e:bd').hostname?.value).toBe(
      'NPI3C2B1A.corp.example.com',
    );
    const literal = inventoryOf([ehlo('EHLO [192.168.1.2]')]);
    expect(mustFindMac(literal.devices, '00:e0:ed:01:6e:bd').hostname).toBeUndefined();
  });
});
