export { sensorCrd } from './crd.js';
export { parseDuration } from './duration.js';
export * from './schema.js';
export { parseSensorSpec, type ValidationIssue, withSpecDefaults } from './validate.js';
