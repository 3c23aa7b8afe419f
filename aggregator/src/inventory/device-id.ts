// The aggregator's id for a merged device. A device id from an agent ("mac:…",
// "ip:…") is unique only within one network, so the site and zone are part of
// the key: the same MAC in two sites, or the same routed IP in two zones, are
// different devices. Parts are joined with "~" (URL-safe, never needs
// escaping in a path) after escaping "~" and "%" inside each part.
const escapePart = (part: string): string =>
  part.includes('%') || part.includes('~') ? part.replace(/%/g, '%25').replace(/~/g, '%7E') : part;

export function deviceKey(site: string, zone: string | undefined, deviceId: string): string {
  return deviceKeyPrefix(site, zone) + escapePart(deviceId);
}

/** What every key of a site (and zone) starts with: computed once for a message's devices. */
export function deviceKeyPrefix(site: string, zone: string | undefined): string {
  return zone ? `${escapePart(site)}~${escapePart(zone)}~` : `${escapePart(site)}~`;
}

/** A device's key from its site's prefix (deviceKeyPrefix). */
export function deviceKeyWithin(prefix: string, deviceId: string): string {
  return prefix + escapePart(deviceId);
}
