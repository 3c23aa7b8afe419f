// Small bounds-checked readers shared by decoders.
import { formatIp4, formatIp6, isHostIp4 } from '../packet/addresses.js';
import type { PacketView } from '../packet/view.js';
import type { Observation, ObservationName, ObservationSink } from './types.js';

/** Printable text of a protocol string field: trims NULs and whitespace, drops control characters. */
export function text(b: Buffer, start: number, end: number): string {
  if (end > b.length) end = b.length;
  if (start >= end) return '';
  // latin1 never throws and maps bytes 1:1; valid UTF-8 is re-decoded below.
  let s = b.toString('utf8', start, end);
  if (s.includes('\ufffd')) s = b.toString('latin1', start, end);
  // biome-ignore lint/suspicious/noControlCharactersInRegex: stripping control characters is the point
  return s.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim();
}

/** Source address of the packet as text, or undefined when the packet has no IP header. */
export function srcIpText(pkt: PacketView): string | undefined {
  if (pkt.ipVersion === 4) return isHostIp4(pkt.srcIp4) ? formatIp4(pkt.srcIp4) : undefined;
  if (pkt.ipVersion === 6) return formatIp6(pkt.data, pkt.srcIp6Offset);
  return undefined;
}

/**
 * Emits an observation about the packet's sender: keyed by its source MAC
 * when the link has one, else by its source IP.
 */
export function emitForSender(
  pkt: PacketView,
  sink: ObservationSink,
  protocol: string,
  name: ObservationName,
  value: string,
  confidence: number,
  field: string,
): void {
  if (value === '') return;
  sink.observe({
    mac: pkt.srcMac,
    ip: pkt.srcMac < 0 ? srcIpText(pkt) : undefined,
    name,
    value,
    confidence,
    protocol,
    field,
    timestampMs: pkt.timestampMs,
  });
}

export function observation(
  pkt: PacketView,
  mac: number,
  ip: string | undefined,
  protocol: string,
  name: ObservationName,
  value: string,
  confidence: number,
  field: string,
): Observation {
  return { mac, ip, name, value, confidence, protocol, field, timestampMs: pkt.timestampMs };
}

/**
 * Decodes DNS wire-format labels (no compression pointers) in [start, end),
 * as used by DHCP option 81 and DHCPv6 option 39.
 */
export function dnsLabels(b: Buffer, start: number, end: number): string {
  const labels: string[] = [];
  let o = start;
  while (o < end) {
    const len = b[o]!;
    if (len === 0 || len > 63 || o + 1 + len > end) break;
    labels.push(text(b, o + 1, o + 1 + len));
    o += 1 + len;
  }
  return labels.join('.');
}
