// Repeat keys (see Decoder.repeatKey in src/decoders/types.ts) of cyclic
// polling protocols, computed as their decoders compute them, for the frame
// memo (frame_memo.c) to recognise a poll or its answer without JavaScript.
// Each mirrors one decoder's repeatKey() line for line; repeat-keys.test.ts
// compares the two on every real segment of the protocol and on mutated ones.
#include <stdint.h>

#include "addon.h"

static inline uint32_t be16(const uint8_t *p) { return (uint32_t)(p[0] << 8 | p[1]); }
static inline uint32_t le16(const uint8_t *p) { return (uint32_t)(p[1] << 8 | p[0]); }
static inline uint32_t le32(const uint8_t *p) { return le16(p) | le16(p + 2) << 16; }

/** src/decoders/modbus.ts repeatKey (with its match()): one well-formed MBAP frame, not FC 43: unit id, exception bit. */
static int64_t modbus_tcp(const uint8_t *b, uint32_t o, uint32_t end) {
  const uint32_t mbap = 7, fc_encapsulated = 0x2b;
  if (end < o + mbap + 1) return -1;  // what match() asks of the segment
  uint32_t length = be16(b + o + 4);
  if (o + 6 + length != end || length < 2 || length > 254) return -1;
  if (be16(b + o + 2) != 0 || b[o + mbap] == fc_encapsulated) return -1;
  return (int64_t)(b[o + 6] << 1 | b[o + mbap] >> 7);
}

#define ENIP_PORT 44818
#define ENIP_HEADER 24

/**
 * src/decoders/enip.ts attributeAllReplies: whether the CPF items of a SendRRData or SendUnitData answer whose
 * data lies in b[p, end) hold a successful Get_Attribute_All reply; -1 where that function throws.
 */
static int enip_has_attribute_reply(const uint8_t *b, uint32_t p, uint32_t end) {
  p += 6;  // interface handle, timeout
  if (p + 2 > end) return -1;
  uint32_t count = le16(b + p);
  p += 2;
  int found = 0;
  for (uint32_t i = 0; i < count && i < 8; i++) {
    if (p + 4 > end) return -1;
    uint32_t type = le16(b + p), item_length = le16(b + p + 2);
    uint32_t v = p + 4, item_end = v + item_length;
    if (item_end > end) return -1;
    p = item_end;
    if (type != 0xb2 && type != 0xb1) continue;  // unconnected, connected data
    if (type == 0xb1) v += 2;                   // sequence count
    if (v + 4 > item_end || b[v] != 0x81 || b[v + 2] != 0) continue;  // Get_Attribute_All reply, status 0
    found = 1;
  }
  return found;
}

/** src/decoders/enip.ts enipTcpDecoder.repeatKey (with its match()): the command, apart from the requests'. */
static int64_t enip_tcp(const uint8_t *b, uint32_t o, uint32_t end, uint32_t src_port, uint32_t dst_port) {
  if (src_port == dst_port || end < o + ENIP_HEADER) return -1;
  uint32_t command = le16(b + o);
  // isEncapsulation: a known command, options 0.
  switch (command) {
    case 0x0000: case 0x0004: case 0x0063: case 0x0064: case 0x0065:
    case 0x0066: case 0x006f: case 0x0070: case 0x0072: case 0x0073:
      break;
    default:
      return -1;
  }
  if (le32(b + o + 20) != 0) return -1;
  if (dst_port == ENIP_PORT) return command;
  if (src_port != ENIP_PORT) return -1;
  // answerSaysOnlyRoles
  const int64_t answer = 0x10000 + command;
  uint32_t length = le16(b + o + 2);
  if (length == 0 || le32(b + o + 8) != 0) return answer;
  if (command == 0x63) return -1;  // ListIdentity
  if (command != 0x6f && command != 0x70) return answer;  // SendRRData, SendUnitData
  uint32_t data_end = o + ENIP_HEADER + length < end ? o + ENIP_HEADER + length : end;
  return enip_has_attribute_reply(b, o + ENIP_HEADER, data_end) == 0 ? answer : -1;
}

#define BACNET_PORT 47808

/** src/decoders/bacnet.ts tagAt: a tag's number, class, length (-6/-7: opening/closing) and content; 0 where it throws. */
static int bacnet_tag(const uint8_t *b, uint32_t o, uint32_t end, int *tag, int *cls, int *len, uint32_t *p) {
  if (o >= end) return 0;
  uint32_t first = b[o];
  *tag = (int)(first >> 4);
  *cls = (int)((first >> 3) & 1);
  *len = (int)(first & 0x07);
  *p = o + 1;
  if (*tag == 15) {
    if (*p >= end) return 0;
    *tag = b[(*p)++];
  }
  if (*len == 5) {
    if (*p >= end) return 0;
    *len = b[(*p)++];
    if (*len == 254) {
      if (*p + 2 > end) return 0;
      *len = (int)be16(b + *p);
      *p += 2;
    } else if (*len == 255) {
      return 0;
    }
  }
  if (*cls == 1 && (*len == 6 || *len == 7)) {
    *len = -*len;
    return 1;
  }
  return *p + (uint32_t)*len <= end;
}

/** src/decoders/bacnet.ts readPropertyAckHead: the object identifier of a ReadProperty-ACK at b[o]; -1 where it throws. */
static int64_t bacnet_ack_object(const uint8_t *b, uint32_t o, uint32_t end) {
  int t, c, l;
  uint32_t p;
  if (!bacnet_tag(b, o, end, &t, &c, &l, &p) || t != 0 || c != 1 || l != 4) return -1;
  int64_t object = (int64_t)be16(b + p) << 16 | be16(b + p + 2);
  if (!bacnet_tag(b, p + 4, end, &t, &c, &l, &p) || t != 1 || c != 1) return -1;
  if (l < 1 || l > 4) return -1;  // unsigned() of the property identifier
  uint32_t q = p + (uint32_t)l;
  if (!bacnet_tag(b, q, end, &t, &c, &l, &p)) return -1;
  if (t == 2 && c == 1) {
    q = p + (uint32_t)l;  // array index (as the decoder does, whatever its length)
    if (!bacnet_tag(b, q, end, &t, &c, &l, &p)) return -1;
  }
  if (t != 3 || l != -6) return -1;
  return object;
}

/** src/decoders/bacnet.ts bacnetDecoder.repeatKey (with its match()): what a poll or its answer says. */
static int64_t bacnet(const uint8_t *b, uint32_t start, uint32_t payload_end, uint32_t src_port) {
  if (src_port != BACNET_PORT || payload_end < start + 4) return -1;
  uint32_t fn = b[start + 1];
  if (b[start] != 0x81 || (fn != 0x0a && fn != 0x0b)) return -1;  // BVLC Original-Unicast/-Broadcast-NPDU
  uint32_t bvlc_end = start + be16(b + start + 2);
  uint32_t end = payload_end < bvlc_end ? payload_end : bvlc_end;
  uint32_t o = start + 4;
  if (o + 2 > end || b[o] != 1) return -1;
  uint32_t control = b[o + 1];
  o += 2;
  if (control & 0x80) return 0;  // network layer message
  if (control & 0x08) return -1;  // from another BACnet network
  if (control & 0x20) {
    if (o + 3 > end) return -1;
    o += 3 + b[o + 2] + 1u;  // DNET, DLEN, DADR, hop count
  }
  if (o + 2 > end) return -1;
  uint32_t type = b[o] >> 4;
  if (type == 1) return b[o + 1] == 0 ? -1 : 0;  // unconfirmed: I-Am is decoded
  if (type == 0) return 2;  // confirmed request
  if (type != 3) return 0;  // not a complex ACK
  if (o + 3 > end) return -1;  // no service choice: malformed
  if ((b[o] & 0x08) != 0 || b[o + 2] != 12) return 1;  // segmented, or not ReadProperty
  int64_t object = bacnet_ack_object(b, o + 3, end);
  return object < 0 || (object >> 22) == 8 ? -1 : 1;  // the device object's properties are decoded
}

int64_t repeat_key(uint32_t kind, const uint8_t *b, uint32_t start, uint32_t end, uint32_t src_port,
                   uint32_t dst_port) {
  switch (kind) {
    case NATIVE_KEY_MODBUS_TCP:
      return modbus_tcp(b, start, end);
    case NATIVE_KEY_ENIP_TCP:
      return enip_tcp(b, start, end, src_port, dst_port);
    case NATIVE_KEY_BACNET:
      return bacnet(b, start, end, src_port);
    default:
      return -1;
  }
}

int repeat_bytes(uint32_t kind, uint32_t *id_offset, uint32_t *id_length) {
  switch (kind) {
    case NATIVE_KEY_ENIP_TCP:
      // The decoder announces: an answer without a key is compared byte for byte, its sender context aside.
      *id_offset = 12;
      *id_length = 8;
      return 1;
    default:
      return 0;
  }
}

// repeatKey(kind, buffer, start, end, srcPort, dstPort): the key of the payload buffer[start, end) of a
// segment between those ports, or -1 (for tests).
napi_value repeat_key_of(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  size_t length;
  const uint8_t *b = argc == 6 ? addon_typed(env, argv[1], napi_uint8_array, &length) : NULL;
  uint32_t kind, start, end, src_port, dst_port;
  if (!b || napi_get_value_uint32(env, argv[0], &kind) != napi_ok ||
      napi_get_value_uint32(env, argv[2], &start) != napi_ok ||
      napi_get_value_uint32(env, argv[3], &end) != napi_ok ||
      napi_get_value_uint32(env, argv[4], &src_port) != napi_ok ||
      napi_get_value_uint32(env, argv[5], &dst_port) != napi_ok || start > end || end > length)
    return addon_throw(env, "repeatKey(kind, buffer, start, end, srcPort, dstPort)");
  napi_value out;
  napi_create_double(env, (double)repeat_key(kind, b, start, end, src_port, dst_port), &out);
  return out;
}
