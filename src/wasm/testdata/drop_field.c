// A transform plugin in C (clang-19 --target=wasm32-wasi, docs/plugins.md):
// removes every object member named by the config key "field" (a JSON string,
// SPEC §10.1: {"field": "\"email\""}) from the event JSON, at any depth.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXTISM(name) __attribute__((import_module("extism:host/env"), import_name(name)))
EXTISM("input_length") uint64_t input_length(void);
EXTISM("input_load_u8") uint32_t input_load_u8(uint64_t);
EXTISM("input_load_u64") uint64_t input_load_u64(uint64_t);
EXTISM("store_u64") void store_u64(uint64_t, uint64_t);
EXTISM("alloc") uint64_t kalloc(uint64_t);
EXTISM("length") uint64_t klength(uint64_t);
EXTISM("load_u8") uint32_t load_u8(uint64_t);
EXTISM("store_u8") void store_u8(uint64_t, uint32_t);
EXTISM("output_set") void output_set(uint64_t, uint64_t);
EXTISM("error_set") void error_set(uint64_t);
EXTISM("config_get") uint64_t config_get(uint64_t);

// Copies into a new kernel block 8 bytes per call, as Extism's PDKs do.
static uint64_t to_kernel(const char* p, size_t n) {
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

static void read_input(char* in, size_t n) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t v = input_load_u64(i);
    memcpy(in + i, &v, 8);
  }
  for (; i < n; i++) in[i] = (char)input_load_u8(i);
}

static int fail(const char* msg) {
  error_set(to_kernel(msg, strlen(msg)));
  return 1;
}

// End of the JSON string starting at s[i] == '"' (index past the closing quote).
static size_t skip_string(const char* s, size_t n, size_t i) {
  for (i++; i < n && s[i] != '"'; i++) {
    if (s[i] == '\\') i++;
  }
  return i + 1;
}

// End of the JSON value starting at s[i] (compact JSON).
static size_t skip_value(const char* s, size_t n, size_t i) {
  if (s[i] == '"') return skip_string(s, n, i);
  if (s[i] != '{' && s[i] != '[') {
    while (i < n && s[i] != ',' && s[i] != '}' && s[i] != ']') i++;
    return i;
  }
  int depth = 0;
  for (; i < n; i++) {
    if (s[i] == '"') {
      i = skip_string(s, n, i) - 1;
    } else if (s[i] == '{' || s[i] == '[') {
      depth++;
    } else if ((s[i] == '}' || s[i] == ']') && --depth == 0) {
      return i + 1;
    }
  }
  return n;
}

__attribute__((export_name("transform"))) int transform(void) {
  uint64_t cfg = config_get(to_kernel("field", 5));
  if (cfg == 0) return fail("config \"field\" is required");
  size_t cn = klength(cfg);
  char* key = malloc(cn + 2);  // the JSON-encoded name, then ':' to match a member
  for (size_t i = 0; i < cn; i++) key[i] = (char)load_u8(cfg + i);
  key[cn] = ':';
  key[cn + 1] = 0;
  size_t n = input_length();
  char* in = malloc(n + 1);
  char* out = malloc(n + 1);
  read_input(in, n);
  size_t o = 0;
  for (size_t i = 0; i < n;) {
    int member = (in[i] == '"' && o > 0 && (out[o - 1] == '{' || out[o - 1] == ','));
    if (member && strncmp(in + i, key, cn + 1) == 0) {
      size_t end = skip_value(in, n, i + cn + 1);
      if (end < n && in[end] == ',') {
        end++;
      } else if (out[o - 1] == ',') {
        o--;  // last member: drop the comma before it
      }
      i = end;
      continue;
    }
    if (in[i] == '"') {
      size_t end = skip_string(in, n, i);
      memcpy(out + o, in + i, end - i);
      o += end - i;
      i = end;
      continue;
    }
    out[o++] = in[i++];
  }
  output_set(to_kernel(out, o), o);
  free(in);
  free(out);
  free(key);
  return 0;
}

// Writes a line to stdout through WASI fd_write (the host logs it).
__attribute__((export_name("hello"))) int hello(void) {
  printf("hello from C\n");
  fflush(stdout);
  return 0;
}
