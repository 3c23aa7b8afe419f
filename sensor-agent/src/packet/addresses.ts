// Address helpers shared by the parser, the decoders and the inventory.
// MACs travel as 48-bit integers; text only at the edges.

const HEX: string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));
const TWO_40 = 0x100_0000_0000;

/**
 * Reads a 6-byte MAC at `offset` as an integer (caller checks bounds): the
 * two halves by hand, because Buffer's generic readUIntBE(offset, 6) showed
 * as 4% of the pipeline's time, read twice for every frame.
 */
export function readMac(b: Buffer, offset: number): number {
  return (
    ((b[offset]! << 16) | (b[offset + 1]! << 8) | b[offset + 2]!) * 0x100_0000 +
    ((b[offset + 3]! << 16) | (b[offset + 4]! << 8) | b[offset + 5]!)
  );
}

export function formatMac(mac: number): string {
  let s = '';
  for (let shift = 40; shift >= 0; shift -= 8) {
    const byte = Math.floor(mac / 2 ** shift) % 256;
    s += shift === 40 ? HEX[byte] : `:${HEX[byte]}`;
  }
  return s;
}

/** Parses "aa:bb:cc:dd:ee:ff" (or with -, or bare hex) to an integer, or -1. */
export function parseMac(text: string): number {
  const hex = text.replace(/[^0-9a-fA-F]/g, '');
  if (hex.length !== 12) return -1;
  return Number.parseInt(hex, 16);
}

/**
 * Only individual (unicast) addresses can be a device: the I/G bit marks
 * multicast and broadcast, and the all-zero address is what loopback and
 * test harness captures carry.
 */
export function isDeviceMac(mac: number): boolean {
  if (mac <= 0) return false;
  const firstOctet = Math.floor(mac / TWO_40);
  return (firstOctet & 0x01) === 0;
}

/** Locally administered (U/L bit set): randomised or assigned by software, so the OUI means nothing. */
export function isLocallyAdministered(mac: number): boolean {
  return (Math.floor(mac / TWO_40) & 0x02) !== 0;
}

export function formatIp4(ip: number): string {
  return `${ip >>> 24}.${(ip >>> 16) & 0xff}.${(ip >>> 8) & 0xff}.${ip & 0xff}`;
}

export function readIp4(b: Buffer, offset: number): number {
  return b.readUInt32BE(offset);
}

/** An IPv4 address that names a single host (not 0/8, loopback, multicast, broadcast). */
export function isHostIp4(ip: number): boolean {
  const first = ip >>> 24;
  return first !== 0 && first !== 127 && first < 224;
}

/** RFC 5952 text form of the 16 bytes at `offset`. */
export function formatIp6(b: Buffer, offset: number): string {
  const words: number[] = [];
  for (let i = 0; i < 8; i++) words.push(b.readUInt16BE(offset + i * 2));
  // Longest run (>= 2) of zero words becomes "::".
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = words.map((w) => w.toString(16));
  if (bestStart < 0) return hex.join(':');
  const head = hex.slice(0, bestStart).join(':');
  const tail = hex.slice(bestStart + bestLen).join(':');
  return `${head}::${tail}`;
}

/** Unicast IPv6 that identifies a host: not unspecified, loopback or multicast. */
export function isHostIp6(b: Buffer, offset: number): boolean {
  if (b[offset] === 0xff) return false;
  for (let i = 0; i < 15; i++) if (b[offset + i] !== 0) return true;
  return b[offset + 15]! > 1;
}
