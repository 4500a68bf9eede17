// A transform plugin in C (clang-19 --target=wasm32-wasi, docs/plugins.md):
// removes every object member named by the config key "field" (a JSON string,
// SPEC §10.1: {"field": "\"email\""}) from the event JSON, at any depth.
#include "pgcdc_pdk.h"

// End of the JSON string starting at s[i] == '"' (index past the closing quote;
// n when it is not closed, so that a cut input is never read past its end).
static size_t skip_string(const char* s, size_t n, size_t i) {
  for (i++; i < n && s[i] != '"'; i++) {
    if (s[i] == '\\') i++;
  }
  return i < n ? i + 1 : n;
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
  size_t n;
  char* in = read_input(&n);
  char* out = malloc(n + 1);
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
