// The aggregator's programmatic API: what the CLI, the end-to-end tests and the demo use.
export { type AggregatorOptions, type RunningAggregator, startAggregator } from './aggregator.js';
export { AlertStore } from './alerts/store.js';
export {
  DEFAULT_MAX_PACKET_BYTES,
  type EmbeddedBroker,
  type EmbeddedBrokerOptions,
  startEmbeddedBroker,
} from './broker/embedded.js';
export { identityFromCertificate, mayPublish, maySubscribe, type PeerIdentity } from './broker/identity.js';
export {
  type MosquittoConfig,
  type MosquittoConfigOptions,
  mosquittoAclFor,
  mosquittoConfigFor,
} from './broker/mosquitto-config.js';
export { DEFAULTS, loadPem, type PemSource } from './config.js';
export { FleetRegistry, type Health, type Sensor, type SensorNode } from './fleet/registry.js';
export { type IngestCore, type IngestCoreOptions, openIngestCore } from './ingest/core.js';
export { deviceKey } from './inventory/device-id.js';
export {
  type MergedView,
  mergeObservations,
  type Observation,
  type SourcedAttribute,
} from './inventory/merge.js';
export type { DeviceQuery } from './inventory/query.js';
export { type Device, InventoryStore } from './inventory/store.js';
export { createLogger } from './log.js';
export { type ShardSpec, shardOfSite } from './scale/shards.js';
