import { describe, expect, it } from 'vitest';
import {
  decodeMessage,
  encodeInventoryMessage,
  encodeMessage,
  type InventoryMessage,
  MAX_MESSAGE_BYTES,
  type MessageRejected,
  parseSensorCommonName,
  parseTopic,
  subscriptionFor,
  topicFor,
} from '../src/mqtt/index.js';

const id = { site: 'site-a', sensor: 'plant-floor', node: 'edge-a-1' };

describe('MQTT topics', () => {
  it('round-trip site, sensor and node', () => {
    const topic = topicFor('hark', id, 'inventory');
    expect(topic).toBe('hark/v1/site-a.plant-floor/edge-a-1/inventory');
    expect(parseTopic('hark', topic)).toEqual({ ...id, kind: 'inventory' });
  });

  it('match the aggregator subscription level for level', () => {
    const sub = subscriptionFor('hark').split('/');
    const topic = topicFor('hark', id, 'heartbeat').split('/');
    expect(topic.length).toBe(sub.length);
  });

  it('refuse segments that would change the topic structure', () => {
    expect(() => topicFor('hark', { ...id, node: 'a/b' }, 'status')).toThrow(/cannot be a topic segment/);
    expect(parseTopic('hark', 'hark/v1/site-a.x/node/unknown-kind')).toBeUndefined();
    expect(parseTopic('hark', 'other/v1/site-a.x/node/status')).toBeUndefined();
  });

  it('parse certificate identities: the site is the first DNS label', () => {
    expect(parseSensorCommonName('site-a.plant.floor')).toEqual({ site: 'site-a', sensor: 'plant.floor' });
    expect(parseSensorCommonName('hark-aggregator')).toBeUndefined();
  });
});

describe('MQTT messages', () => {
  const status = {
    schema: 1 as const,
    kind: 'status' as const,
    sentAt: new Date().toISOString(),
    agentVersion: '0.1.0',
    online: true,
  };

  it('decode what they encode', () => {
    expect(decodeMessage('status', encodeMessage(status))).toEqual(status);
  });

  it('reject malformed, invalid, misplaced and oversized payloads with a reason', () => {
    const reason = (kind: 'status' | 'inventory', payload: Uint8Array) => {
      try {
        decodeMessage(kind, payload);
        return 'accepted';
      } catch (error) {
        return (error as MessageRejected).reason;
      }
    };
    expect(reason('status', Buffer.from('{not json'))).toBe('not-json');
    expect(reason('status', Buffer.from(JSON.stringify({ ...status, online: 'yes' })))).toBe('schema');
    expect(reason('inventory', encodeMessage(status))).toBe('schema');
    expect(reason('status', Buffer.alloc(MAX_MESSAGE_BYTES + 1, 32))).toBe('oversized');
  });

  it('encode pre-serialized device records as the same inventory message', () => {
    const device = (n: number) => ({
      id: `mac:02:00:00:00:00:0${n}`,
      macs: [`02:00:00:00:00:0${n}`],
      ipv4: [`10.0.0.${n}`],
      ipv6: [],
      protocols: ['arp'],
      firstSeen: '2026-01-01T00:00:00.000Z',
      lastSeen: '2026-01-01T00:00:01.000Z',
      hostname: { value: `h"ü✓${n}`, confidence: 0.8, evidence: [] },
    });
    const { devices: _, ...envelope }: InventoryMessage = {
      schema: 1,
      kind: 'inventory',
      mode: 'snapshot',
      sentAt: new Date().toISOString(),
      agentVersion: '0.1.0',
      seq: 7,
      runId: 'run',
      part: 2,
      parts: 3,
      devices: [],
    };
    for (const devices of [[], [device(1)], [device(1), device(2), device(3)]]) {
      // The records' JSON as bytes (the agent's reports) or as text (the Reporter's deltas).
      for (const json of [Buffer.from(JSON.stringify(devices)), JSON.stringify(devices)]) {
        const payload = encodeInventoryMessage(envelope, json);
        expect(decodeMessage('inventory', payload)).toEqual({ ...envelope, devices });
        expect(payload.equals(encodeMessage({ ...envelope, devices }))).toBe(true);
      }
    }
  });
});
