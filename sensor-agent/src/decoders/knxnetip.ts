// KNXnet/IP (ISO/IEC 14543-3, KNX Standard 3.8.2 Core) on UDP 3671: the IP
// side of KNX building automation (lighting, blinds, HVAC). Commissioning
// tools (ETS) and home automation servers find KNX IP routers and interfaces
// by multicasting a SEARCH_REQUEST to 224.0.23.12; each answers with a
// SEARCH_RESPONSE (and a DESCRIPTION_RESPONSE when asked) carrying
// description information blocks (DIBs):
//   - device information: its KNX individual address (area.line.device),
//     serial number and friendly name;
//   - supported service families: tunnelling (an IP interface to the bus),
//     routing (an IP router, coupling a line to the IP backbone).
// The header is 6 octets: its length (6), protocol version (0x10), service
// type and total length (big-endian). A client's requests name it the BMS's
// client side. Routers also multicast the bus's telegrams to the group
// (ROUTING_INDICATION): heard without any search, they name a router too.
import type { PacketView } from '../packet/view.js';
import type { Decoder, ObservationName, ObservationSink } from './types.js';
import { emitForHost, text } from './util.js';

const KNXNET_IP_PORT = 3671;
const HEADER = 6;
const VERSION_1_0 = 0x10;

const SEARCH_REQUEST = 0x0201;
const SEARCH_RESPONSE = 0x0202;
const DESCRIPTION_REQUEST = 0x0203;
const DESCRIPTION_RESPONSE = 0x0204;
const CONNECT_REQUEST = 0x0205;
const SEARCH_REQUEST_EXTENDED = 0x020b;
const SEARCH_RESPONSE_EXTENDED = 0x020c;
const ROUTING_INDICATION = 0x0530;
/** Host protocol address information: length 8 (structure length, protocol, IPv4, port). */
const HPAI = 8;

const DIB_DEVICE_INFO = 0x01;
const DIB_SUPPORTED_SERVICE_FAMILIES = 0x02;
const DEVICE_INFO_LENGTH = 54;
const FAMILY_TUNNELLING = 0x04;
const FAMILY_ROUTING = 0x05;

/**
 * knxd (the open-source KNX daemon) answers with this serial number whatever
 * it runs on: a constant of the software, not the device's.
 */
const PLACEHOLDER_SERIAL = '0102:03040506';

function decode(pkt: PacketView, sink: ObservationSink): void {
  const b = pkt.data;
  const o = pkt.payloadOffset;
  const end = pkt.payloadEnd;
  if (end - o < HEADER) throw new RangeError('KNXnet/IP header truncated');
  if (b[o] !== HEADER || b[o + 1] !== VERSION_1_0) return; // another use of the port
  const service = b.readUInt16BE(o + 2);
  const total = b.readUInt16BE(o + 4);
  if (total < HEADER || o + total > end) throw new RangeError('KNXnet/IP total length overruns the datagram');
  const stop = o + total;
  const emit = (name: ObservationName, value: string, confidence: number, field: string) =>
    emitForHost(pkt, sink, 'knxnetip', name, value, confidence, field);
  switch (service) {
    case SEARCH_REQUEST:
    case SEARCH_REQUEST_EXTENDED:
    case DESCRIPTION_REQUEST:
    case CONNECT_REQUEST:
      // Servers answer these; their senders are clients: ETS, a visualisation, a home automation server.
      emit('role', 'knx:client', 0.7, 'header.service_type');
      return;
    case ROUTING_INDICATION:
      // Bus telegrams multicast onto the IP backbone: an IP router's everyday traffic, heard whether or
      // not anyone searches (a server in routing mode sends them too, hence below a search answer's word).
      emit('role', 'knx:routing', 0.7, 'header.service_type');
      return;
    case SEARCH_RESPONSE:
    case SEARCH_RESPONSE_EXTENDED:
      descriptions(b, o + HEADER + HPAI, stop, emit);
      return;
    case DESCRIPTION_RESPONSE:
      descriptions(b, o + HEADER, stop, emit);
      return;
    default:
      return;
  }
}

/** The DIBs of a response, from `at` to `end`. */
function descriptions(
  b: Buffer,
  at: number,
  end: number,
  emit: (name: ObservationName, value: string, confidence: number, field: string) => void,
): void {
  if (at > end) throw new RangeError('KNXnet/IP response shorter than its address block');
  for (let o = at; o < end; ) {
    if (o + 2 > end) throw new RangeError('KNXnet/IP DIB header truncated');
    const length = b[o]!;
    const type = b[o + 1]!;
    if (length < 2 || o + length > end) throw new RangeError(`KNXnet/IP DIB ${type} overruns the response`);
    if (type === DIB_DEVICE_INFO) {
      if (length < DEVICE_INFO_LENGTH) throw new RangeError('KNXnet/IP device information DIB truncated');
      // Medium, status, individual address, project-installation id, serial, multicast address, MAC, name.
      const address = b.readUInt16BE(o + 4);
      emit(
        'linkAddress',
        `${address >> 12}.${(address >> 8) & 0x0f}.${address & 0xff}`,
        0.85,
        'dib.device_info.individual_address',
      );
      const serial = `${b.toString('hex', o + 8, o + 10)}:${b.toString('hex', o + 10, o + 14)}`.toUpperCase();
      if (serial !== PLACEHOLDER_SERIAL && serial !== '0000:00000000')
        emit('serialNumber', serial, 0.85, 'dib.device_info.serial_number');
      // ISO 8859-1, NUL-padded (KNX 3.8.2 §7.5.4.2): "Küche" is a name KNX installations give.
      let nul = o + 24;
      while (nul < o + DEVICE_INFO_LENGTH && b[nul] !== 0) nul++;
      const name = text(b, o + 24, nul);
      if (name) {
        emit('hostname', name, 0.75, 'dib.device_info.friendly_name');
        emit('stationName', name, 0.8, 'dib.device_info.friendly_name');
      }
    } else if (type === DIB_SUPPORTED_SERVICE_FAMILIES) {
      for (let f = o + 2; f + 1 < o + length; f += 2) {
        if (b[f] === FAMILY_ROUTING) emit('role', 'knx:ip-router', 0.8, 'dib.supported_service_families');
        else if (b[f] === FAMILY_TUNNELLING)
          emit('role', 'knx:ip-interface', 0.8, 'dib.supported_service_families');
      }
    }
    o += length;
  }
}

export const knxnetIpDecoder: Decoder = {
  name: 'knxnetip',
  family: 'udp',
  keys: [KNXNET_IP_PORT],
  // Routers and interfaces answer every search the same way, and clients search again and again.
  announces: true,
  // A search is answered to the port it came from, a new one each time.
  portBlind: true,
  match: (pkt) => pkt.payloadEnd - pkt.payloadOffset >= HEADER,
  decode,
};
