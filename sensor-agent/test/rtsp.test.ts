// RTSP (src/decoders/rtsp.ts): the side answering on 554/8554 serves streams,
// a camera unless its Server header names streaming software; Server and
// User-Agent name each side's software. Checked against tshark's RTSP
// dissector on the real capture.
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { readCapture } from '../src/capture/index.js';
import { inventoryOf, loadPackets, tsharkAvailable, withTcpPayload } from './reframe.js';
import { byId, MISSING, pcap, run } from './support.js';

/** ndpi__rtsp.pcap is Linux cooked capture (SLL): the IPv4 header follows its 16 bytes. */
const SLL_IP = 16;

describe.skipIf(MISSING)('RTSP (ndpi__rtsp.pcap: LibVLC pulling from a VLC server)', () => {
  it('names the server software and the client software, as tshark reads them', async () => {
    const { hints, devices } = await run('ndpi__rtsp.pcap');
    const server = byId(devices, 'ip:10.2.2.2');
    const client = byId(devices, 'ip:10.1.1.10');
    expect(hints(server.id, 'role')).toEqual(['rtsp:server']);
    expect(hints(client.id, 'role')).toEqual(['rtsp:client']);
    if (tsharkAvailable()) {
      // tshark's RTSP dissector has no field for these headers: read them from its detail view.
      const header = (filter: string, name: string) => {
        const detail = execFileSync('tshark', ['-r', pcap('ndpi__rtsp.pcap'), '-Y', filter, '-O', 'rtsp'], {
          encoding: 'utf8',
          maxBuffer: 64 * 1024 * 1024,
        });
        return [
          ...new Set(
            [...detail.matchAll(new RegExp(`^\\s+${name}: (.+?)\\\\r\\\\n$`, 'gm'))].map((m) => m[1]),
          ),
        ];
      };
      expect(header('ip.src == 10.2.2.2 && rtsp.response', 'Server')).toEqual(hints(server.id, 'rtspServer'));
      expect(header('ip.src == 10.1.1.10 && rtsp.request', 'User-Agent')).toEqual(
        hints(client.id, 'userAgent'),
      );
    }
    expect(hints(server.id, 'rtspServer')).toEqual(['VLC/3.0.12']);
    expect(hints(client.id, 'userAgent')).toEqual(['LibVLC/3.0.16 (LIVE555 Streaming Media v2016.11.28)']);
    // VLC serving a stream is a media server on a computer, not a camera.
    expect([server.category?.value, server.type?.value]).toEqual(['it', 'server']);
  });

  it('an answer without streaming software is a camera; a segment on 554 that is not RTSP is malformed', async () => {
    const packets = await loadPackets('ndpi__rtsp.pcap');
    const reply = packets.find((p) => p.data.includes('RTSP/1.0 200 OK'))!;
    const head =
      'RTSP/1.0 200 OK\r\nCSeq: 2\r\nPublic: OPTIONS, DESCRIBE, SETUP, TEARDOWN, PLAY, PAUSE\r\n\r\n';
    const camera = { ...reply, data: withTcpPayload(reply.data, Buffer.from(head), undefined, SLL_IP) };
    const { devices, stats } = inventoryOf([camera]);
    expect(stats.decodeErrors.rtsp).toBe(0);
    const d = devices.find((x) => x.protocols.includes('rtsp'))!;
    expect([d.category?.value, d.type?.value]).toEqual(['iot', 'camera']);
    expect(d.type?.evidence[0]?.field).toBe('role.rtsp:server');
    // Not RTSP at all on port 554: counted as malformed, nobody classified.
    const bogus = {
      ...reply,
      data: withTcpPayload(reply.data, Buffer.from('PLAYLIST 42\r\n\r\n'), undefined, SLL_IP),
    };
    const other = inventoryOf([bogus]);
    expect(other.stats.decodeErrors.rtsp).toBe(1);
    expect(other.devices.every((x) => x.type?.value !== 'camera')).toBe(true);
  });

  it('every RTSP head of the capture decodes', async () => {
    let heads = 0;
    for await (const p of readCapture(pcap('ndpi__rtsp.pcap')))
      if (p.data.includes(' RTSP/1.0\r\n') || p.data.includes('RTSP/1.0 2')) heads++;
    const { pipeline } = await run('ndpi__rtsp.pcap');
    expect(pipeline.stats.decodeErrors.rtsp).toBe(0);
    expect(pipeline.stats.decoded.rtsp).toBe(heads);
  });
});
