// SIP (RFC 3261 §7, §20.41 User-Agent, §20.35 Server) over UDP/TCP 5060.
// Phones and softphones name their software and often model and firmware in
// User-Agent; servers in Server. Requests and responses both may carry
// either. Public addresses behind a router (SIP providers) are not assets.
import type { PacketView } from '../packet/view.js';
import type { Decoder, ObservationSink } from './types.js';
import { parseUserAgent } from './useragent.js';
import { emitForLocalSender, headerFields } from './util.js';

const SIP_PORT = 5060;
const MAX_HEAD = 4096;
const HEADERS: ReadonlySet<string> = new Set(['user-agent', 'server']);

function decode(pkt: PacketView, sink: ObservationSink): void {
  const end = Math.min(pkt.payloadEnd, pkt.payloadOffset + MAX_HEAD);
  const head = pkt.data.toString('latin1', pkt.payloadOffset, end);
  const firstLine = head.slice(0, head.indexOf('\n') >>> 0);
  if (!/^(SIP\/2\.0 \d{3}|[A-Z]+ \S+ SIP\/2\.0)/.test(firstLine))
    throw new RangeError('not a SIP start line');
  for (const [name, value] of headerFields(head, HEADERS)) {
    emitForLocalSender(pkt, sink, 'sip', 'sipUserAgent', value, 0.85, name.replace('-', '_'));
    emitForLocalSender(pkt, sink, 'sip', 'userAgent', value, 0.7, name.replace('-', '_'));
    const facts = parseUserAgent(value);
    if (facts.os) emitForLocalSender(pkt, sink, 'sip', 'os', facts.os, 0.3, name.replace('-', '_'));
  }
}

export const sipDecoder: Decoder = {
  name: 'sip',
  family: 'udp',
  keys: [SIP_PORT],
  match: (pkt) => pkt.payloadEnd - pkt.payloadOffset >= 12,
  decode,
};

export const sipTcpDecoder: Decoder = {
  name: 'sip',
  family: 'tcp',
  keys: [SIP_PORT],
  match: (pkt) => pkt.payloadEnd - pkt.payloadOffset >= 12,
  decode,
};
