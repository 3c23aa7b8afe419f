// What the observation history needs of an inventory message, read straight
// from its JSON bytes: the envelope's runId, seq, mode and zone, and for each
// device record its byte range and its id and lastSeen. The history stores
// each record as the sensor sent it, so a slice of the payload serves where
// JSON.parse plus a JSON.stringify per record cost the history worker ~3.5 µs
// of its ~10 µs per observation (mqtt-throughput bench).
//
// The payload was validated by the ingest thread before it came here, so
// this reads well-formed JSON only; whatever it cannot read as JSON.parse
// would (a key with escapes, a second "devices", a device without an id)
// makes it return undefined, and the caller falls back to JSON.parse.

export interface ScannedDevice {
  /** Byte offsets of the record's JSON object in the payload: [start, end). */
  start: number;
  end: number;
  id: string;
  lastSeen: string;
}

export interface ScannedInventory {
  runId: string;
  seq: number;
  mode: string;
  zone: string | undefined;
  devices: ScannedDevice[];
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COLON = 0x3a;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;

// Keys of interest, by level: the message object (depth 1) and a device record (depth 3).
const NONE = 0;
const RUN_ID = 1;
const SEQ = 2;
const MODE = 3;
const ZONE = 4;
const DEVICES = 5;
const ID = 6;
const LAST_SEEN = 7;

const envelopeKeys: [number, Buffer][] = [
  [RUN_ID, Buffer.from('runId')],
  [SEQ, Buffer.from('seq')],
  [MODE, Buffer.from('mode')],
  [ZONE, Buffer.from('zone')],
  [DEVICES, Buffer.from('devices')],
];
const deviceKeys: [number, Buffer][] = [
  [ID, Buffer.from('id')],
  [LAST_SEEN, Buffer.from('lastSeen')],
];

function keyOf(json: Uint8Array, start: number, end: number, keys: [number, Buffer][]): number {
  const length = end - start;
  for (const [key, name] of keys) {
    if (name.length !== length) continue;
    let i = 0;
    while (i < length && json[start + i] === name[i]) i++;
    if (i === length) return key;
  }
  return NONE;
}

function isWhitespace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

/** The JSON string's value between its quotes ([start, end) excludes them). */
function stringValue(json: Buffer, start: number, end: number, escaped: boolean): string {
  return escaped
    ? (JSON.parse(json.toString('utf8', start - 1, end + 1)) as string)
    : json.toString('utf8', start, end);
}

/** Scans a validated inventory message; undefined when it is not laid out as expected. */
export function scanInventory(json: Buffer): ScannedInventory | undefined {
  const n = json.length;
  let depth = 0;
  let envelopeKey = NONE;
  let deviceKey = NONE;
  let inDevices = false;
  let sawDevices = false;
  let runId: string | undefined;
  let seq: number | undefined;
  let mode: string | undefined;
  let zone: string | undefined;
  const devices: ScannedDevice[] = [];
  let device: { start: number; id: string | undefined; lastSeen: string | undefined } | undefined;
  let i = 0;
  while (i < n) {
    const c = json[i]!;
    if (c === QUOTE) {
      const start = i + 1;
      let j = start;
      let escaped = false;
      for (;;) {
        const d = json[j];
        if (d === QUOTE) break;
        if (d === undefined) return undefined;
        if (d === BACKSLASH) {
          escaped = true;
          j++;
        }
        j++;
      }
      i = j + 1;
      const atEnvelope = depth === 1;
      const atDevice = inDevices && depth === 3;
      if (!atEnvelope && !atDevice) continue;
      let k = i;
      while (k < n && isWhitespace(json[k]!)) k++;
      if (json[k] === COLON) {
        // A key with escapes may spell one of ours ("r\u0075nId"): left to JSON.parse. Ours have none.
        if (escaped) return undefined;
        if (atEnvelope) {
          envelopeKey = keyOf(json, start, j, envelopeKeys);
          // Two device arrays: JSON.parse keeps the last one only.
          if (envelopeKey === DEVICES && sawDevices) return undefined;
          if (envelopeKey === DEVICES) sawDevices = true;
        } else deviceKey = keyOf(json, start, j, deviceKeys);
        i = k + 1;
        continue;
      }
      if (atEnvelope) {
        if (envelopeKey === RUN_ID) runId = stringValue(json, start, j, escaped);
        else if (envelopeKey === MODE) mode = stringValue(json, start, j, escaped);
        else if (envelopeKey === ZONE) zone = stringValue(json, start, j, escaped);
        envelopeKey = NONE;
      } else if (device) {
        if (deviceKey === ID) device.id = stringValue(json, start, j, escaped);
        else if (deviceKey === LAST_SEEN) device.lastSeen = stringValue(json, start, j, escaped);
        deviceKey = NONE;
      }
      continue;
    }
    if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
      depth++;
      if (depth === 2 && c === OPEN_ARRAY && envelopeKey === DEVICES) inDevices = true;
      else if (depth === 3 && inDevices && c === OPEN_OBJECT) {
        device = { start: i, id: undefined, lastSeen: undefined };
        deviceKey = NONE;
      }
      if (depth === 2) envelopeKey = NONE;
    } else if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) {
      if (depth === 3 && device && c === CLOSE_OBJECT) {
        if (device.id === undefined || device.lastSeen === undefined) return undefined;
        devices.push({ start: device.start, end: i + 1, id: device.id, lastSeen: device.lastSeen });
        device = undefined;
      } else if (depth === 2 && inDevices) inDevices = false;
      depth--;
    } else if (depth === 1 && envelopeKey === SEQ && (c === 0x2d || (c >= 0x30 && c <= 0x39))) {
      let j = i + 1;
      while (j < n) {
        const d = json[j]!;
        if (d === 0x2c || d === CLOSE_OBJECT || isWhitespace(d)) break;
        j++;
      }
      seq = Number(json.toString('latin1', i, j));
      envelopeKey = NONE;
      i = j;
      continue;
    }
    i++;
  }
  if (runId === undefined || seq === undefined || !Number.isFinite(seq) || mode === undefined)
    return undefined;
  return { runId, seq, mode, zone, devices };
}
