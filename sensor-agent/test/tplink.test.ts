import { describe, expect, it } from 'vitest';
import { Pipeline } from '../src/pipeline.js';
import { ethernet, ipv4Udp } from '../src/simulate/encoders.js';
import {
  connectionTo,
  conversation,
  inventoryOf,
  loadPackets,
  packetOf,
  tsharkAvailable,
  tsharkOn,
} from './reframe.js';
import { MISSING, mustFindMac } from './support.js';

/** Each byte XORed with the previous ciphertext byte, the first with 171. */
function encrypt(text: string): Buffer {
  const plain = Buffer.from(text, 'latin1');
  const out = Buffer.alloc(plain.length);
  let key = 171;
  for (let i = 0; i < plain.length; i++) {
    key ^= plain[i]!;
    out[i] = key;
  }
  return out;
}

const QUERY = '{"system":{"get_sysinfo":{}}}';
const SYSINFO = JSON.stringify({
  system: {
    get_sysinfo: {
      err_code: 0,
      sw_ver: '1.5.4 Build 180815 Rel.121440',
      hw_ver: '2.0',
      type: 'IOT.SMARTPLUGSWITCH',
      model: 'HS110(EU)',
      mac: '50:C7:BF:00:C7:03',
      dev_name: 'Smart Wi-Fi Plug With Energy Monitoring',
      alias: 'Kitchen kettle',
      relay_state: 1,
      on_time: 3600,
      feature: 'TIM:ENE',
      deviceId: '8006A1B2C3D4E5F60718293A4B5C6D7E8F901234',
      hwId: '044A516EE63C875F9458DA25C2CCC5A0',
      oemId: '1998A14DAA86E4E001FD7CAF42868B5E',
      rssi: -52,
      led_off: 0,
    },
  },
});
const PLUG = { mac: Buffer.from('50c7bf00c703', 'hex'), ip: '10.10.10.20' };
const PHONE = { mac: Buffer.from('3c2eff112233', 'hex'), ip: '10.10.10.30' };

const udpExchange = () => [
  packetOf(
    ethernet(
      Buffer.alloc(6, 0xff),
      PHONE.mac,
      0x0800,
      ipv4Udp(PHONE.ip, '255.255.255.255', 50123, 9999, encrypt(QUERY)),
    ),
    1_700_000_000_000,
  ),
  packetOf(
    ethernet(PHONE.mac, PLUG.mac, 0x0800, ipv4Udp(PLUG.ip, PHONE.ip, 9999, 50123, encrypt(SYSINFO))),
    1_700_000_000_050,
  ),
];
const lengthPrefixed = (text: string) => {
  const body = encrypt(text);
  const head = Buffer.alloc(4);
  head.writeUInt32BE(body.length, 0);
  return Buffer.concat([head, body]);
};

describe('TP-Link smart home', () => {
  it.skipIf(!tsharkAvailable())(
    'reads the plug from its get_sysinfo answer, as tshark decrypts it, and nothing of the app',
    () => {
      const packets = udpExchange();
      const messages = tsharkOn(packets, ['tplink_smarthome.msg']).map((r) => r[0]);
      expect(messages).toEqual([QUERY, SYSINFO]);

      const { devices, stats } = inventoryOf(packets);
      expect(stats.decodeErrors.tplink).toBe(0);
      const plug = mustFindMac(devices, '50:c7:bf:00:c7:03');
      expect([
        plug.manufacturer?.value,
        plug.model?.value,
        plug.firmwareVersion?.value,
        plug.hostname?.value,
      ]).toEqual(['TP-Link', 'HS110(EU)', '1.5.4', 'Kitchen kettle']);
      expect([plug.category?.value, plug.type?.value]).toEqual(['iot', 'smart-plug']);
      expect(mustFindMac(devices, '3c:2e:ff:11:22:33').protocols).not.toContain('tplink');
    },
  );

  it.skipIf(MISSING || !tsharkAvailable())(
    'reads the length-prefixed answer on TCP 9999, split over segments too',
    async () => {
      const send = conversation(connectionTo(await loadPackets('iti__s7comm_reading_plc_status.pcap'), 102), {
        server: 9999,
      });
      const answer = lengthPrefixed(SYSINFO);
      const whole = [send('toServer', lengthPrefixed(QUERY)), send('fromServer', answer)];
      expect(tsharkOn(whole, ['tplink_smarthome.msg']).map((r) => r[0])).toEqual([QUERY, SYSINFO]);
      const split = [
        send('toServer', lengthPrefixed(QUERY)),
        send('fromServer', answer.subarray(0, 200)),
        send('fromServer', answer.subarray(200)),
      ];
      for (const packets of [whole, split]) {
        const { devices, stats } = inventoryOf(packets);
        expect(stats.decodeErrors.tplink).toBe(0);
        expect(devices.some((d) => d.model?.value === 'HS110(EU)' && d.type?.value === 'smart-plug')).toBe(
          true,
        );
      }
    },
  );

  it('counts a message that claims JSON and is not as malformed, and leaves other uses of the port alone', () => {
    const broken = encrypt(`${SYSINFO.slice(0, 120)}`);
    const other = Buffer.from('not this protocol', 'latin1');
    const pipeline = new Pipeline({ skipRepeats: false });
    for (const payload of [broken, other])
      pipeline.process(
        packetOf(ethernet(PHONE.mac, PLUG.mac, 0x0800, ipv4Udp(PLUG.ip, PHONE.ip, 9999, 50123, payload))),
      );
    for (const p of udpExchange()) pipeline.process(p);
    expect(pipeline.stats.decodeErrors.tplink).toBe(1);
    expect(pipeline.store.toRecords().some((d) => d.model?.value === 'HS110(EU)')).toBe(true);
  });
});
