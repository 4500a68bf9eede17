// @NAME@: a pgcdc transform plugin in Rust (docs/plugins.md in pgcdc's
// documentation).
//
// pgcdc calls the export `transform` once per event with the event's JSON
// envelope as input: {"id","channel","operation","payload","source",...}.
//   - set an output (an event JSON) to pass the event on: its payload, and its
//     channel and operation when present, replace the original's;
//   - set no output to drop the event;
//   - return non-zero (pgcdc_pdk::fail) to fail it: pgcdc counts the error and
//     sends the event to the dead letter queue.
//
// This template passes every event on unchanged, except events whose
// operation equals the config value "drop_operation" (e.g. "DELETE"), which
// it drops and counts in pgcdc_plugin_custom_dropped_total.
mod pgcdc_pdk;
use pgcdc_pdk as pdk;

#[no_mangle]
pub extern "C" fn transform() -> i32 {
    let event = pdk::input();
    if let Some(drop) = pdk::config_raw("drop_operation") {
        // JSON-encoded: "\"DELETE\"". The envelope is compact JSON: look for
        // "operation":"DELETE".
        let mut needle = b"\"operation\":".to_vec();
        needle.extend_from_slice(&drop);
        if pdk::find(&event, &needle).is_some() {
            pdk::count("dropped", 1.0);
            pdk::log("debug", "@NAME@: event dropped");
            return 0; // no output: the event is dropped
        }
    }

    // TODO: change the event here. Pass it on unchanged:
    pdk::output(&event);
    0
}
