// NIC vendor from the IEEE registries, longest prefix first (MA-S 36-bit,
// MA-M 28-bit, MA-L 24-bit). Data: the `oui-data` npm package (silverwind,
// BSD-2-Clause), rebuilt from the IEEE MA-L/MA-M/MA-S CSVs and republished
// as the registry changes; pinned version 2.1.9 was published 2026-08-26.
//
// The package is 5.6 MB of JSON: 53,730 prefixes, each with the organisation's
// full postal address. Parsed whole and held as a Map of prefix strings to
// names (sliced from the address strings, which kept those alive), it took
// 9.7 MB of live heap and 32 MB of RSS in a fresh agent process: 20k devices'
// worth of store. It is loaded lazily, once, on first lookup, read from the
// file's bytes an entry at a time (registryEntries), and held as sorted numeric
// prefixes per block size with an index into one string of the ~30k distinct
// organisation names: 1.4 MB of heap.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { isLocallyAdministered } from '../packet/addresses.js';

/** One registry block size: its prefixes (as numbers, ascending) and each one's name index. */
interface Block {
  /** Prefix length in hex digits: 9 (MA-S), 7 (MA-M) or 6 (MA-L). */
  digits: number;
  /** Float64Array: a 36-bit MA-S prefix does not fit 32 bits. */
  prefixes: Float64Array;
  names: Uint32Array;
}

interface Table {
  /** Longest first. */
  blocks: Block[];
  /** Every distinct name, joined; name i is text.slice(starts[i], starts[i + 1]). */
  text: string;
  starts: Uint32Array;
}

let table: Table | undefined;

function load(): Table {
  if (table) return table;
  const require = createRequire(import.meta.url);
  const path = require.resolve('oui-data');
  const nameIndex = new Map<string, number>();
  const byDigits = new Map<number, [number, number][]>();
  for (const [prefix, name] of registryEntries(readFileSync(path), path)) {
    if (!/^[0-9A-Fa-f]{6,9}$/.test(prefix)) continue;
    let index = nameIndex.get(name);
    if (index === undefined) {
      index = nameIndex.size;
      nameIndex.set(name, index);
    }
    let list = byDigits.get(prefix.length);
    if (!list) {
      list = [];
      byDigits.set(prefix.length, list);
    }
    list.push([Number.parseInt(prefix, 16), index]);
  }
  const blocks: Block[] = [...byDigits]
    .sort(([a], [b]) => b - a)
    .map(([digits, list]) => {
      list.sort((a, b) => a[0] - b[0]);
      return {
        digits,
        prefixes: Float64Array.from(list, ([p]) => p),
        names: Uint32Array.from(list, ([, n]) => n),
      };
    });
  const names = [...nameIndex.keys()];
  const starts = new Uint32Array(names.length + 1);
  for (let i = 0; i < names.length; i++) starts[i + 1] = starts[i]! + names[i]!.length;
  table = { blocks, text: names.join(''), starts };
  return table;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/**
 * The package's one flat JSON object, read from its bytes entry by entry:
 * [prefix, organisation name] (the first line of the entry, stray trailing
 * commas trimmed). JSON.parse of the whole file builds 5.6 MB of address
 * strings at once, and V8 keeps the ~30 MB of heap pages that took resident
 * after they are freed; this never holds more than one entry's text.
 */
function* registryEntries(bytes: Buffer, path: string): Generator<[string, string]> {
  let at = 0;
  const fail = (what: string): never => {
    throw new Error(
      `${path}: ${what} at byte ${at}; the oui-data package is not the flat JSON object of strings it was (reinstall it, or pin the version named in oui.ts)`,
    );
  };
  const skipSpace = () => {
    while (
      at < bytes.length &&
      (bytes[at] === 0x20 || bytes[at] === 0x0a || bytes[at] === 0x0d || bytes[at] === 0x09)
    )
      at++;
  };
  /** The string literal at `at` (its opening quote): [start, end) of its body, and whether it holds escapes. */
  const literal = (): [number, number, boolean] => {
    if (bytes[at] !== QUOTE) fail('expected a string');
    const start = ++at;
    let escaped = false;
    while (at < bytes.length && bytes[at] !== QUOTE) {
      if (bytes[at] === BACKSLASH) {
        escaped = true;
        at++;
      }
      at++;
    }
    if (at >= bytes.length) fail('unterminated string');
    return [start, at++, escaped];
  };
  const text = (start: number, end: number, escaped: boolean): string =>
    escaped
      ? (JSON.parse(`"${bytes.toString('utf8', start, end)}"`) as string)
      : bytes.toString('utf8', start, end);
  skipSpace();
  if (bytes[at++] !== 0x7b) fail("expected '{'");
  skipSpace();
  if (bytes[at] === 0x7d) return;
  for (;;) {
    skipSpace();
    const [ks, ke, kEscaped] = literal();
    skipSpace();
    if (bytes[at++] !== 0x3a) fail("expected ':'");
    skipSpace();
    const [vs, ve, vEscaped] = literal();
    // Only the first line (the organisation) is kept: cut the body at its first "\n" escape.
    let cut = ve;
    for (let i = vs; i < ve - 1; i++) {
      if (bytes[i] === BACKSLASH) {
        if (bytes[i + 1] === 0x6e) {
          cut = i;
          break;
        }
        i++;
      }
    }
    const name = text(vs, cut, vEscaped && bytes.subarray(vs, cut).includes(BACKSLASH)).replace(
      /[\s,]+$/,
      '',
    );
    yield [text(ks, ke, kEscaped), name];
    skipSpace();
    const next = bytes[at++];
    if (next === 0x7d) return;
    if (next !== 0x2c) fail("expected ',' or '}'");
  }
}

function find(prefixes: Float64Array, value: number): number {
  let lo = 0;
  let hi = prefixes.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const p = prefixes[mid]!;
    if (p === value) return mid;
    if (p < value) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}

export interface VendorMatch {
  vendor: string;
  /** The matched prefix in hex, 6, 7 or 9 digits (MA-L, MA-M, MA-S). */
  prefix: string;
}

/** Vendor of a MAC (48-bit integer); undefined for locally administered or unassigned prefixes. */
export function lookupVendor(mac: number): VendorMatch | undefined {
  if (mac < 0 || isLocallyAdministered(mac)) return undefined;
  const t = load();
  for (const block of t.blocks) {
    const value = Math.floor(mac / 16 ** (12 - block.digits));
    const at = find(block.prefixes, value);
    if (at < 0) continue;
    const n = block.names[at]!;
    const vendor = t.text.slice(t.starts[n], t.starts[n + 1]);
    // MA-M/MA-S blocks sit inside MA-L prefixes registered to "IEEE Registration Authority".
    if (block.digits === 6 && vendor.startsWith('IEEE Registration Authority')) continue;
    return { vendor, prefix: value.toString(16).toUpperCase().padStart(block.digits, '0') };
  }
  return undefined;
}
