// The pipeline's addon (hark_pipeline.node): the frame memo (frame_memo.c),
// the repeat keys of cyclic polling it uses (repeat_keys.c) and the pcap
// record scanner (pcap_records.c), registered by addon.c.
#ifndef HARK_ADDON_H
#define HARK_ADDON_H
#include <node_api.h>
#include <stdint.h>

/** Throws a JavaScript Error with `message`; returns NULL for the caller to return. */
napi_value addon_throw(napi_env env, const char *message);
/** The data of `value` if it is a typed array of type `want` (its element count in *length), else NULL. */
void *addon_typed(napi_env env, napi_value value, napi_typedarray_type want, size_t *length);

napi_value memo_create(napi_env env, napi_callback_info info);
napi_value memo_judge(napi_env env, napi_callback_info info);
napi_value memo_commit(napi_env env, napi_callback_info info);
napi_value scan_pcap(napi_env env, napi_callback_info info);
napi_value repeat_key_of(napi_env env, napi_callback_info info);

/** Repeat keys the addon computes (src/decoders/types.ts NativeRepeatKey). */
#define NATIVE_KEY_MODBUS_TCP 1
#define NATIVE_KEY_ENIP_TCP 2
#define NATIVE_KEY_BACNET 3
/**
 * The key of the payload b[start, end) of a segment between those ports by repeat key `kind`, or -1 where
 * the decoder's match() or repeatKey() gives none.
 */
int64_t repeat_key(uint32_t kind, const uint8_t *b, uint32_t start, uint32_t end, uint32_t src_port,
                   uint32_t dst_port);
/**
 * Whether a segment of repeat key `kind` without a key is still compared byte for byte by the repeat cache
 * (its decoder announces), and then where its transaction identifier lies, from the payload's start.
 */
int repeat_bytes(uint32_t kind, uint32_t *id_offset, uint32_t *id_length);
#endif
