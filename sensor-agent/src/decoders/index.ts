export { arpDecoder } from './arp.js';
export { cdpDecoder } from './cdp.js';
export { dhcpDecoder } from './dhcp.js';
export { dhcpv6Decoder } from './dhcpv6.js';
export { edpDecoder } from './edp.js';
export { fdpDecoder } from './fdp.js';
export { lldpDecoder } from './lldp.js';
export { mdnsDecoder } from './mdns.js';
export { nbnsDecoder } from './nbns.js';
export { ALL_DECODERS, DecoderIndex } from './registry.js';
export { ssdpDecoder } from './ssdp.js';
export { type DescriptionFacts, parseSystemDescription } from './sysdescr.js';
export { type ClientHello, ja4, ja4Remembered, parseClientHello } from './tls.js';
export type {
  Decoder,
  DecoderFamily,
  HintName,
  Observation,
  ObservationName,
  ObservationSink,
} from './types.js';
