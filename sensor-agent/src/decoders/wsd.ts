// WS-Discovery (OASIS WS-Discovery 1.1, SOAP-over-UDP on 3702, multicast
// 239.255.255.250 / ff02::c). Hello, ProbeMatches and ResolveMatches are a
// target service describing itself: its Types (wsdp:Device pub:Computer,
// dn:NetworkVideoTransmitter for ONVIF cameras, print:PrintDeviceType),
// XAddrs (where its metadata is) and Scopes (ONVIF puts hardware model and
// name there). Probe and Resolve name what someone looks for: ignored.
import type { PacketView } from '../packet/view.js';
import { learnHttpServer } from './http.js';
import type { Decoder, ObservationSink } from './types.js';
import { emitForLocalSender } from './util.js';

const WSD_PORT = 3702;
const MAX_MESSAGE = 16384;

/** The text of a <local>…</local> element, any namespace prefix (every one with flags "g"). */
export const elementPattern = (local: string, flags = ''): RegExp =>
  new RegExp(`<(?:[\\w-]+:)?${local}(?:\\s[^>]*)?>([^<]*)</(?:[\\w-]+:)?${local}>`, flags);
// Compiled once: a RegExp built per call was a fifth of a WS-Discovery decode.
const ACTION = elementPattern('Action');
const TYPES = elementPattern('Types');
const XADDRS = elementPattern('XAddrs');
const SCOPES = elementPattern('Scopes');

function element(xml: string, pattern: RegExp): string | undefined {
  const m = pattern.exec(xml);
  return m ? m[1]!.trim().replace(/\s+/g, ' ') : undefined;
}

export const wsdDecoder: Decoder = {
  name: 'wsd',
  family: 'udp',
  announces: true,
  portBlind: true,
  keys: [WSD_PORT],
  match: (pkt) => pkt.payloadEnd - pkt.payloadOffset >= 32,
  decode(pkt: PacketView, sink: ObservationSink): void {
    const end = Math.min(pkt.payloadEnd, pkt.payloadOffset + MAX_MESSAGE);
    const xml = pkt.data.toString('utf8', pkt.payloadOffset, end);
    if (!xml.includes('Envelope')) throw new RangeError('not a SOAP envelope');
    const action = element(xml, ACTION) ?? '';
    const kind = /\/(Hello|ProbeMatches|ResolveMatches)$/.exec(action)?.[1];
    if (!kind) return;
    const field = kind.toLowerCase();
    const types = element(xml, TYPES);
    const xaddrs = element(xml, XADDRS);
    const scopes = element(xml, SCOPES);
    if (types) emitForLocalSender(pkt, sink, 'wsd', 'wsdTypes', types, 0.85, `${field}.types`);
    if (xaddrs) {
      emitForLocalSender(pkt, sink, 'wsd', 'wsdXAddrs', xaddrs, 0.85, `${field}.xaddrs`);
      // Where the host's metadata is fetched from (HP printers serve theirs on 3911).
      for (const url of xaddrs.split(' ')) learnHttpServer(pkt, sink, url);
    }
    if (!scopes) return;
    for (const scope of scopes.split(' ')) {
      emitForLocalSender(pkt, sink, 'wsd', 'wsdScopes', scope, 0.8, `${field}.scopes`);
      // ONVIF Core §7.3.2.2: onvif://www.onvif.org/hardware/<model>, .../name/<name>.
      const onvif = /^onvif:\/\/www\.onvif\.org\/(hardware|name)\/(.+)$/i.exec(scope);
      if (onvif) {
        const value = decodeURIComponent(onvif[2]!.replace(/\+/g, ' ')).trim();
        if (onvif[1]!.toLowerCase() === 'hardware')
          emitForLocalSender(pkt, sink, 'wsd', 'model', value, 0.7, `${field}.scopes.onvif_hardware`);
        else emitForLocalSender(pkt, sink, 'wsd', 'hostname', value, 0.5, `${field}.scopes.onvif_name`);
      }
    }
  },
};
