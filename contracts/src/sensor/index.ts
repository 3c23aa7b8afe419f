export * from './schema.js';
export { sensorCrd } from './crd.js';
export { parseSensorSpec, withSpecDefaults, type ValidationIssue } from './validate.js';
export { parseDuration } from './duration.js';
