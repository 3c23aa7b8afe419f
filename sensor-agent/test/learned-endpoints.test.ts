// The HTTP servers devices announce (a UPnP LOCATION, a WS-Discovery XAddrs)
// and the table the pipeline keeps of them. The end-to-end case, a
// description fetched on a port only its LOCATION names, is MiniDLNA's in
// minidlna.test.ts; here, the bounds and what is not learned. Frames from our
// own encoders (src/simulate/encoders.ts).
import { describe, expect, it } from 'vitest';
import { learnHttpServer } from '../src/decoders/http.js';
import type { Observation, ObservationSink } from '../src/decoders/types.js';
import { LearnedEndpoints } from '../src/learned-endpoints.js';
import { parsePacket } from '../src/packet/parse.js';
import { PacketView } from '../src/packet/view.js';
import { ethernet, ip4, ipv4Udp } from '../src/simulate/encoders.js';

describe('learned HTTP server endpoints', () => {
  it('holds what it learned, per address and port, and forgets the oldest past its bound', () => {
    const endpoints = new LearnedEndpoints(2);
    const a = ip4('10.0.0.5').readUInt32BE(0);
    const b = ip4('10.0.0.6').readUInt32BE(0);
    endpoints.add(a, 1400);
    endpoints.add(a, 1400); // the same again: no second entry
    endpoints.add(b, 52323);
    expect(endpoints.size).toBe(2);
    expect(endpoints.has(a, 1400)).toBe(true);
    expect(endpoints.has(b, 1400)).toBe(false); // that port, another host
    endpoints.add(b, 7676);
    expect(endpoints.size).toBe(2);
    expect(endpoints.has(a, 1400)).toBe(false);
    expect(endpoints.has(b, 52323)).toBe(true);
    expect(endpoints.has(b, 7676)).toBe(true);
  });

  /** What learnHttpServer tells a sink of `url`, announced from 10.0.0.5. */
  function learned(url: string): [number, number][] {
    const frame = ethernet(
      Buffer.from('01005e7ffffa', 'hex'),
      Buffer.from('020000000005', 'hex'),
      0x0800,
      ipv4Udp('10.0.0.5', '239.255.255.250', 1900, 1900, Buffer.from('NOTIFY * HTTP/1.1\r\n\r\n'), 4),
    );
    const view = new PacketView();
    view.reset(frame, 1, 0, 0);
    parsePacket(view);
    const told: [number, number][] = [];
    const sink: ObservationSink = {
      observe: (_: Observation) => undefined,
      httpServerAt: (address, port) => told.push([address, port]),
    };
    learnHttpServer(view, sink, url);
    return told;
  }

  it('learns a plain HTTP port the sender announced for itself', () => {
    expect(learned('http://10.0.0.5:1400/xml/device_description.xml')).toEqual([
      [ip4('10.0.0.5').readUInt32BE(0), 1400],
    ]);
  });

  it('learns nothing another host would serve, nothing encrypted, and no port the list already holds', () => {
    expect(learned('http://10.0.0.9:1400/xml/device_description.xml')).toEqual([]);
    expect(learned('https://10.0.0.5:1443/description.xml')).toEqual([]);
    expect(learned('http://10.0.0.5:80/description.xml')).toEqual([]);
    expect(learned('http://nas.local:8212/rootDesc.xml')).toEqual([]);
    expect(learned('http://10.0.0.5:70000/rootDesc.xml')).toEqual([]);
  });
});
