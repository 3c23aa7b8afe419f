export { type Compression, detectCompression } from './decompress.js';
export { CaptureFormatError } from './errors.js';
export { FrameBatch } from './frames.js';
export { LinkType, linkTypeName } from './linktypes.js';
export { PcapParser } from './pcap.js';
export { PcapngParser } from './pcapng.js';
export {
  type CaptureSource,
  createParser,
  detectFormat,
  type ReadCaptureOptions,
  readCapture,
  readCaptureBatches,
} from './reader.js';
export type { CapturedPacket, CaptureFormat, CaptureParser } from './types.js';
