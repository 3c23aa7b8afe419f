// The human-readable table of `hark-agent inventory`.
import type { DeviceRecord } from '@hark/contracts/inventory';

const COLUMNS: [string, (d: DeviceRecord) => string, number][] = [
  ['MAC', (d) => d.macs[0] ?? '-', 17],
  ['IPv4', (d) => d.ipv4.join(',') || '-', 24],
  ['Vendor', (d) => d.vendor?.value ?? '-', 22],
  ['Hostname', (d) => d.hostname?.value ?? '-', 24],
  ['Model', (d) => d.model?.value ?? '-', 28],
  ['Firmware', (d) => d.firmwareVersion?.value ?? '-', 14],
  ['OS', (d) => d.os?.value ?? '-', 18],
  ['Type', (d) => (d.type ? `${d.category?.value}/${d.type.value}` : '-'), 22],
  ['Protocols', (d) => d.protocols.join(',') || '-', 24],
];

export function formatTable(devices: DeviceRecord[]): string {
  const cell = (text: string, width: number) =>
    text.length > width ? `${text.slice(0, width - 1)}…` : text.padEnd(width);
  const lines = [COLUMNS.map(([title, , w]) => cell(title, w)).join(' ')];
  for (const d of devices) lines.push(COLUMNS.map(([, get, w]) => cell(get(d), w)).join(' '));
  return `${lines.map((l) => l.trimEnd()).join('\n')}\n`;
}
