// Live capture straight from libpcap into the agent: the pcap records of up to
// ~1 MiB of packets (or what arrived within max_wait_ms) are gathered on a
// libuv worker thread and handed to JavaScript as one Buffer, so the Node
// thread pays one callback per batch instead of one pipe write and read per
// packet as with `tcpdump -U -w -` (make bench ARGS=live-capture measures both).
//
// libpcap's API is declared here rather than taken from <pcap/pcap.h>: the
// functions and structures below have been ABI-stable since libpcap 1.0, and
// declaring them means building needs only the runtime library that tcpdump
// already pulls in (libpcap0.8 on Debian), not libpcap-dev.
//
// It only ever reads: no pcap_inject/pcap_sendpacket is declared or called.
#include <node_api.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

typedef struct pcap pcap_t;
struct pcap_pkthdr {
  struct timeval ts;  // tv_usec holds nanoseconds with PCAP_TSTAMP_PRECISION_NANO
  uint32_t caplen;
  uint32_t len;
};
struct pcap_stat {
  unsigned int ps_recv;
  unsigned int ps_drop;
  unsigned int ps_ifdrop;
};
struct bpf_insn {
  unsigned short code;
  unsigned char jt;
  unsigned char jf;
  uint32_t k;
};
struct bpf_program {
  unsigned int bf_len;
  struct bpf_insn *bf_insns;
};
typedef void (*pcap_handler)(unsigned char *, const struct pcap_pkthdr *, const unsigned char *);
pcap_t *pcap_create(const char *, char *);
int pcap_set_snaplen(pcap_t *, int);
int pcap_set_promisc(pcap_t *, int);
int pcap_set_timeout(pcap_t *, int);
int pcap_set_buffer_size(pcap_t *, int);
int pcap_set_tstamp_precision(pcap_t *, int);
int pcap_activate(pcap_t *);
int pcap_compile(pcap_t *, struct bpf_program *, const char *, int, uint32_t);
int pcap_setfilter(pcap_t *, struct bpf_program *);
void pcap_freecode(struct bpf_program *);
int pcap_dispatch(pcap_t *, int, pcap_handler, unsigned char *);
int pcap_stats(pcap_t *, struct pcap_stat *);
void pcap_breakloop(pcap_t *);
void pcap_close(pcap_t *);
char *pcap_geterr(pcap_t *);
int pcap_datalink(pcap_t *);
const char *pcap_statustostr(int);

#define PCAP_ERRBUF_SIZE 256
#define PCAP_NETMASK_UNKNOWN 0xffffffffu
#define PCAP_TSTAMP_PRECISION_NANO 1
#define PCAP_ERROR_BREAK (-2)

// A batch goes back to JavaScript once it holds this much.
#define BATCH_BYTES (1u << 20)
// An idle capture still returns this often, so counters stay fresh and close() is prompt.
#define IDLE_RETURN_MS 1000

typedef struct {
  pcap_t *p;
  unsigned char *buf;
  size_t cap;
  size_t used;
  uint32_t packets;
  int busy;
  int closing;
  int max_wait_ms;
  int failed;
  char error[PCAP_ERRBUF_SIZE + 64];
  struct pcap_stat stats;
  int have_stats;
  napi_async_work work;
  napi_ref callback;
} capture_t;

static int64_t now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static void put_u32le(unsigned char *b, uint32_t v) {
  b[0] = v & 0xff;
  b[1] = (v >> 8) & 0xff;
  b[2] = (v >> 16) & 0xff;
  b[3] = (v >> 24) & 0xff;
}

// Appends one pcap record (ts seconds, ts nanoseconds, captured length, original length, bytes).
static void on_packet(unsigned char *user, const struct pcap_pkthdr *h, const unsigned char *bytes) {
  capture_t *c = (capture_t *)user;
  size_t need = 16 + (size_t)h->caplen;
  if (c->used + need > c->cap) {
    size_t cap = c->cap * 2;
    while (c->used + need > cap) cap *= 2;
    unsigned char *grown = realloc(c->buf, cap);
    if (!grown) return;  // out of memory: the packet is lost, never the process
    c->buf = grown;
    c->cap = cap;
  }
  unsigned char *r = c->buf + c->used;
  put_u32le(r, (uint32_t)h->ts.tv_sec);
  put_u32le(r + 4, (uint32_t)h->ts.tv_usec);
  put_u32le(r + 8, h->caplen);
  put_u32le(r + 12, h->len);
  memcpy(r + 16, bytes, h->caplen);
  c->used += need;
  c->packets++;
}

static void execute(napi_env env, void *data) {
  (void)env;
  capture_t *c = (capture_t *)data;
  int64_t start = now_ms();
  c->used = 0;
  c->packets = 0;
  c->failed = 0;
  for (;;) {
    int n = pcap_dispatch(c->p, -1, on_packet, (unsigned char *)c);
    if (n == PCAP_ERROR_BREAK) break;
    if (n < 0) {
      c->failed = 1;
      snprintf(c->error, sizeof c->error, "%s", pcap_geterr(c->p));
      break;
    }
    if (__atomic_load_n(&c->closing, __ATOMIC_ACQUIRE) || c->used >= BATCH_BYTES) break;
    int64_t waited = now_ms() - start;
    if ((c->used > 0 && waited >= c->max_wait_ms) || waited >= IDLE_RETURN_MS) break;
  }
  c->have_stats = pcap_stats(c->p, &c->stats) == 0;
}

static void close_capture(capture_t *c) {
  if (c->p) pcap_close(c->p);
  c->p = NULL;
  free(c->buf);
  c->buf = NULL;
}

static void complete(napi_env env, napi_status status, void *data) {
  capture_t *c = (capture_t *)data;
  napi_value cb, undefined, args[3];
  napi_get_reference_value(env, c->callback, &cb);
  napi_delete_reference(env, c->callback);
  napi_delete_async_work(env, c->work);
  c->busy = 0;
  napi_get_undefined(env, &undefined);
  if (status != napi_ok || c->failed) {
    napi_value msg;
    napi_create_string_utf8(env, c->failed ? c->error : "capture cancelled", NAPI_AUTO_LENGTH, &msg);
    napi_create_error(env, NULL, msg, &args[0]);
  } else {
    args[0] = undefined;
  }
  void *copy;
  napi_create_buffer_copy(env, c->used, c->buf, &copy, &args[1]);
  napi_create_object(env, &args[2]);
  if (c->have_stats) {
    napi_value v;
    napi_create_uint32(env, c->stats.ps_recv, &v);
    napi_set_named_property(env, args[2], "received", v);
    napi_create_uint32(env, c->stats.ps_drop, &v);
    napi_set_named_property(env, args[2], "dropped", v);
    napi_create_uint32(env, c->stats.ps_ifdrop, &v);
    napi_set_named_property(env, args[2], "ifDropped", v);
  }
  if (c->closing) close_capture(c);
  napi_call_function(env, undefined, cb, 3, args, NULL);
}

static napi_value throw_error(napi_env env, const char *message) {
  napi_throw_error(env, NULL, message);
  return NULL;
}

static void finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  capture_t *c = (capture_t *)data;
  // A handle collected while a batch is in flight cannot be: the pending work holds its callback.
  if (!c->busy) {
    close_capture(c);
    free(c);
  }
}

static int get_string(napi_env env, napi_value v, char *out, size_t size) {
  size_t len;
  return napi_get_value_string_utf8(env, v, out, size, &len) == napi_ok;
}

// open(interface, snaplen, bufferBytes, maxWaitMs, filter?) -> handle; throws with libpcap's message.
static napi_value open_capture(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 4) return throw_error(env, "open(interface, snaplen, bufferBytes, maxWaitMs, filter?)");
  char iface[64];
  if (!get_string(env, argv[0], iface, sizeof iface)) return throw_error(env, "interface must be a string");
  int32_t snaplen, buffer_bytes, max_wait;
  napi_get_value_int32(env, argv[1], &snaplen);
  napi_get_value_int32(env, argv[2], &buffer_bytes);
  napi_get_value_int32(env, argv[3], &max_wait);
  char errbuf[PCAP_ERRBUF_SIZE] = "";
  char message[PCAP_ERRBUF_SIZE + 128];
  pcap_t *p = pcap_create(iface, errbuf);
  if (!p) return throw_error(env, errbuf);
  pcap_set_snaplen(p, snaplen);
  // Promiscuous, as tcpdump by default: a SPAN or TAP port delivers frames addressed to other MACs.
  pcap_set_promisc(p, 1);
  pcap_set_timeout(p, max_wait > 0 ? max_wait : 50);
  if (buffer_bytes > 0) pcap_set_buffer_size(p, buffer_bytes);
  pcap_set_tstamp_precision(p, PCAP_TSTAMP_PRECISION_NANO);
  int rc = pcap_activate(p);
  if (rc < 0) {
    snprintf(message, sizeof message, "%s: %s (%s)", iface, pcap_statustostr(rc), pcap_geterr(p));
    pcap_close(p);
    return throw_error(env, message);
  }
  napi_valuetype type = napi_undefined;
  if (argc >= 5) napi_typeof(env, argv[4], &type);
  if (type == napi_string) {
    size_t len;
    napi_get_value_string_utf8(env, argv[4], NULL, 0, &len);
    char *filter = malloc(len + 1);
    napi_get_value_string_utf8(env, argv[4], filter, len + 1, &len);
    struct bpf_program prog;
    if (pcap_compile(p, &prog, filter, 1, PCAP_NETMASK_UNKNOWN) < 0) {
      snprintf(message, sizeof message, "BPF filter \"%.64s\": %s", filter, pcap_geterr(p));
      free(filter);
      pcap_close(p);
      return throw_error(env, message);
    }
    free(filter);
    rc = pcap_setfilter(p, &prog);
    pcap_freecode(&prog);
    if (rc < 0) {
      snprintf(message, sizeof message, "setting the BPF filter: %s", pcap_geterr(p));
      pcap_close(p);
      return throw_error(env, message);
    }
  }
  capture_t *c = calloc(1, sizeof *c);
  c->p = p;
  c->cap = BATCH_BYTES + 65536 + 16;
  c->buf = malloc(c->cap);
  c->max_wait_ms = max_wait > 0 ? max_wait : 50;
  napi_value handle, linktype, result;
  napi_create_external(env, c, finalize, NULL, &handle);
  napi_create_int32(env, pcap_datalink(p), &linktype);
  napi_create_object(env, &result);
  napi_set_named_property(env, result, "handle", handle);
  napi_set_named_property(env, result, "linkType", linktype);
  return result;
}

static capture_t *handle_of(napi_env env, napi_value v) {
  void *data = NULL;
  if (napi_get_value_external(env, v, &data) != napi_ok) return NULL;
  return (capture_t *)data;
}

// read(handle, callback(error, records, stats)): one batch of pcap records, on a worker thread.
static napi_value read_batch(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  capture_t *c = argc == 2 ? handle_of(env, argv[0]) : NULL;
  if (!c) return throw_error(env, "read(handle, callback)");
  if (!c->p || c->closing) return throw_error(env, "the capture is closed");
  if (c->busy) return throw_error(env, "a read is already in flight");
  napi_value name;
  napi_create_string_utf8(env, "hark.pcap.read", NAPI_AUTO_LENGTH, &name);
  napi_create_reference(env, argv[1], 1, &c->callback);
  napi_create_async_work(env, NULL, name, execute, complete, c, &c->work);
  c->busy = 1;
  napi_queue_async_work(env, c->work);
  return NULL;
}

// close(handle): ends an in-flight read (its callback still runs, then the handle closes).
static napi_value close_handle(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  capture_t *c = argc == 1 ? handle_of(env, argv[0]) : NULL;
  if (!c) return throw_error(env, "close(handle)");
  __atomic_store_n(&c->closing, 1, __ATOMIC_RELEASE);
  if (c->busy) {
    if (c->p) pcap_breakloop(c->p);
  } else {
    close_capture(c);
  }
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"open", NULL, open_capture, NULL, NULL, NULL, napi_default, NULL},
      {"read", NULL, read_batch, NULL, NULL, NULL, napi_default, NULL},
      {"close", NULL, close_handle, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, 3, props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
