// Programmatic API of @hark/sensor-agent: what the CLI is built from, and what
// end-to-end tests drive in-process.
export {
  type AgentHandle,
  autoInterfaces,
  type InventoryOutput,
  InventoryReports,
  LiveSource,
  loadAgentConfig,
  MAX_DEVICE_BYTES,
  NoCaptureInterfaceError,
  Reporter,
  type RunAgentOptions,
  resolveInterfaces,
  runAgent,
  splitBySize,
} from './agent/index.js';
export {
  type CapturedPacket,
  type CaptureFormat,
  CaptureFormatError,
  type CaptureSource,
  detectFormat,
  FrameBatch,
  LinkType,
  type ReadCaptureOptions,
  readCapture,
  readCaptureBatches,
} from './capture/index.js';
export {
  ALL_DECODERS,
  type Decoder,
  type DecoderFamily,
  DecoderIndex,
  type Observation,
  type ObservationName,
  type ObservationSink,
} from './decoders/index.js';
export { classify, DeviceStore, lookupVendor } from './inventory/index.js';
export {
  LibpcapCapture,
  LiveCapture,
  type LiveCaptureEvent,
  type LiveCaptureOptions,
  type LiveCaptureStats,
  nativePcap,
} from './live/index.js';
export { pipelineAddon } from './native-addon.js';
export { formatMac, isDeviceMac, PacketView, ParseResult, parseMac, parsePacket } from './packet/index.js';
export {
  buildInventory,
  type InventoryResult,
  Pipeline,
  type PipelineOptions,
  type PipelineStats,
} from './pipeline.js';
export { planSite, type SiteOptions, simulateSite, writeSitePcap } from './simulate/index.js';
export { AGENT_VERSION } from './version.js';
