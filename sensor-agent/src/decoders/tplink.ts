// TP-Link's smart-home protocol (Kasa plugs, switches, bulbs and strips) on
// port 9999: JSON commands and answers, each byte XORed with the previous
// ciphertext byte (the first with 171), as Wireshark's tplink-smarthome
// dissector and the python-kasa library read it. On UDP a datagram is one
// message (the app's discovery broadcast, and each device's answer); on TCP
// a 32-bit big-endian length precedes it. The answer to
// {"system":{"get_sysinfo":{}}} names the device: model ("HS110(EU)"), the
// name its owner gave it (alias), device type, software and hardware version
// and MAC. Only that answer is read; commands, schedules and energy readings
// are not.
import { isDeviceMac } from '../packet/addresses.js';
import type { PacketView } from '../packet/view.js';
import type { Decoder, ObservationName, ObservationSink } from './types.js';
import { observation } from './util.js';

const PORT = 9999;
const FIRST_KEY = 171;
/** A get_sysinfo answer is 600-1000 bytes; larger messages (schedules, statistics) are not read. */
const MAX_MESSAGE = 4096;

/** The plaintext of an autokey-XORed message. */
function decrypt(b: Buffer, start: number, end: number): string {
  const out = Buffer.allocUnsafe(end - start);
  let key = FIRST_KEY;
  for (let i = start; i < end; i++) {
    const c = b[i]!;
    out[i - start] = key ^ c;
    key = c;
  }
  return out.toString('latin1');
}

interface SysInfo {
  model?: unknown;
  alias?: unknown;
  dev_name?: unknown;
  sw_ver?: unknown;
  hw_ver?: unknown;
  type?: unknown;
  mic_type?: unknown;
}

const str = (v: unknown): string => (typeof v === 'string' ? v.trim() : '');

function readMessage(pkt: PacketView, sink: ObservationSink, b: Buffer, start: number, end: number): void {
  const device = pkt.srcMac;
  if (!isDeviceMac(device) || end - start > MAX_MESSAGE || end - start < 2) return;
  const plain = decrypt(b, start, end);
  // Not JSON: another use of the port. (A message that claims to be JSON and is not is damage.)
  if (plain[0] !== '{') return;
  const message = JSON.parse(plain) as { system?: { get_sysinfo?: SysInfo } };
  const info = message?.system?.get_sysinfo;
  const model = str(info?.model);
  // A request carries an empty get_sysinfo: it says nothing of its sender.
  if (!info || typeof info !== 'object' || model === '') return;
  const emit = (name: ObservationName, value: string, confidence: number, field: string) => {
    if (value !== '')
      sink.observe(observation(pkt, device, undefined, 'tplink', name, value, confidence, field));
  };
  emit('manufacturer', 'TP-Link', 0.85, 'get_sysinfo');
  emit('model', model, 0.9, 'get_sysinfo.model');
  // "1.5.4 Build 180815 Rel.121440": the release.
  emit('firmwareVersion', str(info.sw_ver).split(' ')[0] ?? '', 0.85, 'get_sysinfo.sw_ver');
  // The name the owner gave it in the Kasa app ("Kitchen lamp"), which the app shows it by.
  emit('hostname', str(info.alias), 0.6, 'get_sysinfo.alias');
  const kind = `${str(info.type)} ${str(info.mic_type)} ${str(info.dev_name)}`;
  emit('deviceType', str(info.type) || str(info.mic_type), 0.8, 'get_sysinfo.type');
  emit(
    'role',
    /SMARTPLUG|Smart Plug|Smart Wi-Fi Plug|power strip/i.test(kind)
      ? 'tplink:smart-plug'
      : /SMARTBULB|bulb|light strip/i.test(kind)
        ? 'tplink:smart-bulb'
        : 'tplink:device',
    0.8,
    'get_sysinfo.type',
  );
}

export const tplinkDecoder: Decoder = {
  name: 'tplink',
  family: 'udp',
  keys: [PORT],
  match: (pkt) => pkt.srcPort === PORT && pkt.payloadEnd - pkt.payloadOffset > 2,
  decode: (pkt, sink) => readMessage(pkt, sink, pkt.data, pkt.payloadOffset, pkt.payloadEnd),
};

export const tplinkTcpDecoder: Decoder = {
  name: 'tplink',
  family: 'tcp',
  keys: [PORT],
  // The length word and the message: a get_sysinfo answer spans segments on a small MSS.
  messageLength: (pkt, b, start, end) =>
    pkt.srcPort !== PORT ? 0 : end - start < 4 ? 4 : Math.min(4 + b.readUInt32BE(start), MAX_MESSAGE + 4),
  match: (pkt) => pkt.srcPort === PORT && pkt.payloadEnd - pkt.payloadOffset > 6,
  decode(pkt, sink) {
    const b = pkt.data;
    const o = pkt.payloadOffset;
    const length = b.readUInt32BE(o);
    if (length > MAX_MESSAGE) return;
    readMessage(pkt, sink, b, o + 4, Math.min(pkt.payloadEnd, o + 4 + length));
  },
};
