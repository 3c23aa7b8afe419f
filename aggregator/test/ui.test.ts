// The web UI in a real browser (Debian's Chromium, driven by playwright-core)
// against a real aggregator: devices published through the embedded broker
// show in the table, the search narrows it, a click opens the device with its
// evidence and its history from the Parquet log, the fleet view lists the
// sensors, and a hostile hostname is shown as text, never run as markup.
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { topicFor } from '@hark/contracts/mqtt';
import type { MqttClient } from 'mqtt';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningAggregator } from '../src/index.js';
import {
  attribute,
  CHROMIUM,
  chromiumAvailable,
  connectSensor,
  createPki,
  device,
  eventually,
  getJson,
  heartbeat,
  inventory,
  launchChromium,
  startWithEmbeddedBroker,
} from './helpers.js';

const available = chromiumAvailable();
if (!available)
  console.warn(
    `ui.test: skipped, no Chromium at ${CHROMIUM} (apt-get install chromium, or set HARK_CHROMIUM)`,
  );

const HOSTILE = '<img src=x onerror="window.__pwned=1">';

describe.skipIf(!available)('web UI in Chromium', () => {
  let aggregator: RunningAggregator;
  let browser: Browser;
  let sensor: MqttClient;
  let work: string;

  beforeAll(async () => {
    const pki = await createPki();
    work = mkdtempSync(join(tmpdir(), 'hark-ui-'));
    aggregator = await startWithEmbeddedBroker(pki, {
      dataDir: join(work, 'data'),
      alertLearningMs: 0,
    });
    sensor = await connectSensor(
      `mqtts://127.0.0.1:${aggregator.brokerPort}`,
      pki.ca.certPem,
      await pki.sensor('plant-1.s1'),
      { clientId: 'plant-1.s1.edge-1' },
    );
    const topic = (kind: 'inventory' | 'heartbeat') =>
      topicFor('hark', { site: 'plant-1', sensor: 's1', node: 'edge-1' }, kind);
    await sensor.publishAsync(topic('heartbeat'), heartbeat(), { qos: 1 });
    for (const [i, firmware] of ['V4.2.0', 'V4.2.3'].entries()) {
      const seen = new Date(Date.UTC(2026, 0, 1, 0, i)).toISOString();
      await sensor.publishAsync(
        topic('inventory'),
        inventory(
          [
            device('00:1b:1b:00:00:01', {
              ipv4: ['10.1.0.10'],
              protocols: ['s7comm', 'profinet'],
              lastSeen: seen,
              vendor: attribute('Siemens', 0.95, seen),
              model: attribute('S7-1500', 0.9, seen),
              firmwareVersion: attribute(firmware, 0.9, seen),
              type: attribute('plc', 0.8, seen),
              hostname: attribute('plc-line-1', 0.7, seen),
            }),
            device('02:00:00:00:00:66', {
              ipv4: ['10.1.0.66'],
              hostname: attribute(HOSTILE, 0.5, seen),
              os: attribute('Debian 12', 0.65, seen),
            }),
          ],
          { runId: 'ui-run', seq: i },
        ),
        { qos: 1 },
      );
    }
    await eventually(async () => {
      expect((await getJson(aggregator.httpUrl, '/api/v1/devices?site=plant-1')).body.total).toBe(2);
    });
    await aggregator.compact();
    browser = await launchChromium();
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await sensor?.endAsync(true);
    await aggregator?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it('lists, searches and opens a device with its evidence and history; shows the fleet', async () => {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (err) => errors.push(err.message));
    await page.goto(aggregator.httpUrl);

    const rows = page.locator('#device-rows tr');
    await expect.poll(() => rows.count()).toBe(2);
    await expect.poll(() => page.locator('#device-count').textContent()).toBe('2');
    // The hostile hostname is text in its cell; no element was made of it, nothing ran.
    await expect.poll(() => page.locator('#device-rows').textContent()).toContain(HOSTILE);
    expect(await page.locator('#device-rows img').count()).toBe(0);
    // Each device's OS has its own column.
    const headers = await page.locator('table:has(#device-rows) thead th').allTextContents();
    const osCells = await page
      .locator(`#device-rows tr td:nth-child(${headers.indexOf('OS') + 1})`)
      .allTextContents();
    expect(osCells.some((c) => c.includes('Debian 12'))).toBe(true);
    expect(await page.evaluate(() => (globalThis as { __pwned?: number }).__pwned)).toBeUndefined();

    await page.fill('input[name="q"]', 'siemens');
    await expect.poll(() => rows.count()).toBe(1);
    expect(await rows.first().textContent()).toContain('S7-1500');

    await rows.first().click();
    const dialog = page.locator('#device-detail');
    await expect.poll(() => dialog.isVisible()).toBe(true);
    expect(await page.locator('#device-title').textContent()).toBe('plc-line-1');
    const attributes = await page.locator('#attribute-rows').textContent();
    expect(attributes).toContain('Firmware');
    expect(attributes).toContain('V4.2.3');
    expect(attributes).toContain('dhcp test = Siemens');
    // The history: both reports, newest first, each with the firmware it stated.
    const history = page.locator('#history-rows tr');
    await expect.poll(() => history.count()).toBe(2);
    expect(await history.first().textContent()).toContain('s1/edge-1');
    await page.click('#close-detail');
    await expect.poll(() => dialog.isVisible()).toBe(false);

    await page.click('nav a[data-view="fleet"]');
    await expect.poll(() => page.locator('#sensor-rows').textContent()).toContain('plant-1.s1');

    // Alerts: two new devices and the PLC's firmware upgrade, newest first; hostile text stays text.
    await page.click('nav a[data-view="alerts"]');
    const alerts = page.locator('#alert-rows tr');
    await expect.poll(() => alerts.count()).toBe(3);
    expect(await page.locator('#alert-count').textContent()).toBe('3');
    expect(await alerts.first().textContent()).toContain(
      'Firmware version of plc-line-1 (S7-1500) changed from V4.2.0 to V4.2.3',
    );
    expect(await page.locator('#alert-rows').textContent()).toContain(`New device ${HOSTILE}`);
    expect(await page.locator('#alert-rows img').count()).toBe(0);
    await page.selectOption('#alert-filters select[name="kind"]', 'attribute-changed');
    await expect.poll(() => alerts.count()).toBe(1);
    // An alert opens its device, which lists its own alerts.
    await alerts.first().click();
    await expect.poll(() => dialog.isVisible()).toBe(true);
    expect(await page.locator('#device-title').textContent()).toBe('plc-line-1');
    await expect.poll(() => page.locator('#device-alert-rows tr').count()).toBe(2);
    expect(await page.locator('#device-alert-rows').textContent()).toContain('medium');
    // Its new-device alert (the older one, listed last) acknowledged from the device itself: its list
    // says who at once, and the dialog stays open.
    page.once('dialog', (prompt) => void prompt.accept(''));
    await page.locator('#device-alert-rows button.acknowledge').last().click();
    await expect
      .poll(() => page.locator('#device-alert-rows').textContent())
      .toContain('Acknowledged by anonymous');
    expect(await dialog.isVisible()).toBe(true);
    expect(await page.locator('#device-alert-rows button.acknowledge').count()).toBe(1);

    // Acknowledged with a comment, the upgrade leaves the open alerts and shows who took note of it.
    await page.keyboard.press('Escape');
    await expect.poll(() => dialog.isVisible()).toBe(false);
    page.once('dialog', (prompt) => void prompt.accept('planned upgrade'));
    await alerts.first().locator('button.acknowledge').click();
    await expect.poll(() => page.locator('#alert-rows').textContent()).toContain('No alerts');
    await page.selectOption('#alert-filters select[name="acknowledged"]', 'true');
    await expect.poll(() => alerts.first().textContent()).toContain('Acknowledged by anonymous');
    expect(await alerts.first().locator('td').last().getAttribute('title')).toContain('planned upgrade');
    expect(errors).toEqual([]);
  }, 60_000);

  it('shows the device, and why its history is unavailable, when a history file is damaged', async () => {
    const days = join(work, 'data', 'history', 'observations', 'site=plant-1');
    const damaged = join(days, readdirSync(days)[0]!, 'observations-999999999999.parquet');
    writeFileSync(damaged, 'not parquet');
    try {
      const page = await browser.newPage();
      await page.goto(aggregator.httpUrl);
      await page.fill('input[name="q"]', 'siemens');
      const rows = page.locator('#device-rows tr');
      await expect.poll(() => rows.count()).toBe(1);
      await rows.first().click();
      await expect.poll(() => page.locator('#device-detail').isVisible()).toBe(true);
      expect(await page.locator('#attribute-rows').textContent()).toContain('S7-1500');
      const history = await page.locator('#history-rows').textContent();
      expect(history).toContain('History unavailable');
      expect(history).toContain('move it aside');
    } finally {
      rmSync(damaged);
    }
  }, 60_000);
});
