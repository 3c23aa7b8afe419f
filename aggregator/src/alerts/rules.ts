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

export const ALERT_KINDS = ['new-device', 'attribute-changed'] as const;
export type AlertKind = (typeof ALERT_KINDS)[number];
export const SEVERITIES = ['low', 'medium', 'high'] as const;
export type Severity = (typeof SEVERITIES)[number];

/**
 * The attributes whose change is an alert, and how grave it is. A new maker,
 * model or serial number at the same address is another device in its place
 * (a swap, or a spoof). The NIC's vendor follows the MAC that keys the
 * device, and category and type are hark's own inference: none is watched.
 */
export const WATCHED_ATTRIBUTES: readonly (readonly [AttributeName, Severity])[] = [
  ['manufacturer', 'high'],
  ['model', 'high'],
  ['serialNumber', 'high'],
  ['firmwareVersion', 'medium'],
  ['os', 'medium'],
  ['hostname', 'low'],
];

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
}

/** A device first reported by any sensor. */
export function newDeviceFinding(record: DeviceRecord): Finding {
  const category = record.category?.value;
  return { kind: 'new-device', severity: category && CONTROL_CATEGORIES.has(category) ? 'medium' : 'low' };
}

/**
 * The watched attributes that `record` changed from `previous`, the same
 * sensor node's earlier record of the device. Appended to `out`, which is
 * left as it was when nothing changed (the common case allocates nothing).
 */
export function attributeChanges(previous: DeviceRecord, record: DeviceRecord, out: Finding[]): void {
  for (const [name, severity] of WATCHED_ATTRIBUTES) {
    const before = previous[name];
    const after = record[name];
    if (!before || !after || before === after) continue;
    if (before.value.toLowerCase() === after.value.toLowerCase()) continue;
    if (!sameSource(before, after)) continue;
    out.push({
      kind: 'attribute-changed',
      severity,
      attribute: name,
      from: before.value,
      to: after.value,
      evidence: after.evidence,
    });
  }
}

function sameSource(a: Attribute, b: Attribute): boolean {
  for (const x of a.evidence)
    for (const y of b.evidence) if (x.protocol === y.protocol && x.field === y.field) return true;
  return false;
}
