// pgcdc_pdk.h: a small helper header for pgcdc Wasm plugins written in C
// (clang-19 --target=wasm32-wasi -mexec-model=reactor, docs/plugins.md).
// `pgcdc plugin init` writes it next to the plugin's source, and the test
// plugins of pgcdc's own suite include it. It declares the Extism imports
// pgcdc provides, copies bytes between the plugin's memory and the host's
// kernel blocks (8 bytes per call where it can, as Extism's PDKs do), reads
// config values, and wraps pgcdc's host functions: pgcdc_log,
// pgcdc_metric_inc and pgcdc_http_request. Everything is `static inline`: include it
// from one .c file.
#pragma once
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXTISM(name) __attribute__((import_module("extism:host/env"), import_name(name)))
EXTISM("input_length") uint64_t input_length(void);
EXTISM("input_load_u8") uint32_t input_load_u8(uint64_t);
EXTISM("input_load_u64") uint64_t input_load_u64(uint64_t);
EXTISM("alloc") uint64_t kalloc(uint64_t);
EXTISM("length") uint64_t klength(uint64_t);
EXTISM("load_u8") uint32_t load_u8(uint64_t);
EXTISM("store_u8") void store_u8(uint64_t, uint32_t);
EXTISM("store_u64") void store_u64(uint64_t, uint64_t);
EXTISM("output_set") void output_set(uint64_t, uint64_t);
EXTISM("error_set") void error_set(uint64_t);
EXTISM("config_get") uint64_t config_get(uint64_t);
// pgcdc's own host functions (module "pgcdc"; "extism:host/user" works too).
#define PGCDC(name) __attribute__((import_module("pgcdc"), import_name(name)))
PGCDC("pgcdc_log") void pgcdc_log(uint64_t level, uint64_t message);
PGCDC("pgcdc_metric_inc") void pgcdc_metric_inc(uint64_t name, double value);
PGCDC("pgcdc_http_request") uint64_t pgcdc_http_request(uint64_t request);

// A growable byte string (p is NUL-terminated once anything was added).
typedef struct {
  char* p;
  size_t n, cap;
} buf;

static inline void buf_add(buf* b, const char* s, size_t n) {
  if (b->n + n + 1 > b->cap) {
    b->cap = (b->n + n + 1) * 2;
    b->p = realloc(b->p, b->cap);
  }
  memcpy(b->p + b->n, s, n);
  b->n += n;
  b->p[b->n] = 0;
}
static inline void buf_str(buf* b, const char* s) { buf_add(b, s, strlen(s)); }
// Appends `s` as the inside of a JSON string.
static inline void buf_json(buf* b, const char* s, size_t n) {
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == '"' || c == '\\') {
      char esc[2] = {'\\', (char)c};
      buf_add(b, esc, 2);
    } else if (c < 0x20) {
      char esc[8];
      snprintf(esc, sizeof esc, "\\u%04x", c);
      buf_add(b, esc, 6);
    } else {
      buf_add(b, (const char*)&c, 1);
    }
  }
}

// A new kernel block holding p[0..n).
static inline uint64_t to_kernel(const char* p, size_t n) {
  uint64_t off = kalloc(n);
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t v;
    memcpy(&v, p + i, 8);
    store_u64(off + i, v);
  }
  for (; i < n; i++) store_u8(off + i, (uint8_t)p[i]);
  return off;
}
static inline uint64_t to_kernel_str(const char* s) { return to_kernel(s, strlen(s)); }

// A kernel block as a NUL-terminated copy to free ("" for offset 0).
static inline char* from_kernel(uint64_t off) {
  size_t n = off ? klength(off) : 0;
  char* s = malloc(n + 1);
  for (size_t i = 0; i < n; i++) s[i] = (char)load_u8(off + i);
  s[n] = 0;
  return s;
}

// This call's input as a NUL-terminated copy to free; its length in *len.
static inline char* read_input(size_t* len) {
  size_t n = input_length();
  char* s = malloc(n + 1);
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t v = input_load_u64(i);
    memcpy(s + i, &v, 8);
  }
  for (; i < n; i++) s[i] = (char)input_load_u8(i);
  s[n] = 0;
  *len = n;
  return s;
}

// Sets the call's output. For adapter, DLQ and checkpoint calls an output on
// `init`, `handle`, `record` or `save` is an error message (SPEC §10.1).
static inline void output(const char* s, size_t n) { output_set(to_kernel(s, n), n); }
static inline void output_str(const char* s) { output(s, strlen(s)); }

// Fails a transform call with `message` (pgcdc counts the error and
// dead-letters the event): `return fail("...");`.
static inline int fail(const char* message) {
  error_set(to_kernel_str(message));
  return 1;
}

// Logs at "debug", "info", "warn" or "error" (pgcdc's log, source=plugin).
static inline void log_at(const char* level, const char* message) {
  pgcdc_log(to_kernel_str(level), to_kernel_str(message));
}

// Adds to the counter pgcdc_plugin_custom_<name>_total{plugin}.
static inline void count(const char* name, double value) {
  pgcdc_metric_inc(to_kernel_str(name), value);
}

// A config value as pgcdc passes it (JSON-encoded: a string arrives with its
// quotes), or NULL when the key is not set. To free.
static inline char* config_raw(const char* key) {
  uint64_t off = config_get(to_kernel_str(key));
  return off == 0 ? NULL : from_kernel(off);
}

// A config value that is a JSON string, without its quotes (NULL if absent).
static inline char* config_string(const char* key) {
  char* s = config_raw(key);
  if (s == NULL) return NULL;
  size_t n = strlen(s);
  if (n >= 2 && s[0] == '"') {
    memmove(s, s + 1, n - 2);
    s[n - 2] = 0;
  }
  return s;
}

// pgcdc_http_request: returns the answer's HTTP status (0: nothing received,
// e.g. the URL is not in plugins.http_allow) and the answer's JSON
// {"status","headers","body"} in *response (to free).
static inline int http(const char* method, const char* url, const char* body, size_t body_len,
                       char** response) {
  buf req = {0};
  buf_str(&req, "{\"method\":\"");
  buf_str(&req, method);
  buf_str(&req, "\",\"url\":\"");
  buf_json(&req, url, strlen(url));
  buf_str(&req, "\",\"headers\":{\"Content-Type\":\"application/json\"},\"body\":\"");
  buf_json(&req, body, body_len);
  buf_str(&req, "\"}");
  char* resp = from_kernel(pgcdc_http_request(to_kernel(req.p, req.n)));
  free(req.p);
  const char* st = strstr(resp, "\"status\":");
  *response = resp;
  return st ? atoi(st + 9) : 0;
}

// Sends a request and answers 1 for a 2xx status; otherwise sets the call's
// output to the answer (the error message pgcdc records) and answers 0.
static inline int http_ok(const char* method, const char* url, const char* body, size_t body_len) {
  char* resp;
  int status = http(method, url, body, body_len, &resp);
  int ok = status >= 200 && status <= 299;
  if (!ok) output_str(resp);
  free(resp);
  return ok;
}
