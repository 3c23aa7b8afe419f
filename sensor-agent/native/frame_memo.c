// The frame memo's native half (see src/frame-memo.ts for the whole design).
//
// Most frames on a segment change nothing in the inventory but a device's
// last-seen time: a byte-identical repeat of an announcement already decoded
// (an SSDP NOTIFY, an LLDP frame, a BACnet I-Am), or a frame of a protocol no
// decoder reads from a sender whose address is already known. The JavaScript
// pipeline spends ~90-230 ns on each (headers, dispatch, match(), the repeat
// cache's hash and compare); here the same verdict takes a few tens, for a
// slice of frames in one call. This file only recognises frames: a "touch
// key" (sender MAC and IP) for a frame no decoder is offered (by EtherType,
// IP protocol, ports and the payload's first byte), a "frame key" (every byte
// but the IPv4 identification and checksum) for one that has decoders;
// JavaScript decides what a key means and says, once the slice is done,
// which keys it found to change nothing (commit).
//
// The header parse below mirrors src/packet/{link,ip}.ts for the one case it
// claims (Ethernet, optionally VLAN-tagged, then IPv4, IPv6 without extension
// headers, or another EtherType) and is at least as strict where a touch key
// depends on it. A frame it does not go through but that carries no TCP
// (802.3, a later fragment, IPv6 behind extension headers) is keyed by its
// bytes, which is always safe: JavaScript processes the first copy and
// commits only what changed nothing. Anything else (PPPoE, MPLS, tunnels,
// damaged headers) is left to JavaScript whole (verdict -1). Nothing here allocates
// per frame (a slot's key buffer grows only when a longer key takes it), and
// nothing here writes to the network.
#include <node_api.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "addon.h"

#define KEYS 0x10001
#define LEADS 257
#define FAMILIES 4
enum { FAMILY_LINK = 0, FAMILY_IP = 1, FAMILY_UDP = 2, FAMILY_TCP = 3 };
/** A frame longer than this is no announcement: left to JavaScript (the repeat cache's MAX_BYTES). */
#define MAX_FRAME_KEY 1536
#define KEY_TOUCH 1
#define KEY_FRAME 2
#define KEY_POLL 3
#define WAYS 2
/**
 * The keys' buffers may take this much in all: ~8,000 frames of a typical
 * announcement's size (and every touch key), where 16,384 full-size frames
 * would take 25 MB.
 */
#define KEY_BYTES (4u << 20)
#define GROUP 16
/**
 * The verdict's low bits: found and committed; a TCP segment (JavaScript
 * checks its reassembly state); a touch key (its sender's alone). The slot is
 * the verdict >> VERDICT_BITS.
 */
#define VERDICT_HIT 1
#define VERDICT_TCP 2
#define VERDICT_SENDER 4
#define VERDICT_BITS 3

typedef struct {
  uint64_t hash;
  uint32_t version;  // bumped whenever the slot takes another key: a commit names the one it saw
  uint32_t length;
  uint32_t capacity;
  uint8_t used;
  uint8_t valid;  // JavaScript committed this key: it changes nothing
  uint8_t *key;
} slot_t;

typedef struct {
  uint8_t tables[FAMILIES][KEYS];  // the decoder index's list for each key; 0 is the empty list
  uint8_t leading[256][LEADS];     // per list, 1 at a payload's first byte (256: empty) one of its decoders reads
  uint8_t keyed[256];              // per list of one decoder, the repeat key it computes natively (0: none)
  slot_t *slots;
  uint8_t *recent;  // per set, the way found or filled last
  // Touch keys and frame keys have sets of their own: a stream of frame keys that never repeat (polls
  // under new invoke ids) would otherwise evict the few touch keys every busy sender's frames replay.
  uint32_t touch_mask;  // touch sets are [0, touch_mask]
  uint32_t frame_mask;  // frame sets follow them
  uint32_t slot_count;
  size_t key_bytes;  // the keys' buffers, summed (at most KEY_BYTES)
  uint32_t next_version;
  // Keys of a group of frames, judged together so that each one's slots are fetched from memory
  // while the others are keyed (a lookup is a cache miss at a busy site).
  uint8_t keys[GROUP][MAX_FRAME_KEY + 8];
} memo_t;

static inline uint16_t be16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }

static inline uint64_t word_at(const uint8_t *p) {
  uint64_t w;
  memcpy(&w, p, 8);
  return w;
}

/**
 * A key of 64 bytes or more: its first 64 (the headers: addresses, ports) and
 * 16 bytes spread over the rest. The words are multiplied independently and
 * the samples gathered by shifts, so the CPU overlaps them: a chain of one
 * multiply per word, as a textbook hash is, costs several times as long.
 */
static uint64_t key_hash(const uint8_t *k, uint32_t n) {
  uint64_t a = n, b = 0, c = 0, d = 0, s0 = 0, s1 = 0;
  if (n >= 64) {
    a ^= word_at(k) * 0x9e3779b97f4a7c15ULL ^ word_at(k + 32) * 0xc2b2ae3d27d4eb4fULL;
    b = word_at(k + 8) * 0x165667b19e3779f9ULL ^ word_at(k + 40) * 0x85ebca77c2b2ae63ULL;
    c = word_at(k + 16) * 0x27d4eb2f165667c5ULL ^ word_at(k + 48) * 0xff51afd7ed558ccdULL;
    d = word_at(k + 24) * 0xc4ceb9fe1a85ec53ULL ^ word_at(k + 56) * 0x9e3779b97f4a7c55ULL;
    if (n > 64) {
      // Two independent chains of eight shifts, not one multiply per byte.
      uint32_t step = (n - 64) / 16;
      if (step == 0) step = 1;
      uint32_t j = 64;
      for (int t = 0; t < 8 && j < n; t++, j += step) s0 = s0 << 8 | k[j];
      for (int t = 0; t < 8 && j < n; t++, j += step) s1 = s1 << 8 | k[j];
    }
  } else {
    // Short keys (a sender's MAC and IP): every byte.
    uint32_t i = 0;
    for (; i + 8 <= n; i += 8) a = (a ^ word_at(k + i)) * 0x9e3779b97f4a7c15ULL;
    for (; i < n; i++) s0 = s0 << 8 | k[i];
  }
  uint64_t h = a ^ (b << 17 | b >> 47) ^ (c << 31 | c >> 33) ^ (d << 47 | d >> 17) ^
               s0 * 0xc2b2ae3d27d4eb4fULL ^ s1 * 0x165667b19e3779f9ULL;
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  return h ^ (h >> 29);
}

/** The set a key of hash h belongs in: among the touch sets or the frame sets, by its kind. */
static uint32_t set_of(const memo_t *m, const uint8_t *k, uint64_t h) {
  uint32_t folded = (uint32_t)(h ^ (h >> 32));
  return k[0] == KEY_TOUCH ? folded & m->touch_mask : m->touch_mask + 1 + (folded & m->frame_mask);
}

/**
 * The key's slot in `set`, found or taken: *hit when found and committed. A
 * key found but not committed (still pending, or found to change something)
 * keeps its slot and version; a new key takes the set's way used less
 * recently, or none past the key budget (UINT32_MAX).
 */
static uint32_t lookup(memo_t *m, const uint8_t *k, uint32_t n, uint64_t h, uint32_t set, int *hit,
                       uint32_t *version) {
  uint32_t first = set * WAYS;
  uint8_t recent = m->recent[set];
  for (int w = 0; w < WAYS; w++) {
    uint8_t way = w == 0 ? recent : recent ^ 1;
    slot_t *s = &m->slots[first + way];
    if (s->used && s->hash == h && s->length == n && memcmp(s->key, k, n) == 0) {
      m->recent[set] = way;
      *hit = s->valid;
      *version = s->version;
      return first + way;
    }
  }
  uint8_t fill = !m->slots[first + recent].used ? recent : recent ^ 1;
  slot_t *s = &m->slots[first + fill];
  if (s->capacity < n) {
    uint32_t capacity = n < 64 ? 64 : n;
    // Past the budget a new key is not remembered (its frame is left to JavaScript): large frames
    // with decoders, hostile or not, cannot grow the memo beyond it.
    uint8_t *key = m->key_bytes + (capacity - s->capacity) <= KEY_BYTES ? realloc(s->key, capacity) : NULL;
    if (!key) {
      *hit = 0;
      return UINT32_MAX;
    }
    m->key_bytes += capacity - s->capacity;
    s->key = key;
    s->capacity = capacity;
  }
  memcpy(s->key, k, n);
  s->length = n;
  s->hash = h;
  s->used = 1;
  s->valid = 0;
  s->version = ++m->next_version;
  m->recent[set] = fill;
  *hit = 0;
  *version = s->version;
  return first + fill;
}

/** UDP ports of the tunnels src/packet/tunnel.ts opens (VXLAN, Geneve, TZSP, GTP-U): JavaScript's. */
static inline int tunnel_port(uint32_t port) {
  return port == 4789 || port == 6081 || port == 37008 || port == 2152;
}

/**
 * A frame key: every byte of the frame b[0, n) but, where `ip4` (the IPv4
 * header's offset) is nonzero, the identification and the header checksum,
 * which change from one copy of a datagram to the next. 0 for a frame too
 * long to be an announcement.
 */
static uint32_t frame_key(const uint8_t *b, uint32_t n, uint32_t interface_id, uint32_t ip4, uint8_t *k) {
  if (n > MAX_FRAME_KEY) return 0;
  k[0] = KEY_FRAME;
  memcpy(k + 1, &interface_id, 4);
  memcpy(k + 5, b, n);
  if (ip4) {
    uint8_t *ip = k + 5 + ip4;
    ip[4] = ip[5] = ip[10] = ip[11] = 0;
  }
  return n + 5;
}

/** Whether IPv6 extension headers from b[p] (the first's type `next`) lead to TCP, or end unreadably. */
static int ipv6_reaches_tcp(const uint8_t *b, uint32_t p, uint32_t end, uint32_t next) {
  for (int i = 0; i < 8; i++) {
    if (next == 0 || next == 43 || next == 60 || next == 135) {  // hop-by-hop, routing, destination, mobility
      if (end < p + 8) return 1;
      next = b[p];
      p += (b[p + 1] + 1u) * 8;
    } else if (next == 44) {  // fragment
      if (end < p + 8) return 1;
      next = b[p];
      p += 8;
    } else if (next == 51) {  // AH
      if (end < p + 8) return 1;
      next = b[p];
      p += (b[p + 1] + 2u) * 4;
    } else {
      return next == 6;
    }
  }
  return 1;
}

/**
 * The key of one Ethernet frame b[0, n), written to k (MAX_FRAME_KEY + 8
 * bytes); its length, or 0 when the frame is left to JavaScript. *tcp is set
 * for a TCP segment, and *ports to its ports.
 */
static uint32_t key_of(const memo_t *m, const uint8_t *b, uint32_t n, uint32_t interface_id, uint8_t *k,
                       int *tcp_out, int32_t *ports) {
  if (n < 14) return 0;
  uint32_t o = 12;
  uint32_t type = be16(b + o);
  for (int tags = 0; type == 0x8100 || type == 0x88a8 || type == 0x9100; tags++) {
    if (tags == 8 || n < o + 6) return 0;
    o += 4;
    type = be16(b + o);
  }
  o += 2;
  // 802.3 (a length, not a type: spanning tree, CDP): no IP inside, so its bytes are its key. PPPoE and MPLS
  // may carry TCP, whose reassembly JavaScript checks at a replay: left to it.
  if (type <= 1500) {
    // Unless it is IP after an RFC 1042 or 802.1H SNAP header (src/packet/link.ts parseLlc), which may be TCP.
    if (n >= o + 8 && b[o] == 0xaa && b[o + 1] == 0xaa && b[o + 2] == 0x03 && b[o + 3] == 0 && b[o + 4] == 0 &&
        (b[o + 5] == 0 || b[o + 5] == 0xf8))
      return 0;
    return frame_key(b, n, interface_id, 0, k);
  }
  if (type == 0x8863 || type == 0x8864 || type == 0x8847 || type == 0x8848) return 0;
  int decoded = m->tables[FAMILY_LINK][type] != 0;
  uint32_t ip_version = 0;
  const uint8_t *src_ip = NULL;
  int tcp = 0;
  // A UDP/TCP message that only a decoder with a native repeat key reads: its payload, and that key's kind.
  uint32_t poll = 0, payload_start = 0, payload_end = 0, l4 = 0;
  if (type == 0x0800 || type == 0x86dd) {
    uint32_t end = n;
    uint32_t proto;
    if (type == 0x0800) {
      if (end < o + 20) return 0;
      uint32_t ihl = (b[o] & 0x0f) * 4u;
      if (b[o] >> 4 != 4 || ihl < 20 || end < o + ihl) return 0;
      uint32_t total = be16(b + o + 2);
      if (total != 0) {
        if (total < ihl) return 0;
        if (o + total < end) end = o + total;
      }
      // A later fragment: no transport header to read, its bytes are its key.
      if ((be16(b + o + 6) & 0x1fff) != 0) return frame_key(b, n, interface_id, o, k);
      proto = b[o + 9];
      src_ip = b + o + 12;
      ip_version = 4;
      l4 = o + ihl;
    } else {
      if (end < o + 40 || b[o] >> 4 != 6) return 0;
      uint32_t payload = be16(b + o + 4);
      if (payload != 0 && o + 40 + payload < end) end = o + 40 + payload;
      proto = b[o + 6];
      // Extension headers (hop-by-hop, routing, fragment, AH, destination options, mobility), as a multicast
      // listener report's: not parsed here, so the frame's bytes are its key, unless TCP follows them.
      if (proto == 0 || proto == 43 || proto == 44 || proto == 51 || proto == 60 || proto == 135)
        return ipv6_reaches_tcp(b, o + 40, end, proto) ? 0 : frame_key(b, n, interface_id, 0, k);
      src_ip = b + o + 8;
      ip_version = 6;
      l4 = o + 40;
    }
    if (proto == 4 || proto == 41 || proto == 47) return 0;  // IP in IP, IPv6 in IP, GRE: tunnels
    decoded |= m->tables[FAMILY_IP][proto] != 0;
    if (proto == 17) {
      if (end < l4 + 8) return 0;
      uint32_t length = be16(b + l4 + 4);
      if (length < 8 && length != 0) return 0;
      uint32_t src = be16(b + l4), dst = be16(b + l4 + 2);
      if (tunnel_port(dst)) return 0;
      payload_start = l4 + 8;
      payload_end = length == 0 || l4 + length > end ? end : l4 + length;
      uint32_t lead = payload_end > payload_start ? b[payload_start] : 256;
      uint32_t to = m->tables[FAMILY_UDP][dst], from = m->tables[FAMILY_UDP][src];
      decoded |= m->leading[to][lead] | m->leading[from][lead];
      if ((to == 0 || from == 0 || to == from) && m->tables[FAMILY_IP][proto] == 0) poll = m->keyed[to ? to : from];
    } else if (proto == 6) {
      if (end < l4 + 20) return 0;
      uint32_t header = (b[l4 + 12] >> 4) * 4u;
      if (header < 20 || end < l4 + header) return 0;
      uint32_t src = be16(b + l4), dst = be16(b + l4 + 2);
      // The pipeline offers a segment without payload to no port's decoders.
      if (end > l4 + header) {
        uint32_t lead = b[l4 + header];
        uint32_t to = m->tables[FAMILY_TCP][dst], from = m->tables[FAMILY_TCP][src];
        decoded |= m->leading[to][lead] | m->leading[from][lead];
        // One decoder's list on one side (or both): no other decoder reads the segment.
        uint32_t list = to ? to : from;
        if ((to == 0 || from == 0 || to == from) && m->tables[FAMILY_IP][proto] == 0) poll = m->keyed[list];
        payload_start = l4 + header;
        payload_end = end;
      }
      tcp = 1;
      *ports = (int32_t)(src << 16 | dst);
    }
  }
  uint32_t length;
  if (!decoded) {
    // What DeviceStore.touch reads: the sender's MAC and IP.
    k[0] = KEY_TOUCH;
    k[1] = (uint8_t)ip_version;
    memcpy(k + 2, b + 6, 6);
    length = 8;
    if (ip_version) {
      uint32_t ip_length = ip_version == 4 ? 4 : 16;
      memcpy(k + length, src_ip, ip_length);
      length += ip_length;
    }
  } else {
    // A message of cyclic polling (a TCP segment, or a datagram): what its decoder's repeat cache compares
    // (the addresses, TTL, ports) and the decoder's repeat key, or, where it has none, for a TCP segment the
    // payload but for the transaction identifier (an EtherNet/IP identity answer: compared byte for byte by
    // the repeat cache), for a datagram its bytes (a frame key). Any other TCP segment with decoders is
    // never a repeat of another (sequence numbers), and reassembly is JavaScript's.
    int64_t key = poll ? repeat_key(poll, b, payload_start, payload_end, be16(b + l4), be16(b + l4 + 2)) : -1;
    if (!tcp && key < 0) {
      *tcp_out = 0;
      return frame_key(b, n, interface_id, ip_version == 4 ? o : 0, k);
    }
    if (!poll) return 0;
    uint32_t id_offset = 0, id_length = 0;
    uint32_t payload = payload_end - payload_start;
    if (key < 0 && (!repeat_bytes(poll, &id_offset, &id_length) || payload > MAX_FRAME_KEY - 64)) return 0;
    k[0] = KEY_POLL;
    memcpy(k + 1, &interface_id, 4);
    length = 5;
    memcpy(k + length, b, o);  // the link header: MACs, VLAN tags, EtherType
    length += o;
    k[length++] = b[ip_version == 4 ? o + 8 : o + 7];  // TTL, hop limit
    uint32_t addresses = ip_version == 4 ? 8 : 32;
    memcpy(k + length, src_ip, addresses);
    length += addresses;
    memcpy(k + length, b + l4, 4);  // the ports
    length += 4;
    k[length++] = poll;
    memcpy(k + length, &key, 8);
    length += 8;
    if (key < 0) {
      memcpy(k + length, b + payload_start, payload);
      if (id_offset + id_length <= payload) memset(k + length + id_offset, 0, id_length);
      length += payload;
    }
  }
  *tcp_out = tcp;
  return length;
}


static void finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  memo_t *m = data;
  for (uint32_t i = 0; i < m->slot_count; i++) free(m->slots[i].key);
  free(m->slots);
  free(m->recent);
  free(m);
}


static memo_t *memo_of(napi_env env, napi_value value) {
  void *m = NULL;
  if (napi_get_value_external(env, value, &m) != napi_ok) return NULL;
  return m;
}

/** Copies the Uint8Array `value` of exactly `size` bytes to `dest`; 0 where it is not one. */
static int copy_table(napi_env env, napi_value value, uint8_t *dest, size_t size) {
  size_t length;
  const uint8_t *table = addon_typed(env, value, napi_uint8_array, &length);
  if (!table || length != size) return 0;
  memcpy(dest, table, size);
  return 1;
}

// create(link, ip, udp, tcp, leading, keyed, touchSlots, frameSlots): the decoder index's four tables
// (its list for each key, 0x10001 bytes each), its leading table (LEADS bytes per list), its native
// repeat key per list (256 bytes; see DecoderIndex) and the slots for each kind of key (powers of two, at
// least 2). Slots are numbered touch slots first.
napi_value memo_create(napi_env env, napi_callback_info info) {
  size_t argc = 8;
  napi_value argv[8];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc != 8) return addon_throw(env, "create(link, ip, udp, tcp, leading, keyed, touchSlots, frameSlots)");
  uint32_t touch_slots, frame_slots;
  if (napi_get_value_uint32(env, argv[6], &touch_slots) != napi_ok ||
      napi_get_value_uint32(env, argv[7], &frame_slots) != napi_ok || touch_slots < WAYS ||
      frame_slots < WAYS || (touch_slots & (touch_slots - 1)) || (frame_slots & (frame_slots - 1)) ||
      touch_slots > (1u << 24) || frame_slots > (1u << 24))
    return addon_throw(env, "slots must be powers of two, at least 2");
  uint32_t slots = touch_slots + frame_slots;
  memo_t *m = calloc(1, sizeof(memo_t));
  if (!m) return addon_throw(env, "out of memory");
  int copied = 1;
  for (int f = 0; f < FAMILIES; f++) copied &= copy_table(env, argv[f], m->tables[f], KEYS);
  copied &= copy_table(env, argv[4], &m->leading[0][0], sizeof m->leading);
  copied &= copy_table(env, argv[5], m->keyed, sizeof m->keyed);
  if (!copied) {
    free(m);
    return addon_throw(env, "the tables must be Uint8Arrays of 0x10001 (link, ip, udp, tcp), 256 x 257 (leading) "
                            "and 256 (keyed) bytes, as DecoderIndex makes them");
  }
  m->slot_count = slots;
  m->touch_mask = touch_slots / WAYS - 1;
  m->frame_mask = frame_slots / WAYS - 1;
  // A set's two slots share a cache line.
  m->slots = aligned_alloc(64, slots * sizeof(slot_t));
  if (m->slots) memset(m->slots, 0, slots * sizeof(slot_t));
  m->recent = calloc(slots / WAYS, 1);
  if (!m->slots || !m->recent) {
    free(m->slots);
    free(m->recent);
    free(m);
    return addon_throw(env, "out of memory");
  }
  napi_value handle;
  if (napi_create_external(env, m, finalize, NULL, &handle) != napi_ok) {
    finalize(env, m, NULL);
    return addon_throw(env, "could not create the memo");
  }
  return handle;
}

// judge(memo, buffer, starts, ends, linkTypes, interfaceIds, from, to, verdicts, versions, ports):
// the verdict on frames [from, to), which lie in `buffer` at starts[i]..ends[i].
napi_value memo_judge(napi_env env, napi_callback_info info) {
  size_t argc = 11;
  napi_value argv[11];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc != 11)
    return addon_throw(env, "judge(memo, buffer, starts, ends, linkTypes, interfaceIds, from, to, verdicts, "
                            "versions, ports)");
  memo_t *m = memo_of(env, argv[0]);
  size_t buffer_length = 0;
  const uint8_t *buffer = addon_typed(env, argv[1], napi_uint8_array, &buffer_length);
  size_t n_starts, n_ends, n_links, n_ifaces, n_verdicts, n_versions, n_ports;
  const int32_t *starts = addon_typed(env, argv[2], napi_int32_array, &n_starts);
  const int32_t *ends = addon_typed(env, argv[3], napi_int32_array, &n_ends);
  const int32_t *links = addon_typed(env, argv[4], napi_int32_array, &n_links);
  const int32_t *ifaces = addon_typed(env, argv[5], napi_int32_array, &n_ifaces);
  uint32_t from, to;
  int32_t *verdicts = addon_typed(env, argv[8], napi_int32_array, &n_verdicts);
  int32_t *versions = addon_typed(env, argv[9], napi_int32_array, &n_versions);
  int32_t *ports = addon_typed(env, argv[10], napi_int32_array, &n_ports);
  if (!m || !buffer || !starts || !ends || !links || !ifaces || !verdicts || !versions || !ports ||
      napi_get_value_uint32(env, argv[6], &from) != napi_ok || napi_get_value_uint32(env, argv[7], &to) != napi_ok)
    return addon_throw(env, "judge: bad arguments");
  if (from > to || to > n_starts || to > n_ends || to > n_links || to > n_ifaces || to > n_verdicts ||
      to > n_versions || to > n_ports)
    return addon_throw(env, "judge: frames out of range");
  for (uint32_t group = from; group < to; group += GROUP) {
    uint32_t count = to - group < GROUP ? to - group : GROUP;
    uint32_t lengths[GROUP], sets[GROUP];
    uint64_t hashes[GROUP];
    int tcps[GROUP];
    // The next group's frames are fetched while this one is judged (the first read of a frame's bytes
    // waited on memory for a tenth of this function's time)...
    for (uint32_t i = group + GROUP; i < to && i < group + 2 * GROUP; i++)
      if (starts[i] >= 0 && (size_t)starts[i] < buffer_length) __builtin_prefetch(buffer + starts[i]);
    // ...this one's keyed and hashed first, each key's set fetched...
    for (uint32_t g = 0; g < count; g++) {
      uint32_t i = group + g;
      int32_t start = starts[i], end = ends[i];
      lengths[g] = 0;
      tcps[g] = 0;
      if (links[i] == 1 && start >= 0 && end >= start && (size_t)end <= buffer_length)
        lengths[g] = key_of(m, buffer + start, (uint32_t)(end - start), (uint32_t)ifaces[i], m->keys[g],
                            &tcps[g], &ports[i]);
      if (lengths[g] == 0) continue;
      hashes[g] = key_hash(m->keys[g], lengths[g]);
      sets[g] = set_of(m, m->keys[g], hashes[g]);
      __builtin_prefetch(&m->slots[sets[g] * WAYS]);
    }
    // ...then the keys the set's slots hold...
    for (uint32_t g = 0; g < count; g++) {
      if (lengths[g] == 0) continue;
      const slot_t *s = &m->slots[sets[g] * WAYS];
      if (s[0].key) __builtin_prefetch(s[0].key);
      if (s[1].key) __builtin_prefetch(s[1].key);
    }
    // ...then each is looked up, in order.
    for (uint32_t g = 0; g < count; g++) {
      uint32_t i = group + g;
      uint32_t version = 0;
      int32_t verdict = -1;
      if (lengths[g] != 0) {
        int hit;
        uint32_t slot = lookup(m, m->keys[g], lengths[g], hashes[g], sets[g], &hit, &version);
        if (slot != UINT32_MAX)
          verdict = (int32_t)((slot << VERDICT_BITS) | (hit ? VERDICT_HIT : 0) | (tcps[g] ? VERDICT_TCP : 0) |
                              (m->keys[g][0] == KEY_TOUCH ? VERDICT_SENDER : 0));
      }
      verdicts[i] = verdict;
      versions[i] = (int32_t)version;
    }
  }
  return NULL;
}

// commit(memo, triples, count): for each (slot, version, changesNothing) of `triples`, whose slot still
// holds the key that version named, whether a hit on it may be replayed.
napi_value memo_commit(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  memo_t *m = argc == 3 ? memo_of(env, argv[0]) : NULL;
  size_t length;
  const int32_t *triples = argc == 3 ? addon_typed(env, argv[1], napi_int32_array, &length) : NULL;
  uint32_t count;
  if (!m || !triples || napi_get_value_uint32(env, argv[2], &count) != napi_ok || (size_t)count * 3 > length)
    return addon_throw(env, "commit(memo, triples, count)");
  for (uint32_t i = 0; i < count; i++) {
    uint32_t slot = (uint32_t)triples[3 * i];
    if (slot >= m->slot_count) continue;
    slot_t *s = &m->slots[slot];
    if (s->version == (uint32_t)triples[3 * i + 1]) s->valid = triples[3 * i + 2] != 0;
  }
  return NULL;
}
