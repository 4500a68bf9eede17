// An adapter plugin (docs/plugins.md): `handle` gets one event's JSON. With
// the config "url" it POSTs the event there through pgcdc_http_request and
// fails (non-empty output) unless the answer is 2xx; without it, it writes the
// event to stdout (pgcdc logs it). Events containing the config string
// "fail_match" fail. `init` gets the config JSON; `close` logs a count.
#include "pdk.h"

static char* url;
static char* fail_match;
static long handled;

__attribute__((export_name("init"))) int init(void) {
  url = config_string("url");
  fail_match = config_string("fail_match");
  size_t n;
  char* cfg = read_input(&n);
  if (n == 0 || cfg[0] != '{') {
    output("init: expected the config object", strlen("init: expected the config object"));
    return 0;
  }
  free(cfg);
  return 0;
}

__attribute__((export_name("handle"))) int handle(void) {
  size_t n;
  char* ev = read_input(&n);
  if (fail_match && strstr(ev, fail_match)) {
    output("refused: the event matches fail_match",
           strlen("refused: the event matches fail_match"));
    free(ev);
    return 0;
  }
  if (url) {
    char* resp;
    int status = http("POST", url, ev, n, &resp);
    free(ev);
    if (status < 200 || status > 299) {
      output(resp, strlen(resp));  // an error message: the call failed
      free(resp);
      return 0;
    }
    free(resp);
  } else {
    printf("%s\n", ev);
    fflush(stdout);
    free(ev);
  }
  handled++;
  pgcdc_metric_inc(to_kernel_str("handled"), 1.0);
  return 0;
}

__attribute__((export_name("close"))) int close_adapter(void) {
  printf("echo adapter closed after %ld events\n", handled);
  fflush(stdout);
  return 0;
}
