// An adapter plugin (docs/plugins.md): `handle` gets one event's JSON and
// writes it to stdout (pgcdc logs it); events containing the config string
// "fail_match" fail. `init` gets the config JSON; `close` logs a count. The
// HTTP-forwarding adapter is the `plugin init --type adapter` template
// (src/wasm/pdk/templates/adapter.c).
#include "pgcdc_pdk.h"

static char* fail_match;
static long handled;

__attribute__((export_name("init"))) int init(void) {
  fail_match = config_string("fail_match");
  size_t n;
  char* cfg = read_input(&n);
  if (n == 0 || cfg[0] != '{') output_str("init: expected the config object");
  free(cfg);
  return 0;
}

__attribute__((export_name("handle"))) int handle(void) {
  size_t n;
  char* ev = read_input(&n);
  if (fail_match && strstr(ev, fail_match)) {
    output_str("refused: the event matches fail_match");
  } else {
    printf("%s\n", ev);
    fflush(stdout);
    handled++;
    count("handled", 1.0);
  }
  free(ev);
  return 0;
}

__attribute__((export_name("close"))) int close_adapter(void) {
  printf("echo adapter closed after %ld events\n", handled);
  fflush(stdout);
  return 0;
}
