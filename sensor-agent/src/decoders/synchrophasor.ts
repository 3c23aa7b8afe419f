// IEEE C37.118.2 synchrophasor frames (2005 and 2011), on TCP 4712 and UDP
// 4712/4713: phasor measurement units (PMUs) stream data frames tens of times
// a second and describe themselves in configuration frames; phasor data
// concentrators (PDCs) gather several PMUs' streams and send commands to
// them. Every frame begins with SYNC (0xAA, then frame type and version),
// FRAMESIZE and the stream's IDCODE (C37.118.2-2011 §6.2). A configuration
// frame names each PMU it describes by station name (STN); one that
// describes several PMUs comes from a concentrator.
import type { PacketView } from '../packet/view.js';
import type { Decoder, ObservationSink } from './types.js';
import { emitForHost, fixedText } from './util.js';

const TCP_PORT = 4712;
const UDP_PORTS = [4712, 4713];
const SYNC = 0xaa;
/** SYNC, FRAMESIZE, IDCODE, SOC, FRACSEC, then the payload; CHK ends the frame. */
const HEADER = 14;
const CHK = 2;
const MAX_FRAMES = 8;
enum FrameType {
  Data = 0,
  Header = 1,
  Config1 = 2,
  Config2 = 3,
  Command = 4,
  Config3 = 5,
}
/** Configuration 1 and 2: TIME_BASE and NUM_PMU, then per PMU STN (16 bytes), IDCODE, FORMAT, PHNMR, ANNMR, DGNMR. */
const PMU_BLOCK = 26;
const STN = 16;
/** PMU blocks read from one configuration (a concentrator's may list hundreds). */
const MAX_PMUS = 64;

interface Frame {
  type: FrameType;
  idcode: number;
  start: number;
  /** Where the frame's payload ends: before CHK, or where the segment does. */
  end: number;
  /** Where the frame ends, CHK included, by its FRAMESIZE. */
  next: number;
}

/** The frame at `o`; throws RangeError on one that is not C37.118. */
function frameAt(b: Buffer, o: number, end: number): Frame {
  if (end - o < HEADER + CHK) throw new RangeError('C37.118 frame shorter than its header');
  if (b[o] !== SYNC) throw new RangeError('C37.118 frame without its SYNC byte');
  const type = (b[o + 1]! >> 4) & 0x07;
  const version = b[o + 1]! & 0x0f;
  if (type > FrameType.Config3 || version < 1 || version > 3)
    throw new RangeError('C37.118 frame type or version unknown');
  const size = b.readUInt16BE(o + 2);
  if (size < HEADER + CHK) throw new RangeError(`C37.118 FRAMESIZE ${size} below its header`);
  return {
    type,
    idcode: b.readUInt16BE(o + 4),
    start: o,
    end: Math.min(end, o + size - CHK),
    next: o + size,
  };
}

function report(pkt: PacketView, sink: ObservationSink, b: Buffer, f: Frame): void {
  const emit = (
    name: 'role' | 'stationName' | 'hostname' | 'linkAddress',
    value: string,
    confidence: number,
    field: string,
  ) => emitForHost(pkt, sink, 'synchrophasor', name, value, confidence, field);
  if (f.type === FrameType.Command) {
    // Turns streams on and off and asks for configurations: a concentrator or a monitoring application.
    emit('role', 'synchrophasor:client', 0.8, 'command');
    return;
  }
  emit('linkAddress', String(f.idcode), 0.8, 'idcode');
  if (f.type === FrameType.Data || f.type === FrameType.Header) {
    emit('role', 'synchrophasor:source', 0.8, 'sync.frame_type');
    return;
  }
  const stations = f.type === FrameType.Config3 ? config3Stations(b, f) : config12Stations(b, f);
  if (stations.count > 1) {
    emit('role', 'synchrophasor:pdc', 0.85, 'config.num_pmu');
    return;
  }
  emit('role', 'synchrophasor:pmu', 0.85, 'config.num_pmu');
  // A single PMU's station name is the device's; a concentrator's list names the PMUs behind it. It is
  // the name engineers give the PMU, so it stands for a host name where no better one is heard (as a
  // GOOSE publisher's logical device does).
  if (stations.first) {
    emit('stationName', stations.first, 0.8, 'config.stn');
    emit('hostname', stations.first, 0.4, 'config.stn');
  }
}

/** NUM_PMU and the first station name of a configuration 1 or 2 frame. */
function config12Stations(b: Buffer, f: Frame): { count: number; first: string } {
  const at = f.start + HEADER + 4;
  if (at + 2 + PMU_BLOCK > f.end) throw new RangeError('C37.118 configuration truncated');
  const count = b.readUInt16BE(at);
  const stn = at + 2;
  // The PMU block's channel counts must fit the frame: a check that this is a configuration at all.
  const channels = b.readUInt16BE(stn + 20) + b.readUInt16BE(stn + 22) + 16 * b.readUInt16BE(stn + 24);
  if (stn + PMU_BLOCK + 16 * channels > f.end + CHK)
    throw new RangeError('C37.118 PMU channel names overrun the frame');
  return { count: Math.min(count, MAX_PMUS), first: fixedText(b, stn, stn + STN) };
}

/** Configuration 3 (2011): CONT_IDX, TIME_BASE, NUM_PMU, then the first PMU's STN, length-prefixed. */
function config3Stations(b: Buffer, f: Frame): { count: number; first: string } {
  const at = f.start + HEADER + 6;
  if (at + 3 > f.end) throw new RangeError('C37.118 configuration 3 truncated');
  const count = b.readUInt16BE(at);
  const length = b[at + 2]!;
  if (at + 3 + length > f.end) throw new RangeError('C37.118 station name overruns the frame');
  return { count: Math.min(count, MAX_PMUS), first: fixedText(b, at + 3, at + 3 + length) };
}

function decodeFrames(pkt: PacketView, sink: ObservationSink): void {
  const b = pkt.data;
  const end = pkt.payloadEnd;
  let o = pkt.payloadOffset;
  for (let n = 0; n < MAX_FRAMES && o + HEADER + CHK <= end; n++) {
    const f = frameAt(b, o, end);
    report(pkt, sink, b, f);
    o = f.next;
  }
}

/**
 * Data frames stream 10 to 240 times a second per PMU and say only the
 * stream's IDCODE: the key is the IDCODE and the frame type. Configurations
 * and anything odd are decoded.
 */
function repeatKey(pkt: PacketView): number | undefined {
  const b = pkt.data;
  const o = pkt.payloadOffset;
  if (b[o] !== SYNC || b.readUInt16BE(o + 2) !== pkt.payloadEnd - o) return undefined;
  const type = (b[o + 1]! >> 4) & 0x07;
  if (type !== FrameType.Data && type !== FrameType.Command) return undefined;
  return b.readUInt16BE(o + 4) * 8 + type;
}

export const synchrophasorDecoder: Decoder = {
  name: 'synchrophasor',
  family: 'tcp',
  keys: [TCP_PORT],
  // FRAMESIZE: a configuration frame of many channels spans segments.
  messageLength: (_pkt, b, start, end) =>
    b[start] !== SYNC ? 0 : end - start < 4 ? 4 : b.readUInt16BE(start + 2),
  match: (pkt) => pkt.payloadEnd - pkt.payloadOffset >= HEADER + CHK,
  repeatKey,
  decode: decodeFrames,
};

export const synchrophasorUdpDecoder: Decoder = {
  name: 'synchrophasor',
  family: 'udp',
  keys: UDP_PORTS,
  match: (pkt) => pkt.payloadEnd - pkt.payloadOffset >= HEADER + CHK,
  repeatKey,
  decode: decodeFrames,
};
