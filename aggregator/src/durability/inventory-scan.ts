// What the observation history needs of an inventory message, read straight
// from its JSON bytes: the envelope's runId, seq, mode and zone, and for each
// device record its byte range, its id and its lastSeen (in ms). The history stores
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
  /** lastSeen as Date.parse reads it: ms since the epoch. */
  lastSeenMs: number;
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

const DIGIT_0 = 0x30;

/** The number the `count` ASCII digits at json[at] spell; -1 if one is not a digit. */
function digits(json: Uint8Array, at: number, count: number): number {
  let n = 0;
  for (let i = at; i < at + count; i++) {
    const d = json[i]! - DIGIT_0;
    if (d < 0 || d > 9) return -1;
    n = n * 10 + d;
  }
  return n;
}

/**
 * Date.parse of the JSON string json[start, end) (its quotes excluded) for
 * the layout agents write, "YYYY-MM-DDTHH:MM:SS[.fraction]Z", read from the
 * bytes: making the string and parsing it was ~0.7 µs of the history
 * worker's time per observation. NaN for anything else (the caller then asks
 * Date.parse); fields are kept to ranges where Date.UTC and Date.parse agree
 * (days past the 28th included: both roll them into the next month).
 */
function utcMillis(json: Uint8Array, start: number, end: number): number {
  if (end - start < 20 || json[end - 1] !== 0x5a /* Z */) return Number.NaN;
  if (json[start + 4] !== 0x2d || json[start + 7] !== 0x2d || json[start + 10] !== 0x54) return Number.NaN;
  if (json[start + 13] !== COLON || json[start + 16] !== COLON) return Number.NaN;
  const year = digits(json, start, 4);
  const month = digits(json, start + 5, 2);
  const day = digits(json, start + 8, 2);
  const hour = digits(json, start + 11, 2);
  const minute = digits(json, start + 14, 2);
  const second = digits(json, start + 17, 2);
  // Date.UTC reads years 0-99 as 1900-1999.
  if (year < 100 || month < 1 || month > 12 || day < 1 || day > 31) return Number.NaN;
  if (hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 59) return Number.NaN;
  let ms = 0;
  const fraction = start + 19;
  if (fraction < end - 1) {
    // Date.parse keeps the first three digits of a fraction and ignores the rest.
    const length = end - 1 - fraction - 1;
    if (json[fraction] !== 0x2e || length < 1) return Number.NaN;
    for (let i = 0; i < 3; i++) {
      ms *= 10;
      if (i < length) {
        const d = json[fraction + 1 + i]! - DIGIT_0;
        if (d < 0 || d > 9) return Number.NaN;
        ms += d;
      }
    }
    if (digits(json, fraction + 1, length) < 0) return Number.NaN;
  }
  return Date.UTC(year, month - 1, day, hour, minute, second, ms);
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
  let device: { start: number; id: string | undefined; lastSeenMs: number | undefined } | undefined;
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
        else if (deviceKey === LAST_SEEN) {
          const ms = escaped ? Number.NaN : utcMillis(json, start, j);
          device.lastSeenMs = Number.isNaN(ms) ? Date.parse(stringValue(json, start, j, escaped)) : ms;
        }
        deviceKey = NONE;
      }
      continue;
    }
    if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
      depth++;
      if (depth === 2 && c === OPEN_ARRAY && envelopeKey === DEVICES) inDevices = true;
      else if (depth === 3 && inDevices && c === OPEN_OBJECT) {
        device = { start: i, id: undefined, lastSeenMs: undefined };
        deviceKey = NONE;
      }
      if (depth === 2) envelopeKey = NONE;
    } else if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) {
      if (depth === 3 && device && c === CLOSE_OBJECT) {
        if (device.id === undefined || device.lastSeenMs === undefined) return undefined;
        devices.push({ start: device.start, end: i + 1, id: device.id, lastSeenMs: device.lastSeenMs });
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
