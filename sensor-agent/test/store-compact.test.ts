// The compact device store's building blocks: the MAC hash map, the flat
// attribute/evidence encoding and its stated evidence policy, IPv4 parsing.
// (The real-capture inventory tests hold the behaviour end to end.)
import { describe, expect, it } from 'vitest';
import { MAX_EVIDENCE, newDevice, parseIp4 } from '../src/inventory/device.js';
import { MacMap } from '../src/inventory/mac-map.js';
import { DeviceStore } from '../src/inventory/store.js';

describe('MacMap', () => {
  it('stores 48-bit keys through growth, overwrites, iterates every value once', () => {
    const m = new MacMap<number>(16);
    const keys: number[] = [];
    for (let i = 0; i < 20_000; i++) keys.push(0xfe00_0000_0000 + i * 7919);
    for (const [i, k] of keys.entries()) m.set(k, i);
    m.set(keys[5]!, -5);
    expect(m.size).toBe(keys.length);
    expect(m.get(keys[5]!)).toBe(-5);
    expect(m.get(keys[19_999]!)).toBe(19_999);
    expect(m.get(0x0200_0000_0001)).toBeUndefined();
    expect(m.has(keys[0]!)).toBe(true);
    expect([...m.values()].length).toBe(keys.length);
  });
});

describe('Device', () => {
  it('keeps every 48-bit MAC and whole-millisecond times exactly, far apart in time too', () => {
    for (const mac of [0, 1, 0x00_1b_1b_00_00_0a, 0xffff_ffff_ffff, 0x0200_0000_0000]) {
      expect(newDevice(mac, 0).mac).toBe(mac);
    }
    expect(newDevice(-1, 0).mac).toBe(-1);
    const d = newDevice(0x0200_0000_0001, Date.UTC(2009, 0, 1));
    d.seenAt(Date.UTC(2026, 10, 23, 12, 0, 0, 123));
    d.seenAt(Date.UTC(1999, 11, 31) + 0.75); // sub-millisecond parts are dropped, as ISO output drops them
    d.seenAt(Date.UTC(2010, 5, 1)); // inside the interval: changes neither end
    expect(d.lastSeenMs).toBe(Date.UTC(2026, 10, 23, 12, 0, 0, 123));
    expect(d.firstSeenMs).toBe(Date.UTC(1999, 11, 31));
  });
});

describe('parseIp4', () => {
  it('accepts canonical dotted quads only', () => {
    expect(parseIp4('192.168.0.1')).toBe(0xc0a80001);
    expect(parseIp4('255.255.255.255')).toBe(0xffffffff);
    expect(parseIp4('0.0.0.0')).toBe(0);
    for (const bad of ['192.168.0', '192.168.0.1.2', '192.168.00.1', '256.1.1.1', '1..1.1', 'a.b.c.d', ''])
      expect(parseIp4(bad)).toBe(-1);
  });
});

describe('attribute evidence policy', () => {
  const mac = 0x0200_0000_0001;
  const at = (
    store: DeviceStore,
    value: string,
    confidence: number,
    protocol: string,
    field: string,
    ts = 1,
  ) =>
    store.observe({ mac, ip: undefined, name: 'model', value, confidence, protocol, field, timestampMs: ts });

  it('keeps the first MAX_EVIDENCE distinct sources of the value, case variants verbatim, the surest spelling shown', () => {
    const store = new DeviceStore();
    at(store, 'WS-C3560', 0.8, 'cdp', 'platform', 1000);
    at(store, 'WS-C3560', 0.8, 'cdp', 'platform', 2000); // same source: no new evidence
    at(store, 'ws-c3560', 0.9, 'lldp', 'system.description', 3000); // case variant, higher confidence
    for (let i = 0; i < 5; i++) at(store, 'WS-C3560', 0.5, 'snmp', `field${i}`, 4000 + i);
    const [d] = store.toRecords();
    expect(d!.model!.value).toBe('ws-c3560');
    expect(d!.model!.confidence).toBe(0.9);
    expect(d!.model!.evidence).toHaveLength(MAX_EVIDENCE);
    expect(d!.model!.evidence.slice(0, 2)).toEqual([
      { protocol: 'cdp', field: 'platform', value: 'WS-C3560', seen: new Date(1000).toISOString() },
      {
        protocol: 'lldp',
        field: 'system.description',
        value: 'ws-c3560',
        seen: new Date(3000).toISOString(),
      },
    ]);
  });

  it('a different value with higher confidence replaces the attribute and its evidence', () => {
    const store = new DeviceStore();
    at(store, 'A', 0.5, 'http', 'server');
    at(store, 'a', 0.5, 'ssdp', 'server'); // case variant kept aside...
    store.observe({
      mac,
      ip: undefined,
      name: 'hostname',
      value: 'h',
      confidence: 0.8,
      protocol: 'dhcp',
      field: 'option12',
      timestampMs: 1,
    });
    at(store, 'B', 0.9, 'enip', 'product_name', 5);
    at(store, 'C', 0.6, 'snmp', 'sysDescr', 6); // lower: ignored
    const [d] = store.toRecords();
    expect(d!.model).toEqual({
      value: 'B',
      confidence: 0.9,
      evidence: [{ protocol: 'enip', field: 'product_name', value: 'B', seen: new Date(5).toISOString() }],
    });
    expect(d!.hostname!.evidence).toHaveLength(1); // another attribute's evidence is untouched
  });

  it('a source that vouched for the value and now reports another replaces it: the device changed', () => {
    const store = new DeviceStore();
    at(store, 'CPU 1214C', 0.9, 's7comm', 'szl.module', 1);
    at(store, 'CPU 1214C', 0.6, 'http', 'server', 2);
    at(store, 'CPU 1215C', 0.9, 's7comm', 'szl.module', 3); // the same source's newer word
    expect(store.toRecords()[0]!.model).toEqual({
      value: 'CPU 1215C',
      confidence: 0.9,
      evidence: [
        { protocol: 's7comm', field: 'szl.module', value: 'CPU 1215C', seen: new Date(3).toISOString() },
      ],
    });
    at(store, 'CPU 1214C', 0.6, 'http', 'server', 4); // a weaker source still saying the old value
    at(store, 'CPU 1216C', 0.9, 'snmp', 'sysDescr', 5); // an equal source that never vouched for it
    expect(store.toRecords()[0]!.model!.value).toBe('CPU 1215C');
  });

  it('a weak source does not flip the value it guessed: its field may describe something else', () => {
    const store = new DeviceStore();
    // A CIP identity routed over a backplane names whichever module was asked.
    at(store, '1756-L61/B', 0.4, 'enip', 'cip.identity.product_name', 1);
    at(store, 'MVI56', 0.4, 'enip', 'cip.identity.product_name', 2);
    expect(store.toRecords()[0]!.model!.value).toBe('1756-L61/B');
  });

  it('a new device starts with no collections allocated', () => {
    const d = newDevice(mac, 1);
    expect([d.ipv4, d.attrs, d.ev, d.x, d.headerIp4]).toEqual([
      undefined,
      undefined,
      undefined,
      undefined,
      undefined,
    ]);
  });
});
