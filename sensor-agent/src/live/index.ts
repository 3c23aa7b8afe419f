export {
  LiveCapture,
  type LiveCaptureEvent,
  type LiveCaptureOptions,
  type LiveCaptureStats,
  parseTcpdumpSummary,
} from './tcpdump.js';
