// Site-to-shard assignment (rendezvous hashing): even, deterministic, and
// stable when the number of shards changes.
import { describe, expect, it } from 'vitest';
import { shardOfSite } from '../src/index.js';

const sites = Array.from({ length: 2000 }, (_, i) => `site-${i}`);

describe('shardOfSite', () => {
  it('spreads sites evenly', () => {
    const counts = new Array(4).fill(0);
    for (const site of sites) counts[shardOfSite(site, 4)]++;
    // 500 each expected; a binomial standard deviation is ~19.
    for (const n of counts) {
      expect(n).toBeGreaterThan(420);
      expect(n).toBeLessThan(580);
    }
  });

  it('moves only the sites the added shard wins when the count grows', () => {
    let moved = 0;
    for (const site of sites) {
      const before = shardOfSite(site, 3);
      const after = shardOfSite(site, 4);
      if (before !== after) {
        expect(after).toBe(3);
        moved++;
      }
    }
    expect(moved / sites.length).toBeGreaterThan(0.2);
    expect(moved / sites.length).toBeLessThan(0.3);
  });

  it('gives one shard everything when there is one', () => {
    expect(sites.every((s) => shardOfSite(s, 1) === 0)).toBe(true);
  });
});
