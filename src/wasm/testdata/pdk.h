// A few helpers shared by the C test plugins (clang-19 --target=wasm32-wasi):
// the Extism imports, copying between plugin memory and the host's kernel
// blocks, and pgcdc's host functions. Not a PDK: just enough for the tests.
#pragma once
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXTISM(name) __attribute__((import_module("extism:host/env"), import_name(name)))
EXTISM("input_length") uint64_t input_length(void);
EXTISM("input_load_u8") uint32_t input_load_u8(uint64_t);
EXTISM("alloc") uint64_t kalloc(uint64_t);
EXTISM("length") uint64_t klength(uint64_t);
EXTISM("load_u8") uint32_t load_u8(uint64_t);
EXTISM("store_u8") void store_u8(uint64_t, uint32_t);
EXTISM("output_set") void output_set(uint64_t, uint64_t);
EXTISM("error_set") void error_set(uint64_t);
EXTISM("config_get") uint64_t config_get(uint64_t);
#define PGCDC(name) __attribute__((import_module("pgcdc"), import_name(name)))
PGCDC("pgcdc_http_request") uint64_t pgcdc_http_request(uint64_t);
PGCDC("pgcdc_metric_inc") void pgcdc_metric_inc(uint64_t, double);

// A growable byte string.
typedef struct {
  char* p;
  size_t n, cap;
} buf;

static void buf_add(buf* b, const char* s, size_t n) {
  if (b->n + n + 1 > b->cap) {
    b->cap = (b->n + n + 1) * 2;
    b->p = realloc(b->p, b->cap);
  }
  memcpy(b->p + b->n, s, n);
  b->n += n;
  b->p[b->n] = 0;
}
static void buf_str(buf* b, const char* s) { buf_add(b, s, strlen(s)); }
// Appends `s` as the inside of a JSON string.
static void buf_json(buf* b, const char* s, size_t n) {
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

static uint64_t to_kernel(const char* p, size_t n) {
  uint64_t off = kalloc(n);
  for (size_t i = 0; i < n; i++) store_u8(off + i, (uint8_t)p[i]);
  return off;
}
static uint64_t to_kernel_str(const char* s) { return to_kernel(s, strlen(s)); }

// A kernel block as a NUL-terminated copy ("" for offset 0).
static char* from_kernel(uint64_t off) {
  size_t n = off ? klength(off) : 0;
  char* s = malloc(n + 1);
  for (size_t i = 0; i < n; i++) s[i] = (char)load_u8(off + i);
  s[n] = 0;
  return s;
}

static char* read_input(size_t* len) {
  size_t n = input_length();
  char* s = malloc(n + 1);
  for (size_t i = 0; i < n; i++) s[i] = (char)input_load_u8(i);
  s[n] = 0;
  *len = n;
  return s;
}

static void output(const char* s, size_t n) { output_set(to_kernel(s, n), n); }

// A config value that is a JSON string, without its quotes (NULL if absent).
static char* config_string(const char* key) {
  uint64_t off = config_get(to_kernel_str(key));
  if (off == 0) return NULL;
  char* s = from_kernel(off);
  size_t n = strlen(s);
  if (n >= 2 && s[0] == '"') {
    memmove(s, s + 1, n - 2);
    s[n - 2] = 0;
  }
  return s;
}

// pgcdc_http_request; returns the response's status (0: not sent) and its
// JSON in *response (to free).
static int http(const char* method, const char* url, const char* body, size_t body_len,
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
