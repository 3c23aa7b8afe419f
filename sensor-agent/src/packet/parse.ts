import { EtherType } from './ethertypes.js';
import { parseIpv4, parseIpv6 } from './ip.js';
import { parseLink } from './link.js';
import { type PacketView, ParseResult } from './view.js';

/**
 * Parses link, network and transport headers of the frame already loaded
 * into `v` (see PacketView.reset). Never throws: a short or inconsistent
 * header yields MALFORMED with the view filled as far as it got, so link-layer
 * decoders can still use a frame whose IP header is damaged.
 */
export function parsePacket(v: PacketView): ParseResult {
  const link = parseLink(v);
  if (link === 'unsupported') return ParseResult.UNSUPPORTED_LINK;
  if (!link) return ParseResult.MALFORMED;
  if (v.etherType === EtherType.IPV4) return parseIpv4(v) ? ParseResult.OK : ParseResult.MALFORMED;
  if (v.etherType === EtherType.IPV6) return parseIpv6(v) ? ParseResult.OK : ParseResult.MALFORMED;
  return ParseResult.OK;
}
