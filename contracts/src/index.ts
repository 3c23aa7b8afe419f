export * as sensor from './sensor/index.js';
export * as mqtt from './mqtt/index.js';
export * as inventory from './inventory/index.js';
export * as agentConfig from "./agent-config.js";
