// What in a sensor's new record of a device a security team must hear of: a
// device that was not there before, and a device that now says something
// else about what it is (another model or serial number in its place, a
// firmware upgrade, a reinstalled OS, a renamed host). These are the asset
// alerts of OT monitoring (Defender for IoT's "new asset detected" and
// "firmware version changed", Claroty's and Nozomi's asset-change alerts).
//
// A change counts only when the same source said both values: the old value's
// evidence and the new value's share a protocol field. A value that a surer
// source replaced (hark learning more about a device, not the device
// changing) shares none, and raises nothing. The agent keeps a source's
// newer word in place of its older one only from sources sure enough to
// describe the device itself (sensor-agent inventory/device.ts), so a field
// that names several things in turn (a routed CIP identity) does not flip.
import type { Attribute, AttributeName, DeviceRecord, Evidence } from '@hark/contracts/inventory';

export const ALERT_KINDS = [
  'new-device',
  'attribute-changed',
  'new-protocol',
  'sensor-down',
  'certificate-expiring',
] as const;
export type AlertKind = (typeof ALERT_KINDS)[number];
export const SEVERITIES = ['low', 'medium', 'high'] as const;
export type Severity = (typeof SEVERITIES)[number];

/** Categories where a new device is itself a finding: control networks change by engineering, not by chance. */
const CONTROL_CATEGORIES = new Set(['ot', 'bms']);

export interface Finding {
  kind: AlertKind;
  severity: Severity;
  attribute?: AttributeName;
  from?: string;
  to?: string;
  /** The new value's evidence. */
  evidence?: Evidence[];
  /** A control device's new protocol. */
  protocol?: string;
}

/** A device first reported by any sensor. */
export function newDeviceFinding(record: DeviceRecord): Finding {
  const category = record.category?.value;
  return { kind: 'new-device', severity: category && CONTROL_CATEGORIES.has(category) ? 'medium' : 'low' };
}

/**
 * A control device (OT, BMS) speaking a protocol no sensor heard from it
 * before: a PLC answering a new engineering protocol, an RTU polled over
 * another. Control devices speak what their configuration says, so a new
 * protocol is a change of configuration, or someone trying one.
 */
export function newProtocolFinding(protocol: string): Finding {
  return { kind: 'new-protocol', severity: 'medium', protocol };
}

/**
 * The watched attributes that `record` changed from `previous`, the same
 * sensor node's earlier record of the device, appended to `out` (left as it
 * was when nothing changed: the common case allocates nothing). A new maker,
 * model or serial number at the same address is another device in its place
 * (a swap, or a spoof). The NIC's vendor follows the MAC that keys the
 * device, and category and type are hark's own inference: none is watched.
 * Written out attribute by attribute: a loop over a table of them, with keyed
 * loads, cost ~0.7 µs per record on this host, as much as the rest of the
 * merge.
 */
export function attributeChanges(previous: DeviceRecord, record: DeviceRecord, out: Finding[]): void {
  compare('manufacturer', 'high', previous.manufacturer, record.manufacturer, out);
  compare('model', 'high', previous.model, record.model, out);
  compare('serialNumber', 'high', previous.serialNumber, record.serialNumber, out);
  compare('firmwareVersion', 'medium', previous.firmwareVersion, record.firmwareVersion, out);
  compare('os', 'medium', previous.os, record.os, out);
  compare('hostname', 'low', previous.hostname, record.hostname, out);
}

function compare(
  name: AttributeName,
  severity: Severity,
  before: Attribute | undefined,
  after: Attribute | undefined,
  out: Finding[],
): void {
  // The common case, the same value restated, is settled without lower-casing (which allocates).
  if (!before || !after || before.value === after.value) return;
  if (before.value.toLowerCase() === after.value.toLowerCase()) return;
  if (!sameSource(before, after)) return;
  out.push({
    kind: 'attribute-changed',
    severity,
    attribute: name,
    from: before.value,
    to: after.value,
    evidence: after.evidence,
  });
}

function sameSource(a: Attribute, b: Attribute): boolean {
  for (const x of a.evidence)
    for (const y of b.evidence) if (x.protocol === y.protocol && x.field === y.field) return true;
  return false;
}
