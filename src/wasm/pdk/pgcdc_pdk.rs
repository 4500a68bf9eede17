// pgcdc_pdk.rs: a small host-binding module for pgcdc Wasm plugins written in
// Rust without any crate (docs/plugins.md, "A plugin in Rust"). Put it next to
// the plugin's source and declare it there with `mod pgcdc_pdk;`; build with
// Debian's rustc and libstd-rust-dev-wasm32:
//
//   rustc --edition 2021 --target wasm32-unknown-unknown --crate-type cdylib \
//     -C opt-level=2 -C strip=symbols plugin.rs -o plugin.wasm
//
// It declares the Extism imports pgcdc provides (module "extism:host/env"),
// copies bytes between the plugin's memory and the host's kernel blocks (8
// bytes per call where it can, as Extism's PDKs do), reads config values, and
// wraps pgcdc's host functions: pgcdc_log, pgcdc_metric_inc and
// pgcdc_http_request. It is the Rust counterpart of pgcdc_pdk.h; the host
// calls are its only `unsafe` code.
#![allow(dead_code)]

mod host {
    #[link(wasm_import_module = "extism:host/env")]
    extern "C" {
        pub fn input_length() -> u64;
        pub fn input_load_u8(offset: u64) -> u32;
        pub fn input_load_u64(offset: u64) -> u64;
        pub fn alloc(n: u64) -> u64;
        pub fn length(offset: u64) -> u64;
        pub fn load_u8(offset: u64) -> u32;
        pub fn load_u64(offset: u64) -> u64;
        pub fn store_u8(offset: u64, value: u32);
        pub fn store_u64(offset: u64, value: u64);
        pub fn output_set(offset: u64, n: u64);
        pub fn error_set(offset: u64);
        pub fn config_get(key: u64) -> u64;
    }
    // pgcdc's own host functions (module "pgcdc"; "extism:host/user" works too).
    #[link(wasm_import_module = "pgcdc")]
    extern "C" {
        pub fn pgcdc_log(level: u64, message: u64);
        pub fn pgcdc_metric_inc(name: u64, value: f64);
        pub fn pgcdc_http_request(request: u64) -> u64;
    }
}

/// A new kernel block holding `bytes`; answers its offset.
pub fn to_kernel(bytes: &[u8]) -> u64 {
    unsafe {
        let off = host::alloc(bytes.len() as u64);
        let mut chunks = bytes.chunks_exact(8);
        let mut i = 0u64;
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            host::store_u64(off + i, u64::from_le_bytes(w));
            i += 8;
        }
        for &b in chunks.remainder() {
            host::store_u8(off + i, b as u32);
            i += 1;
        }
        off
    }
}

/// The bytes of a kernel block (empty for offset 0).
pub fn from_kernel(off: u64) -> Vec<u8> {
    if off == 0 {
        return Vec::new();
    }
    unsafe {
        let n = host::length(off) as usize;
        let mut v = Vec::with_capacity(n);
        let mut i = 0;
        while i + 8 <= n {
            v.extend_from_slice(&host::load_u64(off + i as u64).to_le_bytes());
            i += 8;
        }
        while i < n {
            v.push(host::load_u8(off + i as u64) as u8);
            i += 1;
        }
        v
    }
}

/// This call's input (the event envelope JSON for a transform).
pub fn input() -> Vec<u8> {
    unsafe {
        let n = host::input_length() as usize;
        let mut v = Vec::with_capacity(n);
        let mut i = 0;
        while i + 8 <= n {
            v.extend_from_slice(&host::input_load_u64(i as u64).to_le_bytes());
            i += 8;
        }
        while i < n {
            v.push(host::input_load_u8(i as u64) as u8);
            i += 1;
        }
        v
    }
}

/// Sets the call's output. No output from `transform` drops the event; for
/// adapter, DLQ and checkpoint calls an output is an error message.
pub fn output(bytes: &[u8]) {
    unsafe { host::output_set(to_kernel(bytes), bytes.len() as u64) }
}

/// Fails the call with `message` (pgcdc counts the error and dead-letters the
/// event): `return pgcdc_pdk::fail("...");` from an export.
pub fn fail(message: &str) -> i32 {
    unsafe { host::error_set(to_kernel(message.as_bytes())) };
    1
}

/// A config value as pgcdc passes it: JSON-encoded (a string arrives with its
/// quotes), or None when the key is not set.
pub fn config_raw(key: &str) -> Option<Vec<u8>> {
    let off = unsafe { host::config_get(to_kernel(key.as_bytes())) };
    if off == 0 {
        None
    } else {
        Some(from_kernel(off))
    }
}

/// A config value that is a JSON string, without its quotes (escapes are kept
/// as written); other JSON values as they are.
pub fn config_string(key: &str) -> Option<Vec<u8>> {
    config_raw(key).map(|v| {
        if v.len() >= 2 && v[0] == b'"' {
            v[1..v.len() - 1].to_vec()
        } else {
            v
        }
    })
}

/// Logs at "debug", "info", "warn" or "error" (pgcdc's log, source=plugin).
pub fn log(level: &str, message: &str) {
    unsafe { host::pgcdc_log(to_kernel(level.as_bytes()), to_kernel(message.as_bytes())) }
}

/// Adds to the counter pgcdc_plugin_custom_<name>_total{plugin}.
pub fn count(name: &str, value: f64) {
    unsafe { host::pgcdc_metric_inc(to_kernel(name.as_bytes()), value) }
}

/// Where `needle` first occurs in `haystack`.
pub fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The first run of decimal digits in `s` as a number (0 when there is none).
pub fn first_number(s: &[u8]) -> u64 {
    let digits = s.iter().skip_while(|c| !c.is_ascii_digit());
    let mut n: u64 = 0;
    for c in digits.take_while(|c| c.is_ascii_digit()) {
        n = n.wrapping_mul(10).wrapping_add(u64::from(c - b'0'));
    }
    n
}

/// Appends `s` to `out` as the inside of a JSON string.
pub fn json_escape_into(out: &mut Vec<u8>, s: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for &c in s {
        match c {
            b'"' | b'\\' => out.extend_from_slice(&[b'\\', c]),
            0..=0x1f => out.extend_from_slice(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[usize::from(c >> 4)],
                HEX[usize::from(c & 15)],
            ]),
            _ => out.push(c),
        }
    }
}

/// pgcdc_http_request: the answer's HTTP status (0: nothing received, e.g. the
/// URL is not in plugins.http_allow) and the answer's JSON
/// {"status","headers","body"}.
pub fn http(method: &str, url: &str, body: &[u8]) -> (u32, Vec<u8>) {
    let mut req = Vec::with_capacity(body.len() + url.len() + 96);
    req.extend_from_slice(b"{\"method\":\"");
    json_escape_into(&mut req, method.as_bytes());
    req.extend_from_slice(b"\",\"url\":\"");
    json_escape_into(&mut req, url.as_bytes());
    req.extend_from_slice(b"\",\"headers\":{\"Content-Type\":\"application/json\"},\"body\":\"");
    json_escape_into(&mut req, body);
    req.extend_from_slice(b"\"}");
    let resp = from_kernel(unsafe { host::pgcdc_http_request(to_kernel(&req)) });
    let status = match find(&resp, b"\"status\":") {
        Some(i) => first_number(&resp[i..]) as u32,
        None => 0,
    };
    (status, resp)
}

/// Sends a request and answers true for a 2xx status; otherwise sets the
/// call's output to the answer (the error message pgcdc records) and answers
/// false.
pub fn http_ok(method: &str, url: &str, body: &[u8]) -> bool {
    let (status, resp) = http(method, url, body);
    let ok = (200..=299).contains(&status);
    if !ok {
        output(&resp);
    }
    ok
}
