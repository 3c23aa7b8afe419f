// SSDP (UPnP Device Architecture 2.0 §1): NOTIFY announcements and M-SEARCH
// responses describe the sender (SERVER, NT/ST device type, USN, LOCATION of
// its description XML); an M-SEARCH describes only the searching client
// through its USER-AGENT. Text headers, case-insensitive names.
import type { PacketView } from '../packet/view.js';
import { learnHttpServer } from './http.js';
import type { Decoder, ObservationName, ObservationSink } from './types.js';
import { linuxDistribution, parseUserAgent } from './useragent.js';
import { emitForSender, headerFields } from './util.js';

const SSDP_PORT = 1900;
const MAX_HEADER_BYTES = 8192;
const HEADERS: ReadonlySet<string> = new Set([
  'user-agent',
  'x-user-agent',
  'server',
  'nt',
  'st',
  'usn',
  'location',
  'al',
]);

export const ssdpDecoder: Decoder = {
  name: 'ssdp',
  family: 'udp',
  announces: true,
  portBlind: true,
  keys: [SSDP_PORT],
  match: (pkt) => pkt.srcPort === SSDP_PORT || pkt.dstPort === SSDP_PORT,
  decode(pkt: PacketView, sink: ObservationSink): void {
    const end = Math.min(pkt.payloadEnd, pkt.payloadOffset + MAX_HEADER_BYTES);
    const message = pkt.data.toString('latin1', pkt.payloadOffset, end);
    const kind = message.startsWith('NOTIFY ')
      ? 'notify'
      : message.startsWith('M-SEARCH ')
        ? 'search'
        : message.startsWith('HTTP/1.')
          ? 'response'
          : undefined;
    if (!kind) throw new RangeError('not an SSDP start line');
    const emit = (name: ObservationName, value: string | undefined, confidence: number, field: string) => {
      if (value) emitForSender(pkt, sink, 'ssdp', name, value, confidence, field);
    };
    for (const [header, value] of headerFields(message, HEADERS)) {
      if (header === 'user-agent' || header === 'x-user-agent') {
        emit('userAgent', value, 0.7, header);
        // UPnP's "OS/version UPnP/2.0 product/version", or a browser's own: Chrome's Cast (DIAL)
        // discovery says "Google Chrome/<version> <OS>".
        emit('os', parseUserAgent(value).os, 0.4, header);
        continue;
      }
      if (kind === 'search') continue; // the rest of a search names what is wanted, not who asks
      switch (header) {
        case 'server': {
          emit('ssdpServer', value, 0.8, 'server');
          const os = osToken(value);
          if (os) emit('os', os, 0.3, 'server');
          break;
        }
        case 'nt':
        case 'st':
          if (value.startsWith('urn:')) emit('ssdpType', value, 0.8, header);
          break;
        case 'usn': {
          const uuid = /^uuid:([0-9a-f-]{8,})/i.exec(value);
          if (uuid) emit('upnpUuid', uuid[1]!.toLowerCase(), 0.8, 'usn');
          break;
        }
        case 'location':
        case 'al':
          emit('upnpLocation', value, 0.8, header);
          learnHttpServer(pkt, sink, value);
          break;
      }
    }
  },
};

/**
 * The first product token of a UPnP SERVER header is the OS ("Linux/2.6",
 * "Windows/10.0"); many devices fill it with junk ("Unspecified"), hence the
 * low confidence and the filter. Software built by a distribution may put
 * the distribution there instead: Debian's MiniDLNA says "Debian DLNADOC/1.50
 * UPnP/1.0 MiniDLNA/1.3.0".
 */
function osToken(server: string): string | undefined {
  const first = server.split(/[\s,]+/)[0] ?? '';
  const name = first.split('/')[0] ?? '';
  const distribution = linuxDistribution(name);
  if (distribution) return `Linux (${distribution})`;
  if (!/^(linux|windows|darwin|macos|freebsd|android|ios|vxworks|threadx|qnx|rtos)/i.test(name))
    return undefined;
  return first.replace('/', ' ');
}
