// NIC vendor from the IEEE registries, longest prefix first (MA-S 36-bit,
// MA-M 28-bit, MA-L 24-bit). Data: the `oui-data` npm package (silverwind,
// BSD-2-Clause), rebuilt from the IEEE MA-L/MA-M/MA-S CSVs and republished
// as the registry changes; pinned version 2.1.9 was published 2026-08-26.
// It is 5.6 MB of JSON, so it is loaded lazily, once, on first lookup and
// reduced to the organisation name (first line of each entry).
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { isLocallyAdministered } from '../packet/addresses.js';

let table: Map<string, string> | undefined;

function load(): Map<string, string> {
  if (table) return table;
  const require = createRequire(import.meta.url);
  const path = require.resolve('oui-data');
  const raw = JSON.parse(readFileSync(path, 'utf8')) as Record<string, string>;
  table = new Map();
  for (const [prefix, entry] of Object.entries(raw)) {
    const nl = entry.indexOf('\n');
    // Some registrations end in a stray comma ("Siemens AG,"): trim it.
    table.set(prefix.toUpperCase(), (nl < 0 ? entry : entry.slice(0, nl)).replace(/[\s,]+$/, ''));
  }
  return table;
}

export interface VendorMatch {
  vendor: string;
  /** The matched prefix in hex, 6, 7 or 9 digits (MA-L, MA-M, MA-S). */
  prefix: string;
}

/** Vendor of a MAC (48-bit integer); undefined for locally administered or unassigned prefixes. */
export function lookupVendor(mac: number): VendorMatch | undefined {
  if (mac < 0 || isLocallyAdministered(mac)) return undefined;
  const hex = mac.toString(16).toUpperCase().padStart(12, '0');
  const t = load();
  for (const len of [9, 7, 6]) {
    const prefix = hex.slice(0, len);
    const vendor = t.get(prefix);
    // MA-M/MA-S blocks sit inside MA-L prefixes registered to "IEEE Registration Authority".
    if (vendor && !(len === 6 && vendor.startsWith('IEEE Registration Authority'))) return { vendor, prefix };
  }
  return undefined;
}
