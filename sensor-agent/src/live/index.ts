export { LibpcapCapture, type LibpcapCaptureOptions, nativePcap } from './libpcap.js';
export {
  LiveCapture,
  type LiveCaptureEvent,
  type LiveCaptureOptions,
  type LiveCaptureStats,
  parseTcpdumpSummary,
} from './tcpdump.js';
