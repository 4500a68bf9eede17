// @NAME@: a pgcdc checkpoint store plugin (docs/plugins.md in pgcdc's
// documentation), used with `--checkpoint-plugin` and `--persistent-slot`.
//
// pgcdc calls `init` once with the plugin's config as one JSON object; `load`
// with a replication slot's name, answered with {"lsn":N} or nothing (no
// checkpoint yet); `save` with {"slot_name":"…","lsn":N}, which succeeds when
// it returns 0 with no output (an output is an error message: pgcdc then keeps
// its older position and confirms nothing newer to the database).
//
// A plugin's memory dies with pgcdc's process, so a store must keep positions
// elsewhere to survive a crash. This template keeps them in an HTTP key-value
// service: PUT <url>/<slot> with the body {"lsn":N} on `save`, GET on `load`
// (404: none), the config value "url" naming the service (allow its origin
// with --plugin-http-allow).
#include "pgcdc_pdk.h"

static char* url;

__attribute__((export_name("init"))) int init(void) {
  url = config_string("url");
  if (url == NULL) output_str("@NAME@: the config needs \"url\"");
  return 0;
}

// <url>/<slot>, to free.
static char* slot_url(const char* slot) {
  buf u = {0};
  buf_str(&u, url);
  buf_str(&u, "/");
  buf_str(&u, slot);
  return u.p;
}

// The first number after "lsn" in s (escaped quotes or not); 0 when none.
static unsigned long long lsn_in(const char* s) {
  const char* p = s ? strstr(s, "lsn") : NULL;
  if (p == NULL) return 0;
  while (*p && (*p < '0' || *p > '9')) p++;
  return strtoull(p, NULL, 10);
}

__attribute__((export_name("load"))) int load(void) {
  size_t n;
  char* slot = read_input(&n);
  char* u = slot_url(slot);
  char* resp;
  int status = http("GET", u, "", 0, &resp);
  free(u);
  free(slot);
  if (status == 200) {
    unsigned long long lsn = lsn_in(strstr(resp, "\"body\""));
    if (lsn > 0) {
      char out[48];
      output(out, (size_t)snprintf(out, sizeof out, "{\"lsn\":%llu}", lsn));
    }
  } else if (status != 404) {
    output_str(resp);  // the service failed: an error, not "no checkpoint"
  }
  free(resp);
  return 0;
}

__attribute__((export_name("save"))) int save(void) {
  size_t n;
  char* in = read_input(&n);
  const char* name = strstr(in, "\"slot_name\":\"");
  if (name == NULL) {
    output_str("@NAME@: save without slot_name");
    free(in);
    return 0;
  }
  buf slot = {0};
  name += strlen("\"slot_name\":\"");
  buf_add(&slot, name, strcspn(name, "\""));
  char body[48];
  int len = snprintf(body, sizeof body, "{\"lsn\":%llu}", lsn_in(strstr(in, "\"lsn\"")));
  free(in);
  char* u = slot_url(slot.p);
  free(slot.p);
  http_ok("PUT", u, body, (size_t)len);
  free(u);
  return 0;
}

__attribute__((export_name("close"))) int close_store(void) { return 0; }
