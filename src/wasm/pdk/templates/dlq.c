// @NAME@: a pgcdc dead letter queue plugin (docs/plugins.md in pgcdc's
// documentation), used with `--dlq plugin`.
//
// pgcdc calls `init` once with the plugin's config as one JSON object, then
// `record` once per dead letter with
//   {"event":<envelope>,"adapter":"<name>","error":"<why>","timestamp":"<RFC 3339>"},
// and `close` at shutdown. `record` succeeds when it returns 0 with no
// output; an output is an error message, and the adapter that dead-lettered
// the event then does not acknowledge it (nothing is lost: pgcdc stops with
// that error rather than drop the event).
//
// This template POSTs each record to the config value "url" through
// pgcdc_http_request (allow its origin with --plugin-http-allow) and fails
// unless the answer is 2xx.
#include "pgcdc_pdk.h"

static char* url;

__attribute__((export_name("init"))) int init(void) {
  url = config_string("url");
  if (url == NULL) output_str("@NAME@: the config needs \"url\"");
  return 0;
}

__attribute__((export_name("record"))) int record(void) {
  size_t n;
  char* rec = read_input(&n);
  if (http_ok("POST", url, rec, n)) count("recorded", 1.0);
  free(rec);
  return 0;
}

__attribute__((export_name("close"))) int close_dlq(void) { return 0; }
