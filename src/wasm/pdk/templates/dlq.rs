// @NAME@: a pgcdc dead letter queue plugin in Rust (docs/plugins.md in pgcdc's
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
mod pgcdc_pdk;
use pgcdc_pdk as pdk;
use std::sync::Mutex;

static URL: Mutex<String> = Mutex::new(String::new());

#[no_mangle]
pub extern "C" fn init() -> i32 {
    match pdk::config_string("url") {
        Some(url) => *URL.lock().unwrap() = String::from_utf8_lossy(&url).into_owned(),
        None => pdk::output(b"@NAME@: the config needs \"url\""),
    }
    0
}

#[no_mangle]
pub extern "C" fn record() -> i32 {
    let rec = pdk::input();
    if pdk::http_ok("POST", &URL.lock().unwrap(), &rec) {
        pdk::count("recorded", 1.0);
    }
    0
}

#[export_name = "close"]
pub extern "C" fn close_dlq() -> i32 {
    0
}
