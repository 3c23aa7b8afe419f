// Registers the pipeline addon's functions (see addon.h) and holds their helpers.
#include "addon.h"

napi_value addon_throw(napi_env env, const char *message) {
  napi_throw_error(env, NULL, message);
  return NULL;
}

void *addon_typed(napi_env env, napi_value value, napi_typedarray_type want, size_t *length) {
  bool is;
  if (napi_is_typedarray(env, value, &is) != napi_ok || !is) return NULL;
  napi_typedarray_type type;
  void *data;
  if (napi_get_typedarray_info(env, value, &type, length, &data, NULL, NULL) != napi_ok || type != want)
    return NULL;
  return data;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"create", NULL, memo_create, NULL, NULL, NULL, napi_default, NULL},
      {"judge", NULL, memo_judge, NULL, NULL, NULL, napi_default, NULL},
      {"commit", NULL, memo_commit, NULL, NULL, NULL, napi_default, NULL},
      {"scanPcap", NULL, scan_pcap, NULL, NULL, NULL, napi_default, NULL},
      {"repeatKey", NULL, repeat_key_of, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
