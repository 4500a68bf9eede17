// @NAME@: a pgcdc checkpoint store plugin in Rust (docs/plugins.md in pgcdc's
// documentation), used with `--checkpoint-plugin` and `--persistent-slot`.
//
// pgcdc calls `init` once with the plugin's config as one JSON object; `load`
// with a replication slot's name, answered with {"lsn":N} or nothing (no
// checkpoint yet); `save` with {"slot_name":"…","lsn":N}, which succeeds when
// it returns 0 with no output (an output is an error message: pgcdc then keeps
// its older position and confirms nothing newer to the database).
//
// A plugin's memory dies with pgcdc's process, so a store must keep positions
// elsewhere to survive a crash. This template keeps them in an HTTP key-value
// service: PUT <url>/<slot> with the body {"lsn":N} on `save`, GET on `load`
// (404: none), the config value "url" naming the service (allow its origin
// with --plugin-http-allow).
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

// <url>/<slot>
fn slot_url(slot: &[u8]) -> String {
    format!("{}/{}", URL.lock().unwrap(), String::from_utf8_lossy(slot))
}

// The first number after "lsn" in s (escaped quotes or not); 0 when none.
fn lsn_in(s: &[u8]) -> u64 {
    match pdk::find(s, b"lsn") {
        Some(i) => pdk::first_number(&s[i..]),
        None => 0,
    }
}

#[no_mangle]
pub extern "C" fn load() -> i32 {
    let slot = pdk::input();
    let (status, resp) = pdk::http("GET", &slot_url(&slot), b"");
    if status == 200 {
        // The answer's "body" is a JSON string holding {"lsn":N}.
        let lsn = pdk::find(&resp, b"\"body\"").map_or(0, |i| lsn_in(&resp[i..]));
        if lsn > 0 {
            pdk::output(format!("{{\"lsn\":{}}}", lsn).as_bytes());
        }
    } else if status != 404 {
        pdk::output(&resp); // the service failed: an error, not "no checkpoint"
    }
    0
}

#[no_mangle]
pub extern "C" fn save() -> i32 {
    let input = pdk::input();
    const KEY: &[u8] = b"\"slot_name\":\"";
    let start = match pdk::find(&input, KEY) {
        Some(i) => i + KEY.len(),
        None => {
            pdk::output(b"@NAME@: save without slot_name");
            return 0;
        }
    };
    let len = input[start..]
        .iter()
        .position(|&c| c == b'"')
        .unwrap_or(input.len() - start);
    let slot = &input[start..start + len];
    let lsn = pdk::find(&input, b"\"lsn\"").map_or(0, |i| lsn_in(&input[i..]));
    let body = format!("{{\"lsn\":{}}}", lsn);
    pdk::http_ok("PUT", &slot_url(slot), body.as_bytes());
    0
}

#[export_name = "close"]
pub extern "C" fn close_store() -> i32 {
    0
}
