export * as agentConfig from './agent-config.js';
export * as inventory from './inventory/index.js';
export * as mqtt from './mqtt/index.js';
export * as sensor from './sensor/index.js';
