// A DLQ plugin (docs/plugins.md): `record` gets
// {"event":…,"adapter":…,"error":…,"timestamp":…} and keeps it in the
// plugin's memory; `dump` outputs the records kept, one per line. The
// HTTP-backed DLQ is the `plugin init --type dlq` template
// (src/wasm/pdk/templates/dlq.c).
#include "pgcdc_pdk.h"

static buf records;

__attribute__((export_name("record"))) int record(void) {
  size_t n;
  char* rec = read_input(&n);
  buf_add(&records, rec, n);
  buf_add(&records, "\n", 1);
  free(rec);
  return 0;
}

__attribute__((export_name("dump"))) int dump(void) {
  if (records.n > 0) output(records.p, records.n);
  return 0;
}
