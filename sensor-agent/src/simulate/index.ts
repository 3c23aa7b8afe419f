export * as encoders from './encoders.js';
export { PcapWriter, pcapFileHeader, pcapRecord } from './pcap-writer.js';
export {
  DEVICE_CLASSES,
  type DeviceClass,
  planSite,
  type SimulatedDevice,
  type SimulatedFrame,
  type SiteOptions,
  simulateSite,
  writeSitePcap,
} from './site.js';
