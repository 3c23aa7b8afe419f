// IEEE 802.11 frames (IEEE Std 802.11-2020 §9.2-9.3), bare (LINKTYPE_IEEE802_11)
// or behind a radiotap header (LINKTYPE_IEEE802_11_RADIOTAP, radiotap.org),
// as monitor-mode captures hold them. A data frame's addresses say who sent it
// and to whom, depending on its To DS / From DS bits; its payload is an
// 802.2 LLC/SNAP header and the packet (RFC 1042). A protected (encrypted)
// frame still names its sender. Beacons and probe responses name an access
// point. Control frames, and the other management frames (probe requests
// come from randomized MACs), name no device here.
import { readMac } from './addresses.js';
import { parseLlc } from './link.js';
import type { PacketView } from './view.js';

const TYPE_MANAGEMENT = 0;
const TYPE_DATA = 2;
const SUBTYPE_PROBE_RESPONSE = 5;
const SUBTYPE_BEACON = 8;
const TO_DS = 0x01;
const FROM_DS = 0x02;
const PROTECTED = 0x40;
const ORDER = 0x80;
const AMSDU_PRESENT = 0x80;
const HEADER = 24;
const RADIOTAP_TSFT = 0x01;
const RADIOTAP_FLAGS = 0x02;
const RADIOTAP_EXT = 0x80000000;
const RADIOTAP_FLAG_FCS = 0x10;
const FCS = 4;

/** A radiotap header, then the 802.11 frame (without its FCS when radiotap says one is there). */
export function parseRadiotap(v: PacketView): boolean {
  const b = v.data;
  const s = v.frameStart;
  const end = v.frameEnd;
  // Offsets below are from the radiotap header's start (its fields align to it).
  if (end < s + 8 || b[s] !== 0) return false;
  const length = b[s + 2]! | (b[s + 3]! << 8);
  if (length < 8 || s + length > end) return false;
  const present = (b[s + 4]! | (b[s + 5]! << 8) | (b[s + 6]! << 16) | (b[s + 7]! << 24)) >>> 0;
  // Further presence words follow while bit 31 is set; the fields start after the last one.
  let o = 8;
  for (let word = present; word & RADIOTAP_EXT; o += 4) {
    if (o + 4 > length) return false;
    const w = s + o;
    word = (b[w]! | (b[w + 1]! << 8) | (b[w + 2]! << 16) | (b[w + 3]! << 24)) >>> 0;
  }
  let fcs = false;
  if (present & RADIOTAP_FLAGS) {
    if (present & RADIOTAP_TSFT) o = ((o + 7) & ~7) + 8; // 8 bytes, aligned to 8 from the header's start
    if (o >= length) return false;
    fcs = (b[s + o]! & RADIOTAP_FLAG_FCS) !== 0;
  }
  return parse80211(v, s + length, fcs ? end - FCS : end);
}

/** An 802.11 frame in data[o, end). */
export function parse80211(v: PacketView, o: number, end: number): boolean {
  const b = v.data;
  if (end < o + 10) return false;
  const fc0 = b[o]!;
  const flags = b[o + 1]!;
  const type = (fc0 >> 2) & 0x03;
  const subtype = fc0 >> 4;
  if (type === TYPE_MANAGEMENT) {
    if ((subtype === SUBTYPE_BEACON || subtype === SUBTYPE_PROBE_RESPONSE) && end >= o + HEADER) {
      v.dstMac = readMac(b, o + 4);
      v.srcMac = readMac(b, o + 10);
    }
    return true;
  }
  if (type !== TYPE_DATA) return true;
  const qos = (subtype & 0x08) !== 0;
  const fourAddresses = (flags & (TO_DS | FROM_DS)) === (TO_DS | FROM_DS);
  const header = HEADER + (fourAddresses ? 6 : 0) + (qos ? 2 : 0) + (qos && flags & ORDER ? 4 : 0);
  if (end < o + header) return false;
  const a1 = readMac(b, o + 4);
  const a2 = readMac(b, o + 10);
  const a3 = readMac(b, o + 16);
  switch (flags & (TO_DS | FROM_DS)) {
    case 0: // within one BSS (or IBSS)
      v.dstMac = a1;
      v.srcMac = a2;
      break;
    case TO_DS: // station -> AP
      v.dstMac = a3;
      v.srcMac = a2;
      break;
    case FROM_DS: // AP -> station, relaying a frame from the distribution system
      v.dstMac = a1;
      v.srcMac = a3;
      break;
    default: // AP -> AP (WDS, mesh)
      v.dstMac = a3;
      v.srcMac = readMac(b, o + 24);
  }
  // Null data frames (subtype bit 2) carry nothing; a protected frame's payload is ciphertext.
  if (subtype & 0x04 || flags & PROTECTED) return true;
  let payload = o + header;
  let payloadEnd = end;
  // An A-MSDU (QoS control bit 7) packs subframes of destination, source, length and MSDU. The
  // view holds one packet: the first subframe's, with its own addresses.
  if (qos && b[o + HEADER + (fourAddresses ? 6 : 0)]! & AMSDU_PRESENT) {
    if (end < payload + 14) return false;
    v.dstMac = readMac(b, payload);
    v.srcMac = readMac(b, payload + 6);
    payloadEnd = Math.min(end, payload + 14 + ((b[payload + 12]! << 8) | b[payload + 13]!));
    payload += 14;
  }
  v.l3End = payloadEnd;
  return payloadEnd === payload || parseLlc(v, payload);
}
