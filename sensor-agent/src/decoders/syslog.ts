// Syslog over UDP (RFC 5424 with RFC 5426, and the BSD format RFC 3164
// describes): switches, firewalls, access points, cameras and servers send
// their log lines to a collector, each stamped with the sender's configured
// host name. That name is identity a network device rarely gives any other
// way. Only a header that follows one of the two formats is read: many
// devices send their own variants (a sequence number, no timestamp, no host
// name) where the word after the priority is not a host name.
//
// A relay forwards others' messages with their host names, so the name is
// taken with less confidence than DHCP, NetBIOS or LLDP give a device's own
// name: a relay's forwarded names do not outweigh its own where it states it.
import type { PacketView } from '../packet/view.js';
import type { Decoder, ObservationSink } from './types.js';
import { emitForLocalSender, hostNameOf } from './util.js';

const SYSLOG_PORT = 514;
/** Enough for the header; the message itself is not read. */
const MAX_HEADER = 256;
/** "<PRI>" with PRI 0..191 (RFC 5424 §6.2.1). */
const PRI = /^<(\d{1,3})>/;
/** RFC 5424 §6: VERSION SP TIMESTAMP SP HOSTNAME SP APP-NAME. */
const RFC5424 = /^(\d{1,2}) (\S+) (\S{1,255}) (\S{1,48}) /;
/** RFC 3164 §4.1.2: "Mmm dd hh:mm:ss" (the day padded with a space), SP, HOSTNAME, SP. */
const RFC3164 =
  /^(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [ 1-3]\d \d\d:\d\d:\d\d ([^\s:[\]]{1,255}) /;

/** The host name the header states, or undefined when it states none (or is no syslog header). */
export function syslogHostname(header: string): string | undefined {
  const pri = PRI.exec(header);
  if (!pri || Number(pri[1]) > 191) throw new RangeError('syslog message without a <PRI> of 0..191');
  const rest = header.slice(pri[0].length);
  const m5424 = RFC5424.exec(rest);
  // RFC 5424's nil value "-" is no name either.
  return hostNameOf(m5424 && m5424[1] !== '0' ? m5424[3] : RFC3164.exec(rest)?.[1]);
}

export const syslogDecoder: Decoder = {
  name: 'syslog',
  family: 'udp',
  keys: [SYSLOG_PORT],
  leadingBytes: [0x3c],
  match: (pkt) =>
    pkt.dstPort === SYSLOG_PORT &&
    pkt.payloadEnd - pkt.payloadOffset >= 4 &&
    pkt.data[pkt.payloadOffset] === 0x3c,
  decode(pkt: PacketView, sink: ObservationSink): void {
    const end = Math.min(pkt.payloadEnd, pkt.payloadOffset + MAX_HEADER);
    const name = syslogHostname(pkt.data.toString('latin1', pkt.payloadOffset, end));
    if (name !== undefined)
      emitForLocalSender(pkt, sink, 'syslog', 'hostname', name, 0.55, 'header.hostname');
  },
};
