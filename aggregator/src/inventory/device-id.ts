// The aggregator's id for a merged device. A device id from an agent ("mac:…",
// "ip:…") is unique only within one network, so the site and zone are part of
// the key: the same MAC in two sites, or the same routed IP in two zones, are
// different devices. Parts are joined with "~" (URL-safe, never needs
// escaping in a path) after escaping "~" and "%" inside each part.
const escapePart = (part: string): string => part.replace(/%/g, '%25').replace(/~/g, '%7E');

export function deviceKey(site: string, zone: string | undefined, deviceId: string): string {
  const parts = zone ? [site, zone, deviceId] : [site, deviceId];
  return parts.map(escapePart).join('~');
}
