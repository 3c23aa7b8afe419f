// Reporting the inventory of a large site in bounded memory, without
// stalling capture.
//
// At 100k devices the records serialize to ~80 MB of JSON. Building them all
// at once (what toRecords does for the offline tool) took the agent from
// ~145 MB to ~380 MB of RSS and held the event loop for seconds, while the
// capture ring filled. Here records are built a chunk at a time, with a turn
// of the event loop between chunks, and only one message's worth of
// serialized records is alive at once.
//
// Deltas: the store names the devices that may have changed since the last
// report (DeviceStore.takeChanged); each one's record is compared with what
// was last reported through a 31-bit hash and the length kept on the device
// (two small integers instead of the serialized record), built with
// last-seen masked by its window: last-seen alone counts as a change only
// when it enters another window of store.lastSeenWindowMs, so a device that
// talks every second is not re-reported every few seconds for that alone. When what records depend on
// across devices changes (the RecordContext signature), every device is
// compared. A hash collision (about 1 in 2^31 per changed record of
// unchanged length) would hold back one device's change until the next
// snapshot.
//
// Snapshots: a snapshot spans several messages, each naming its part and the
// number of parts, so the number must be known before the first is sent.
// The first pass measures every record, the second builds and sends the
// parts; parts are cut at PART_FILL of the limit, leaving room for records
// that grow between the two passes.
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { Device } from '../inventory/device.js';
import type { DeviceStore, RecordContext } from '../inventory/store.js';
import { RELEASE_AFTER_DEVICES, releaseFreedHeap } from './heap-release.js';

/** Where reports go: the Reporter (MQTT through the spool), or a test's collector. */
export interface InventoryOutput {
  /** Resolves when the next message may go (the Reporter: when its spool has room). */
  ready?(): Promise<void>;
  /** Reserves `n` consecutive sequence numbers and returns the first. */
  reserveSeq(n: number): number;
  /** `devicesJsonArray` is only valid until the returned promise settles (the buffer is reused). */
  publishInventory(
    mode: 'snapshot' | 'delta',
    devicesJsonArray: Uint8Array,
    seq: number,
    part?: { part: number; parts: number },
  ): Promise<void>;
}

export interface InventoryReportsOptions {
  /** The most serialized records (the JSON array's bytes) one message carries. */
  maxPartBytes: number;
  /** Records built between two turns of the event loop; default 500. */
  chunk?: number;
  /** A report that sent at least this many records is followed by releaseFreedHeap (heap-release.ts); default RELEASE_AFTER_DEVICES. */
  releaseHeapAfter?: number;
}

/** What reporting has done so far, per mode, for /metrics. */
export type ReportTotals = Record<
  'snapshot' | 'delta',
  {
    reports: number;
    devices: number;
    messages: number;
    seconds: number;
    lastSeconds: number;
    /** Memory-reducing collections after reports of this mode, and the time they took. */
    heapReleases: number;
    heapReleaseSeconds: number;
  }
>;

export interface ReportOutcome {
  /** Devices whose records were built and compared. */
  examined: number;
  /** Records sent. */
  sent: number;
  messages: number;
}

const noReports = (): ReportTotals['delta'] => ({
  reports: 0,
  devices: 0,
  messages: 0,
  seconds: 0,
  lastSeconds: 0,
  heapReleases: 0,
  heapReleaseSeconds: 0,
});

/** Snapshot parts are cut at this share of the limit (see the header). */
const PART_FILL = 0.9;

export class SnapshotOutgrewError extends Error {
  constructor(part: number, bytes: number, max: number) {
    super(
      `snapshot part ${part} grew to ${bytes} bytes between measuring and sending (limit ${max}); the snapshot is incomplete and is sent again`,
    );
  }
}

export class InventoryReports {
  private readonly chunk: number;
  private tail: Promise<unknown> = Promise.resolve();
  private queuedDelta: Promise<ReportOutcome> | undefined;
  private queuedSnapshot: Promise<ReportOutcome> | undefined;
  private contextSignature: number | undefined;
  readonly totals: ReportTotals = { snapshot: noReports(), delta: noReports() };

  /** One message's records, reused: their text dies young instead of a part's worth being promoted. */
  private readonly array = new JsonArrayWriter();

  constructor(
    private readonly store: DeviceStore,
    private readonly out: InventoryOutput,
    private readonly options: InventoryReportsOptions,
  ) {
    this.chunk = options.chunk ?? 500;
  }

  /**
   * Every device, in as many parts as size requires. Runs after any report in
   * progress; a snapshot already waiting to run is shared (a broker away for
   * an hour must not leave a dozen snapshots queued behind the first).
   */
  snapshot(): Promise<ReportOutcome> {
    this.queuedSnapshot ??= this.serialized(() => {
      this.queuedSnapshot = undefined;
      return this.counted('snapshot', () => this.runSnapshot());
    });
    return this.queuedSnapshot;
  }

  /** The devices whose records changed since last reported; a delta already waiting to run is shared. */
  delta(): Promise<ReportOutcome> {
    this.queuedDelta ??= this.serialized(() => {
      this.queuedDelta = undefined;
      return this.counted('delta', () => this.runDelta());
    });
    return this.queuedDelta;
  }

  /** Resolves when no report is running or queued. */
  async idle(): Promise<void> {
    let seen: Promise<unknown> | undefined;
    while (seen !== this.tail) {
      seen = this.tail;
      await seen;
    }
  }

  private async counted(
    mode: 'snapshot' | 'delta',
    run: () => Promise<ReportOutcome>,
  ): Promise<ReportOutcome> {
    const started = performance.now();
    const outcome = await run();
    const t = this.totals[mode];
    t.lastSeconds = (performance.now() - started) / 1000;
    t.seconds += t.lastSeconds;
    t.reports++;
    t.devices += outcome.sent;
    t.messages += outcome.messages;
    if (outcome.sent >= (this.options.releaseHeapAfter ?? RELEASE_AFTER_DEVICES)) {
      // After the report's last message is spooled, so the collection delays nothing it sends.
      this.array.shrink();
      const took = releaseFreedHeap();
      if (took !== undefined) {
        t.heapReleases++;
        t.heapReleaseSeconds += took;
      }
    }
    return outcome;
  }

  private serialized<T>(run: () => Promise<T>): Promise<T> {
    // A large report grows the buffer to a message's size; between reports it goes back to small.
    const then = () => run().finally(() => this.array.shrink());
    const next = this.tail.then(then, then);
    this.tail = next.catch(() => undefined);
    return next;
  }

  private async runSnapshot(): Promise<ReportOutcome> {
    const store = this.store;
    const context = store.recordContext();
    this.contextSignature = context.signature;
    store.takeChanged(); // restated below; what changes from here on is the next delta's
    const devices = store.devices();
    const sizes = new Uint32Array(devices.length);
    for (let i = 0; i < devices.length; i++) {
      sizes[i] = Buffer.byteLength(JSON.stringify(store.recordOf(devices[i]!, context))) + 1;
      if ((i + 1) % this.chunk === 0) await nextTurn();
    }
    const max = this.options.maxPartBytes;
    const bounds = [0];
    let bytes = 0;
    for (let i = 0; i < devices.length; i++) {
      if (bytes + sizes[i]! > max * PART_FILL && i > bounds[bounds.length - 1]!) {
        bounds.push(i);
        bytes = 0;
      }
      bytes += sizes[i]!;
    }
    bounds.push(devices.length);
    const parts = bounds.length - 1;
    const first = this.out.reserveSeq(parts);
    let sent = 0;
    let built = 0;
    const array = this.array;
    for (let p = 0; p < parts; p++) {
      array.reset();
      for (let i = bounds[p]!; i < bounds[p + 1]!; i++) {
        const device = devices[i]!;
        if (!store.isCurrent(device)) continue; // merged into another device since the first pass
        array.add(JSON.stringify(store.recordOf(device, context)));
        this.remember(device, context);
        if (++built % this.chunk === 0) await nextTurn();
      }
      // One record alone larger than the limit cannot be split; several that outgrew it could have been.
      if (array.bytes > max && array.count > 1) throw new SnapshotOutgrewError(p + 1, array.bytes, max);
      sent += array.count;
      await this.send('snapshot', first + p, parts > 1 ? { part: p + 1, parts } : undefined);
    }
    return { examined: devices.length, sent, messages: parts };
  }

  private async runDelta(): Promise<ReportOutcome> {
    const store = this.store;
    const context = store.recordContext();
    const everyDevice = context.signature !== this.contextSignature;
    this.contextSignature = context.signature;
    const changed = store.takeChanged();
    const devices = everyDevice ? store.devices() : changed;
    const max = this.options.maxPartBytes;
    const array = this.array;
    array.reset();
    let sent = 0;
    let messages = 0;
    for (let i = 0; i < devices.length; i++) {
      const device = devices[i]!;
      if (store.isCurrent(device) && this.remember(device, context)) {
        const text = JSON.stringify(store.recordOf(device, context));
        if (array.count > 0 && array.bytes + Buffer.byteLength(text) + 1 > max) {
          await this.send('delta', this.out.reserveSeq(1));
          messages++;
          array.reset();
        }
        array.add(text);
        sent++;
      }
      if ((i + 1) % this.chunk === 0) await nextTurn();
    }
    if (array.count > 0) {
      await this.send('delta', this.out.reserveSeq(1));
      messages++;
    }
    return { examined: devices.length, sent, messages };
  }

  /** Sends what the array holds as one message, once the output is ready for it. */
  private async send(
    mode: 'snapshot' | 'delta',
    seq: number,
    part?: { part: number; parts: number },
  ): Promise<void> {
    await this.out.ready?.();
    await this.out.publishInventory(mode, this.array.finish(), seq, part);
  }

  /**
   * Notes the device's record as reported; true when it differs from the
   * one last reported. Compared with last-seen masked by its window: it moves
   * whenever the device speaks, and within one window that is no change.
   */
  private remember(device: Device, context: RecordContext): boolean {
    const window = `w${device.lastSeenWindow(this.store.lastSeenWindowMs)}`;
    const signed = JSON.stringify(this.store.recordOf(device, context, window));
    const hash = hash31(signed);
    if (hash === device.reportedHash && signed.length === device.reportedLength) return false;
    device.reportedHash = hash;
    device.reportedLength = signed.length;
    return true;
  }
}

/** FNV-1a folded to 31 bits (a small integer V8 keeps in the object); never 0, which means "not reported". */
function hash31(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return (h ^ (h >>> 31)) & 0x7fffffff || 1;
}

/** The bytes of a JSON array written one serialized element at a time, into one growing, reused buffer. */
const INITIAL_BYTES = 64 * 1024;

class JsonArrayWriter {
  private buffer = Buffer.allocUnsafe(INITIAL_BYTES);
  /** Bytes of the array so far, "[" and the separators included, the closing "]" not. */
  bytes = 1;
  count = 0;

  reset(): void {
    this.buffer[0] = 0x5b; // [
    this.bytes = 1;
    this.count = 0;
  }

  add(json: string): void {
    this.reserve(Buffer.byteLength(json) + 2);
    if (this.count > 0) this.buffer[this.bytes++] = 0x2c; // ,
    this.bytes += this.buffer.write(json, this.bytes);
    this.count++;
  }

  /** Lets a buffer grown for a large message go. */
  shrink(): void {
    if (this.buffer.length > INITIAL_BYTES) this.buffer = Buffer.allocUnsafe(INITIAL_BYTES);
  }

  /** The array, closed; valid until the next reset or add. */
  finish(): Buffer {
    this.reserve(1);
    this.buffer[this.bytes] = 0x5d; // ]
    return this.buffer.subarray(0, this.bytes + 1);
  }

  private reserve(more: number): void {
    if (this.bytes + more <= this.buffer.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.buffer.length * 2, this.bytes + more));
    this.buffer.copy(grown, 0, 0, this.bytes);
    this.buffer = grown;
  }
}
