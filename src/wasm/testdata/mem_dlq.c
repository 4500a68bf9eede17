// A DLQ plugin (docs/plugins.md): `record` gets
// {"event":…,"adapter":…,"error":…,"timestamp":…} and keeps it in the
// plugin's memory; `dump` outputs the records kept, one per line. With the
// config "url" each record is also POSTed there (pgcdc_http_request) and a
// non-2xx answer fails the record, which is what makes it durable.
#include "pdk.h"

static buf records;
static char* url;

__attribute__((export_name("init"))) int init(void) {
  url = config_string("url");
  return 0;
}

__attribute__((export_name("record"))) int record(void) {
  size_t n;
  char* rec = read_input(&n);
  if (url) {
    char* resp;
    int status = http("POST", url, rec, n, &resp);
    if (status < 200 || status > 299) {
      output(resp, strlen(resp));
      free(resp);
      free(rec);
      return 0;
    }
    free(resp);
  }
  buf_add(&records, rec, n);
  buf_add(&records, "\n", 1);
  free(rec);
  return 0;
}

__attribute__((export_name("dump"))) int dump(void) {
  if (records.n > 0) output(records.p, records.n);
  return 0;
}

__attribute__((export_name("close"))) int close_dlq(void) { return 0; }
