// Classic pcap records into a FrameBatch's columns (see src/capture/pcap.ts,
// which falls back to the same loop in JavaScript without this addon). Read
// from a file, a packet's record costs JavaScript ~15 ns to walk (four
// header words, nine column writes): a twentieth of the packet's whole cost,
// about what this file does for all of a chunk's records in one call.
#include <node_api.h>
#include <stdint.h>
#include <string.h>

#include "addon.h"

/** Larger than any real snap length (tcpdump's maximum is 262144); a bigger record is corruption. */
#define MAX_RECORD (16u * 1024 * 1024)
#define RECORD_HEADER 16

static inline uint32_t u32(const uint8_t *p, int little_endian) {
  return little_endian ? (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24
                       : (uint32_t)p[3] | (uint32_t)p[2] << 8 | (uint32_t)p[1] << 16 | (uint32_t)p[0] << 24;
}

// scanPcap(buffer, from, end, littleEndian, nano, linkType, starts, ends, originalLengths, timestampsMs,
//          seconds, nanos, linkTypes, interfaceIds, count, state):
// appends the records that lie whole in buffer[from, end) to the columns from index `count`, as many as
// they have room for. state (a Float64Array of 3) becomes: the offset after the last record appended,
// the count, and the offset of a record that claims more than MAX_RECORD bytes (-1: none).
napi_value scan_pcap(napi_env env, napi_callback_info info) {
  size_t argc = 16;
  napi_value argv[16];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc != 16) return addon_throw(env, "scanPcap: 16 arguments");
  size_t buffer_length, n_starts, n_ends, n_original, n_ms, n_seconds, n_nanos, n_links, n_ifaces, n_state;
  const uint8_t *buffer = addon_typed(env, argv[0], napi_uint8_array, &buffer_length);
  uint32_t from, end, little_endian, nano, link_type, count;
  int32_t *starts = addon_typed(env, argv[6], napi_int32_array, &n_starts);
  int32_t *ends = addon_typed(env, argv[7], napi_int32_array, &n_ends);
  double *original = addon_typed(env, argv[8], napi_float64_array, &n_original);
  double *ms = addon_typed(env, argv[9], napi_float64_array, &n_ms);
  double *seconds = addon_typed(env, argv[10], napi_float64_array, &n_seconds);
  double *nanos = addon_typed(env, argv[11], napi_float64_array, &n_nanos);
  int32_t *links = addon_typed(env, argv[12], napi_int32_array, &n_links);
  int32_t *ifaces = addon_typed(env, argv[13], napi_int32_array, &n_ifaces);
  double *state = addon_typed(env, argv[15], napi_float64_array, &n_state);
  if (!buffer || !starts || !ends || !original || !ms || !seconds || !nanos || !links || !ifaces || !state ||
      n_state < 3 || napi_get_value_uint32(env, argv[1], &from) != napi_ok ||
      napi_get_value_uint32(env, argv[2], &end) != napi_ok ||
      napi_get_value_uint32(env, argv[3], &little_endian) != napi_ok ||
      napi_get_value_uint32(env, argv[4], &nano) != napi_ok ||
      napi_get_value_uint32(env, argv[5], &link_type) != napi_ok ||
      napi_get_value_uint32(env, argv[14], &count) != napi_ok)
    return addon_throw(env, "scanPcap: bad arguments");
  size_t capacity = n_starts;
  if (n_ends < capacity) capacity = n_ends;
  if (n_original < capacity) capacity = n_original;
  if (n_ms < capacity) capacity = n_ms;
  if (n_seconds < capacity) capacity = n_seconds;
  if (n_nanos < capacity) capacity = n_nanos;
  if (n_links < capacity) capacity = n_links;
  if (n_ifaces < capacity) capacity = n_ifaces;
  if (end > buffer_length || from > end) return addon_throw(env, "scanPcap: range out of the buffer");
  uint32_t off = from;
  double corrupt = -1;
  while (count < capacity && end - off >= RECORD_HEADER) {
    const uint8_t *h = buffer + off;
    uint32_t sec = u32(h, little_endian), frac = u32(h + 4, little_endian);
    uint32_t incl = u32(h + 8, little_endian), orig = u32(h + 12, little_endian);
    if (incl > MAX_RECORD) {
      corrupt = off;
      break;
    }
    if (end - off - RECORD_HEADER < incl) break;
    // The same arithmetic, in doubles, as FrameBatch.push: the same timestamps to the last bit.
    double ns = nano ? (double)frac : (double)frac * 1000;
    starts[count] = (int32_t)(off + RECORD_HEADER);
    ends[count] = (int32_t)(off + RECORD_HEADER + incl);
    original[count] = orig;
    ms[count] = (double)sec * 1000 + ns / 1e6;
    seconds[count] = sec;
    nanos[count] = ns;
    links[count] = (int32_t)link_type;
    ifaces[count] = 0;
    count++;
    off += RECORD_HEADER + incl;
  }
  state[0] = off;
  state[1] = count;
  state[2] = corrupt;
  return NULL;
}
