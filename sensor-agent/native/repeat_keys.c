// Repeat keys (see Decoder.repeatKey in src/decoders/types.ts) of cyclic
// polling protocols, computed as their decoders compute them, for the frame
// memo (frame_memo.c) to recognise a poll or its answer without JavaScript.
// Each mirrors one decoder's repeatKey() line for line; repeat-keys.test.ts
// compares the two on every real segment of the protocol and on mutated ones.
#include <stdint.h>

#include "addon.h"

static inline uint32_t be16(const uint8_t *p) { return (uint32_t)(p[0] << 8 | p[1]); }

/** src/decoders/modbus.ts: a segment of exactly one well-formed MBAP frame, not FC 43: unit id and exception bit. */
static int64_t modbus_tcp(const uint8_t *b, uint32_t o, uint32_t end) {
  const uint32_t mbap = 7, fc_encapsulated = 0x2b;
  if (end < o + mbap + 1) return -1;  // what match() asks of the segment
  uint32_t length = be16(b + o + 4);
  if (o + 6 + length != end || length < 2 || length > 254) return -1;
  if (be16(b + o + 2) != 0 || b[o + mbap] == fc_encapsulated) return -1;
  return (int64_t)(b[o + 6] << 1 | b[o + mbap] >> 7);
}

int64_t repeat_key(uint32_t kind, const uint8_t *b, uint32_t start, uint32_t end) {
  switch (kind) {
    case NATIVE_KEY_MODBUS_TCP:
      return modbus_tcp(b, start, end);
    default:
      return -1;
  }
}

// repeatKey(kind, buffer, start, end): the key of the payload buffer[start, end), or -1 (for tests).
napi_value repeat_key_of(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  size_t length;
  const uint8_t *b = argc == 4 ? addon_typed(env, argv[1], napi_uint8_array, &length) : NULL;
  uint32_t kind, start, end;
  if (!b || napi_get_value_uint32(env, argv[0], &kind) != napi_ok ||
      napi_get_value_uint32(env, argv[2], &start) != napi_ok ||
      napi_get_value_uint32(env, argv[3], &end) != napi_ok || start > end || end > length)
    return addon_throw(env, "repeatKey(kind, buffer, start, end)");
  napi_value out;
  napi_create_double(env, (double)repeat_key(kind, b, start, end), &out);
  return out;
}
