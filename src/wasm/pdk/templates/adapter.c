// @NAME@: a pgcdc adapter plugin (docs/plugins.md in pgcdc's documentation).
//
// An adapter is a sink. pgcdc calls
//   - `init` once at start with the plugin's config as one JSON object;
//   - `handle` once per event with the event's JSON envelope
//     {"id","channel","operation","payload","source",...};
//   - `close` once at shutdown.
// A call succeeds when it returns 0 and sets no output. An output is read as
// an error message: pgcdc retries the event (plugins.adapter_max_attempts),
// then writes it to the dead letter queue. pgcdc confirms an event to the
// database only after `handle` succeeded for it, so a crash loses nothing:
// events are delivered at least once (pass the event "id" on so the receiver
// can drop repeats).
//
// This template POSTs each event to the config value "url" through
// pgcdc_http_request (allow its origin with --plugin-http-allow) and fails the
// event unless the answer is 2xx.
#include "pgcdc_pdk.h"

static char* url;
static long handled;

__attribute__((export_name("init"))) int init(void) {
  url = config_string("url");
  if (url == NULL) output_str("@NAME@: the config needs \"url\"");
  return 0;
}

__attribute__((export_name("handle"))) int handle(void) {
  size_t n;
  char* event = read_input(&n);
  // TODO: change what is sent, or where.
  int ok = http_ok("POST", url, event, n);
  free(event);
  if (ok) {
    handled++;
    count("forwarded", 1.0);
  }
  return 0;
}

__attribute__((export_name("close"))) int close_adapter(void) {
  char line[96];
  snprintf(line, sizeof line, "@NAME@: closed after %ld events", handled);
  log_at("info", line);
  return 0;
}
