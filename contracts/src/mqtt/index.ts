export * from './topics.js';
export * from './messages.js';
