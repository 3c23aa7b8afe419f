export {
  type Category,
  CLASSIFY_THRESHOLD,
  type Classification,
  classify,
  type Verdict,
} from './classify.js';
export type { AttributeView, Device } from './device.js';
export { lookupVendor, type VendorMatch } from './oui.js';
export { DeviceStore } from './store.js';
