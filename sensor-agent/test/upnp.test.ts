// UPnP device descriptions (src/decoders/upnp.ts) on the real capture that
// has two: facts from tshark's "follow tcp" of ndpi__anyconnect-vpn.pcap.
import { describe, expect, it } from 'vitest';
import { MISSING, mustFindMac, run } from './support.js';

describe.skipIf(MISSING)('UPnP device descriptions (ndpi__anyconnect-vpn.pcap)', () => {
  it('a Roku names its maker, model, number and serial in the description it serves on 8060', async () => {
    // GET /dial/dd.xml: manufacturer Roku, modelName "Roku Express", modelNumber 3900X, serialNumber
    // YG004J486863, friendlyName Express, UDN uuid:295c0004-6807-106d-80cf-d831342077fb. The XML starts in
    // the response's second segment.
    const { devices } = await run('ndpi__anyconnect-vpn.pcap');
    const roku = mustFindMac(devices, 'd8:31:34:20:77:fb');
    expect(roku.manufacturer?.value).toBe('Roku');
    expect(roku.model?.value).toBe('Roku Express 3900X');
    expect(roku.serialNumber?.value).toBe('YG004J486863');
    expect(roku.hostname?.value).toBe('Express');
    expect(roku.model?.evidence[0]).toMatchObject({
      protocol: 'upnp',
      field: 'device_description.modelName',
    });
  });

  it('a Chromecast is named by its friendly name, not the UUID it announces in mDNS', async () => {
    // GET /ssdp/device-desc.xml on 8008: friendlyName Chromecast1699, manufacturer "Google Inc.", modelName
    // "Eureka Dongle"; mDNS A record 79d88e83-725c-b71b-bad0-5862d5b22386.local.
    const { devices, hints } = await run('ndpi__anyconnect-vpn.pcap');
    const cast = mustFindMac(devices, 'a4:77:33:8c:f1:40');
    expect(cast.hostname?.value).toBe('Chromecast1699');
    expect(cast.manufacturer?.value).toBe('Google Inc.');
    expect(cast.model?.value).toBe('Eureka Dongle');
    expect(cast.type?.value).toBe('media-player');
    expect(hints(cast.id, 'ssdpType')).toContain('urn:dial-multiscreen-org:device:dial:1');
  });
});
