export * from './addresses.js';
export { EtherType, IpProto } from './ethertypes.js';
export { parsePacket } from './parse.js';
export { decapsulate, MAX_TUNNEL_DEPTH } from './tunnel.js';
export { PacketView, ParseResult } from './view.js';
