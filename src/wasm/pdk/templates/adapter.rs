// @NAME@: a pgcdc adapter plugin in Rust (docs/plugins.md in pgcdc's
// documentation).
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
mod pgcdc_pdk;
use pgcdc_pdk as pdk;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

static URL: Mutex<String> = Mutex::new(String::new());
static HANDLED: AtomicU64 = AtomicU64::new(0);

#[no_mangle]
pub extern "C" fn init() -> i32 {
    match pdk::config_string("url") {
        Some(url) => *URL.lock().unwrap() = String::from_utf8_lossy(&url).into_owned(),
        None => pdk::output(b"@NAME@: the config needs \"url\""),
    }
    0
}

#[no_mangle]
pub extern "C" fn handle() -> i32 {
    let event = pdk::input();
    // TODO: change what is sent, or where.
    if pdk::http_ok("POST", &URL.lock().unwrap(), &event) {
        HANDLED.fetch_add(1, Ordering::Relaxed);
        pdk::count("forwarded", 1.0);
    }
    0
}

#[export_name = "close"]
pub extern "C" fn close_adapter() -> i32 {
    let handled = HANDLED.load(Ordering::Relaxed);
    pdk::log("info", &format!("@NAME@: closed after {} events", handled));
    0
}
