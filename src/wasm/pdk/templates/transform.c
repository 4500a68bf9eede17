// @NAME@: a pgcdc transform plugin (docs/plugins.md in pgcdc's documentation).
//
// pgcdc calls the export `transform` once per event with the event's JSON
// envelope as input: {"id","channel","operation","payload","source",...}.
//   - set an output (an event JSON) to pass the event on: its payload, and its
//     channel and operation when present, replace the original's;
//   - set no output to drop the event;
//   - return non-zero (after error_set) to fail it: pgcdc counts the error and
//     sends the event to the dead letter queue.
//
// This template passes every event on unchanged, except events whose
// operation equals the config value "drop_operation" (e.g. "DELETE"), which
// it drops and counts in pgcdc_plugin_custom_dropped_total.
#include "pgcdc_pdk.h"

__attribute__((export_name("transform"))) int transform(void) {
  size_t n;
  char* event = read_input(&n);
  char* drop = config_raw("drop_operation");  // JSON-encoded: "\"DELETE\""
  if (drop != NULL) {
    // The envelope is compact JSON: look for "operation":"DELETE".
    buf needle = {0};
    buf_str(&needle, "\"operation\":");
    buf_str(&needle, drop);
    int matches = strstr(event, needle.p) != NULL;
    free(needle.p);
    free(drop);
    if (matches) {
      count("dropped", 1.0);
      log_at("debug", "@NAME@: event dropped");
      free(event);
      return 0;  // no output: the event is dropped
    }
  }

  // TODO: change the event here. Pass it on unchanged:
  output(event, n);
  free(event);
  return 0;
}
