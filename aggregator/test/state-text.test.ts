// The state file's text is made from a compaction's capture in slices, with
// ingest going on between them (src/ingest/state-text.ts): it must be the
// state as captured, whatever is applied meanwhile.
import type { DeviceRecord } from '@hark/contracts/inventory';
import { describe, expect, it } from 'vitest';
import { AlertStore } from '../src/alerts/store.js';
import type { AggregatorState } from '../src/ingest/handler.js';
import { captureState, stateText } from '../src/ingest/state-text.js';
import { InventoryStore } from '../src/inventory/store.js';
import { silentLogger } from '../src/log.js';
import { attribute, device, inventoryMessage } from './helpers.js';

const origin = { site: 'plant', sensor: 's1', node: 'n1' };
const mac = (i: number) =>
  `00:1d:9c:00:${((i >> 8) & 0xff).toString(16).padStart(2, '0')}:${(i & 0xff).toString(16).padStart(2, '0')}`;
/** A PLC: an OT device, whose protocols the store remembers as they come (they grow in place). */
const plc = (i: number, protocols: string[], lastSeen: string, name: string): DeviceRecord =>
  device(mac(i), {
    protocols,
    category: attribute('ot', 0.8),
    hostname: attribute(`${name}-${i}`, 0.7),
    lastSeen,
  });

/** A site's inventory and alerts: every device is new to them, an alert each. */
class Site {
  readonly inventory = new InventoryStore();
  readonly alerts = new AlertStore({ learningMs: 0, logger: silentLogger });
  private at = Date.parse('2026-12-04T10:00:00.000Z');

  /** Every device seen again a minute later, speaking `protocols`, named `name`. */
  report(devices: number, protocols: string[], name = 'plc'): void {
    this.at += 60_000;
    const seen = new Date(this.at).toISOString();
    this.inventory.apply(
      origin,
      inventoryMessage(Array.from({ length: devices }, (_, i) => plc(i, protocols, seen, name))),
      this.alerts.watch(origin, undefined, this.at),
    );
  }

  state(): AggregatorState {
    return {
      inventory: this.inventory.exportState(),
      dedup: [['plant.s1/n1|run-1', 4, [5, 7]]],
      partial: [],
      alerts: this.alerts.exportState(),
      fleet: [],
    };
  }
}

describe('the state text of a compaction', () => {
  it('is JSON.stringify of the state, with no devices, with fewer than a slice, and with several slices', async () => {
    for (const devices of [0, 3, 2500]) {
      const site = new Site();
      site.report(devices, ['enip']);
      const state = site.state();
      expect(state.alerts?.alerts.length).toBe(devices);
      expect(await stateText(captureState(state), 1000)).toBe(JSON.stringify(state));
    }
    const bare: AggregatorState = { inventory: [], dedup: [], partial: [] };
    expect(await stateText(captureState(bare))).toBe(JSON.stringify(bare));
  });

  it('is the state as captured while devices are updated, learn protocols and raise alerts again, between its slices', async () => {
    const site = new Site();
    // Named, then renamed (an alert per device); as a control device, its protocols are remembered.
    site.report(2500, ['enip']);
    site.report(2500, ['enip'], 'line-2');
    const state = site.state();
    const asCaptured = JSON.stringify(state);
    const captured = captureState(state);
    let updatedWhileSlicing = false;
    let done = false;
    // Ingest between the slices: every device named back and renamed again, which raises the
    // renaming's alert again (its count and time change in place), then heard speaking a protocol
    // never heard from it before, which the store remembers in place.
    setImmediate(() => {
      site.report(2500, ['enip']);
      site.report(2500, ['enip'], 'line-2');
      site.report(2500, ['enip', 'modbus'], 'line-2');
      updatedWhileSlicing = !done;
    });
    const text = await stateText(captured, 500);
    done = true;
    expect(updatedWhileSlicing).toBe(true);
    expect(text).toBe(asCaptured);
    // The site did move on: its next capture says so.
    const next = JSON.parse(await stateText(captureState(site.state()))) as AggregatorState;
    expect(next.inventory[0]!.protocolsSeen).toEqual(['enip', 'modbus']);
    expect(next.inventory[0]!.observations[0]!.record.lastSeen).toBe('2026-12-04T10:05:00.000Z');
    const renamed = next.alerts!.alerts.find((a) => a.kind === 'attribute-changed' && a.to === 'line-2-0');
    expect(renamed?.count).toBe(2);
  });
});
