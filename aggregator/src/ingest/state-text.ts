// The aggregator's state as the JSON text of its state file, made at a
// compaction without stalling ingest for the size of the inventory. Handing
// the captured state to the history worker as objects cost a structured
// clone on the ingest thread of every device's records: 229 ms for 40,000
// devices and as many alerts in the ingest harness
// (test/bench/ingest-passes.ts), growing with the inventory, at every
// compaction. JSON.stringify of the same takes about half as long; here the
// two long lists (devices, alerts) are serialized in slices with ingest going
// on between them, and what is left at capture took ~5 ms.
//
// Slicing is sound because a capture is a list of values as they were: the
// inventory replaces a device's record with each update and never changes
// one (its protocolsSeen, which grows in place, is copied at capture by
// InventoryStore.exportState), and an alert, whose count and times change in
// place, is copied at capture here (its nested values are replaced, never
// changed). Everything else is serialized at capture, whole.
import type { AggregatorState } from './handler.js';

/** A captured state: JSON text, and between its pieces the lists still to serialize. */
export interface CapturedState {
  pieces: (string | readonly unknown[])[];
}

/** Call at the safe point the state is taken at: serializes all but the two lists now. */
export function captureState(state: AggregatorState): CapturedState {
  const pieces: (string | readonly unknown[])[] = [];
  let text = '';
  const list = (values: readonly unknown[]) => {
    pieces.push(text, values);
    text = '';
  };
  // In the order of the state's own keys, skipping undefined ones: the text JSON.stringify gives.
  const object = (value: object, each: (key: string, value: unknown) => void) => {
    text += '{';
    let first = true;
    for (const [key, v] of Object.entries(value)) {
      if (v === undefined) continue;
      text += `${first ? '' : ','}${JSON.stringify(key)}:`;
      first = false;
      each(key, v);
    }
    text += '}';
  };
  object(state, (key, value) => {
    if (key === 'inventory') list(value as readonly unknown[]);
    else if (key === 'alerts')
      object(value as object, (inner, v) => {
        if (inner === 'alerts') list((v as readonly object[]).map((alert) => ({ ...alert })));
        else text += JSON.stringify(v);
      });
    else text += JSON.stringify(value);
  });
  pieces.push(text);
  return { pieces };
}

/**
 * The JSON text of the captured state, the same text as JSON.stringify of
 * the AggregatorState it was taken from: its lists serialized
 * `valuesPerSlice` values at a time, a turn of the event loop apart.
 */
export async function stateText(captured: CapturedState, valuesPerSlice = 1000): Promise<string> {
  const out: string[] = [];
  let sliced = false;
  for (const piece of captured.pieces) {
    if (typeof piece === 'string') {
      out.push(piece);
      continue;
    }
    const parts: string[] = [];
    for (let i = 0; i < piece.length; i += valuesPerSlice) {
      if (sliced) await new Promise<void>((resolve) => setImmediate(resolve));
      sliced = true;
      parts.push(JSON.stringify(piece.slice(i, i + valuesPerSlice)).slice(1, -1));
    }
    out.push(`[${parts.join(',')}]`);
  }
  return out.join('');
}
