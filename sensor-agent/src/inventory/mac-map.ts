// A MAC (48-bit integer) -> value hash map on a Float64Array of keys with
// open addressing (linear probing), for the device index. A Map<number, V>
// keyed by MACs boxes every key above 2^31 in a 16-byte heap number and spends
// ~3 words per entry plus buckets; this spends 16 bytes per slot at a load
// factor of at most 3/4: at 100k devices ~2.6 MB instead of ~5.3 MB.
// Keys are never deleted (a device, once seen, stays).

const EMPTY = -1;
const TWO_32 = 4294967296;

export class MacMap<V> {
  private keys: Float64Array;
  private vals: (V | undefined)[];
  private count = 0;

  constructor(capacity = 1024) {
    let c = 16;
    while (c < capacity) c *= 2;
    this.keys = new Float64Array(c).fill(EMPTY);
    this.vals = new Array<V | undefined>(c).fill(undefined);
  }

  get size(): number {
    return this.count;
  }

  private slot(mac: number): number {
    const keys = this.keys;
    const mask = keys.length - 1;
    // `mac | 0` is the low 32 bits (ToInt32 is modulo 2^32), as `(mac % TWO_32) | 0` was: the same hash
    // without a floating-point modulo, which V8 compiles to a call (~8 ns per lookup).
    let h = Math.imul(mac | 0, 0x9e3779b1) ^ Math.imul(Math.floor(mac / TWO_32), 0x85ebca6b);
    h ^= h >>> 15;
    let i = h & mask;
    for (;;) {
      const k = keys[i]!;
      if (k === mac || k === EMPTY) return i;
      i = (i + 1) & mask;
    }
  }

  get(mac: number): V | undefined {
    const i = this.slot(mac);
    return this.keys[i] === mac ? this.vals[i] : undefined;
  }

  has(mac: number): boolean {
    return this.keys[this.slot(mac)] === mac;
  }

  set(mac: number, value: V): void {
    let i = this.slot(mac);
    if (this.keys[i] !== mac) {
      if ((this.count + 1) * 4 > this.keys.length * 3) {
        this.rehash(this.keys.length * 2);
        i = this.slot(mac);
      }
      this.keys[i] = mac;
      this.count++;
    }
    this.vals[i] = value;
  }

  *values(): IterableIterator<V> {
    const keys = this.keys;
    for (let i = 0; i < keys.length; i++) if (keys[i] !== EMPTY) yield this.vals[i]!;
  }

  private rehash(capacity: number): void {
    const keys = this.keys;
    const vals = this.vals;
    this.keys = new Float64Array(capacity).fill(EMPTY);
    this.vals = new Array<V | undefined>(capacity).fill(undefined);
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i]!;
      if (k === EMPTY) continue;
      const j = this.slot(k);
      this.keys[j] = k;
      this.vals[j] = vals[i];
    }
  }
}
