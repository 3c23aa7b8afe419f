// IPP (src/decoders/ipp.ts via http.ts): a device answering IPP on 631 is a
// printer; its printer attributes name the model.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { inventoryOf, loadPackets, tsharkAvailable, withTcpPayload, writePcap } from './reframe.js';
import { MISSING, mustFindMac, run } from './support.js';

const tmp = mkdtempSync(join(tmpdir(), 'hark-ipp-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe.skipIf(MISSING)('IPP (ndpi__ipp.pcap)', () => {
  it('the HP answering Get-Printer-Attributes on 631 is a printer', async () => {
    // tshark: 10.10.10.251 (00:12:79:80:69:60) answers with Content-Type application/ipp, Server Virata-EmWeb/R6_2_1.
    const { devices } = await run('ndpi__ipp.pcap');
    const hp = mustFindMac(devices, '00:12:79:80:69:60');
    expect([hp.category?.value, hp.type?.value]).toEqual(['it', 'printer']);
    expect(hp.type?.evidence.map((e) => e.field)).toContain('role.ipp:printer');
    // The CUPS client asking is no printer.
    expect(mustFindMac(devices, '00:1b:63:98:bf:36').type?.value).not.toBe('printer');
  });

  it('printer attributes name the maker, model and firmware, as tshark reads them', async () => {
    // RFC 8010 §3.1: version 1.1, successful-ok, request 1; operation attributes (charset, language);
    // printer attributes; end-of-attributes.
    const attr = (tag: number, name: string, value: string) => {
      const n = Buffer.from(name);
      const v = Buffer.from(value);
      const h = Buffer.alloc(5);
      h[0] = tag;
      h.writeUInt16BE(n.length, 1);
      const l = Buffer.alloc(2);
      l.writeUInt16BE(v.length);
      return Buffer.concat([h.subarray(0, 3), n, l, v]);
    };
    const ipp = Buffer.concat([
      Buffer.from([1, 1, 0, 0, 0, 0, 0, 1, 0x01]),
      attr(0x47, 'attributes-charset', 'utf-8'),
      attr(0x48, 'attributes-natural-language', 'en'),
      Buffer.from([0x04]),
      attr(0x41, 'printer-make-and-model', 'HP LaserJet 4250'),
      attr(0x41, 'printer-device-id', 'MFG:Hewlett-Packard;MDL:HP LaserJet 4250;CMD:PJL,PCL,POSTSCRIPT;'),
      attr(0x41, 'printer-firmware-string-version', '20080318 08.115.3'),
      Buffer.from([0x03]),
    ]);
    const head = `HTTP/1.1 200 OK\r\nServer: Virata-EmWeb/R6_2_1\r\nContent-Type: application/ipp\r\nContent-Length: ${ipp.length}\r\n\r\n`;
    // Frame 249: the printer's IPP response; its headers carry the rebuilt response.
    const original = (await loadPackets('ndpi__ipp.pcap'))[248]!;
    const packet = {
      ...original,
      data: withTcpPayload(original.data, Buffer.concat([Buffer.from(head, 'latin1'), ipp])),
    };

    const hp = mustFindMac(inventoryOf([packet]).devices, '00:12:79:80:69:60');
    expect(hp.manufacturer?.value).toBe('Hewlett-Packard');
    expect(hp.model?.value).toBe('HP LaserJet 4250');
    expect(hp.firmwareVersion?.value).toBe('20080318 08.115.3');
    expect(hp.model?.evidence[0]).toMatchObject({ protocol: 'ipp', field: 'printer-device-id.mdl' });

    if (!tsharkAvailable()) return;
    const file = join(tmp, 'ipp.pcap');
    writePcap(file, [packet]);
    const tree = execFileSync('tshark', ['-n', '-r', file, '-O', 'ipp', '-V'], { encoding: 'utf8' });
    expect(tree).toContain("printer-make-and-model (textWithoutLanguage): 'HP LaserJet 4250'");
    expect(tree).toContain("printer-firmware-string-version (textWithoutLanguage): '20080318 08.115.3'");
    expect(tree).toContain(
      "printer-device-id (textWithoutLanguage): 'MFG:Hewlett-Packard;MDL:HP LaserJet 4250;",
    );
  });
});
