export * from './certificates.js';
export * from './crl.js';
