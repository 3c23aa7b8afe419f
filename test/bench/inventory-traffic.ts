// The inventory traffic of the aggregator's benchmarks: four sensors on two
// sites, each sending messages of 100 device records (~50 KB of JSON) from a
// pool of 10,000 devices whose lastSeen moves on, so the inventory stays
// bounded and a long run is updates, as a site's steady state is.
import type { DeviceRecord } from '@hark/contracts/inventory';

export const SENSORS = [
  { site: 'site-a', sensor: 's1' },
  { site: 'site-a', sensor: 's2' },
  { site: 'site-b', sensor: 's1' },
  { site: 'site-b', sensor: 's2' },
];
export const DEVICES_PER_MESSAGE = 100;
/**
 * 4 x 1,500 x 100 = 600k observations per phase. At 200k a hark phase lasted ~2 s, and the first
 * messages' way through every stage (spool, broker, WAL, worker) and the last ones' were a good part
 * of it: at 600k the live and raw rates both read ~20% higher, the rate a long run holds.
 */
export const MESSAGES_PER_SENSOR = 1500;
/** Each sensor cycles over this many devices (lastSeen moves on), so the inventory stays bounded. */
export const POOL_PER_SENSOR = 10_000;

function macOf(n: number): string {
  const b = [2, (n / 2 ** 32) & 0xff, (n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];
  return b.map((x) => x.toString(16).padStart(2, '0')).join(':');
}

function device(n: number, seen: string): DeviceRecord {
  const mac = macOf(n);
  const hostname = `host-${n}`;
  return {
    id: `mac:${mac}`,
    macs: [mac],
    ipv4: [`10.${(n >>> 16) & 0xff}.${(n >>> 8) & 0xff}.${n & 0xff}`],
    ipv6: [],
    protocols: ['arp', 'dhcp'],
    firstSeen: seen,
    lastSeen: seen,
    hostname: {
      value: hostname,
      confidence: 0.8,
      evidence: [{ protocol: 'dhcp', field: 'option12.hostname', value: hostname, seen }],
    },
    model: {
      value: `Model-${n % 97}`,
      confidence: 0.85,
      evidence: [{ protocol: 'mdns', field: 'TXT.model', value: `Model-${n % 97}`, seen }],
    },
  };
}

/** `count` messages of one sensor: batches of its pool (or, `unique`, of devices never sent before), lastSeen moving on. */
export function batchesFor(
  sensorIndex: number,
  count: number,
  unique = false,
  t0 = Date.now(),
): DeviceRecord[][] {
  const out: DeviceRecord[][] = [];
  const base = (sensorIndex + 1) * 1_000_000 + (unique ? 500_000 : 0);
  for (let m = 0; m < count; m++) {
    const seen = new Date(t0 + m * 1000).toISOString();
    const batch: DeviceRecord[] = [];
    for (let d = 0; d < DEVICES_PER_MESSAGE; d++) {
      const k = m * DEVICES_PER_MESSAGE + d;
      batch.push(device(base + (unique ? k : k % POOL_PER_SENSOR), seen));
    }
    out.push(batch);
  }
  return out;
}
