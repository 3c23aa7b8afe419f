export { type Classification, classify } from './classify.js';
export type { AttributeView, Device } from './device.js';
export { lookupVendor, type VendorMatch } from './oui.js';
export { DeviceStore } from './store.js';
