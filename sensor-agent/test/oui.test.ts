// NIC vendor lookup (src/inventory/oui.ts) against the registry it reads:
// the oui-data package parsed whole with JSON.parse is the oracle, and every
// registered prefix is looked up through a MAC inside it.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { lookupVendor } from '../src/inventory/oui.js';

const registry = JSON.parse(
  readFileSync(createRequire(import.meta.url).resolve('oui-data'), 'utf8'),
) as Record<string, string>;

/** The organisation the registry names for a MAC: the longest registered prefix, as oui.ts documents it. */
function expected(hex: string): { vendor: string; prefix: string } | undefined {
  for (const len of [9, 7, 6]) {
    const entry = registry[hex.slice(0, len)];
    if (entry === undefined) continue;
    const vendor = entry.split('\n')[0]!.replace(/[\s,]+$/, '');
    if (len === 6 && vendor.startsWith('IEEE Registration Authority')) continue;
    return { vendor, prefix: hex.slice(0, len) };
  }
  return undefined;
}

describe('NIC vendor from the IEEE registries', () => {
  it('names the organisation of the longest registered prefix, for every prefix in the registry', () => {
    const prefixes = Object.keys(registry);
    expect(prefixes.length).toBeGreaterThan(50_000);
    let checked = 0;
    for (const prefix of prefixes) {
      // Two MACs inside the prefix: its first address and one with mixed low digits.
      for (const fill of ['0', 'a5']) {
        const hex = (prefix + fill.repeat(12)).slice(0, 12).toUpperCase();
        const mac = Number.parseInt(hex, 16);
        // Locally administered prefixes (second-lowest bit of the first octet) are never looked up.
        if ((mac / 2 ** 40) & 0x02) {
          expect(lookupVendor(mac)).toBeUndefined();
          continue;
        }
        expect(lookupVendor(mac), hex).toEqual(expected(hex));
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(100_000);
  });

  it('takes the first line of an entry, without a stray trailing comma', () => {
    expect(lookupVendor(0x001b1b_000001)).toEqual({ vendor: 'Siemens AG', prefix: '001B1B' });
    expect(lookupVendor(0x00000c_123456)?.vendor).toBe('Cisco Systems, Inc');
  });

  it('knows no vendor for locally administered MACs or addresses no one registered', () => {
    expect(lookupVendor(0x02_00_00_00_00_01)).toBeUndefined();
    expect(lookupVendor(-1)).toBeUndefined();
    // An MA-L block the IEEE registration authority holds for MA-M/MA-S: outside any sub-block, no one.
    const ra = Object.keys(registry).find(
      (p) => p.length === 6 && registry[p]!.startsWith('IEEE Registration Authority'),
    )!;
    const inside = Object.keys(registry).filter((p) => p.length > 6 && p.startsWith(ra));
    const unassigned = Array.from(
      { length: 16 },
      (_, low) => `${ra}${low.toString(16).toUpperCase()}FFFFF`,
    ).filter((hex) => !inside.some((p) => hex.startsWith(p)));
    expect(unassigned.length).toBeGreaterThan(0);
    for (const hex of unassigned) expect(lookupVendor(Number.parseInt(hex, 16)), hex).toBeUndefined();
  });
});
