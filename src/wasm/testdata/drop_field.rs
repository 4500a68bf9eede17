// A transform plugin in Rust, without crates (docs/plugins.md, "A plugin in
// Rust"): the same behaviour and config as drop_field.c. Removes every object
// member named by the config key "field" (a JSON string, SPEC §10.1:
// {"field": "\"email\""}) from the event JSON, at any depth. The build puts
// pgcdc_pdk.rs (src/wasm/pdk) next to it and runs
//   rustc --edition 2021 --target wasm32-unknown-unknown --crate-type cdylib \
//     -C opt-level=2 -C strip=symbols drop_field.rs -o drop_field_rs.wasm
mod pgcdc_pdk;

// End of the JSON string starting at s[i] == b'"' (index past the closing
// quote; s.len() when it is not closed).
fn skip_string(s: &[u8], mut i: usize) -> usize {
    i += 1;
    while i < s.len() && s[i] != b'"' {
        if s[i] == b'\\' {
            i += 1;
        }
        i += 1;
    }
    (i + 1).min(s.len())
}

// End of the JSON value starting at s[i] (compact JSON).
fn skip_value(s: &[u8], mut i: usize) -> usize {
    let n = s.len();
    if i >= n {
        return n;
    }
    if s[i] == b'"' {
        return skip_string(s, i);
    }
    if s[i] != b'{' && s[i] != b'[' {
        while i < n && s[i] != b',' && s[i] != b'}' && s[i] != b']' {
            i += 1;
        }
        return i;
    }
    let mut depth = 0;
    while i < n {
        match s[i] {
            b'"' => {
                i = skip_string(s, i);
                continue;
            }
            b'{' | b'[' => depth += 1,
            b'}' | b']' => {
                depth -= 1;
                if depth == 0 {
                    return i + 1;
                }
            }
            _ => {}
        }
        i += 1;
    }
    n
}

// `input` without the members named `key` (the JSON-encoded name then ':').
fn drop_members(input: &[u8], key: &[u8]) -> Vec<u8> {
    let n = input.len();
    let mut out: Vec<u8> = Vec::with_capacity(n);
    let mut i = 0;
    while i < n {
        let member = input[i] == b'"' && matches!(out.last(), Some(b'{') | Some(b','));
        if member && input[i..].starts_with(key) {
            let mut end = skip_value(input, i + key.len());
            if end < n && input[end] == b',' {
                end += 1;
            } else if out.last() == Some(&b',') {
                out.pop(); // last member: drop the comma before it
            }
            i = end;
            continue;
        }
        if input[i] == b'"' {
            let end = skip_string(input, i);
            out.extend_from_slice(&input[i..end]);
            i = end;
            continue;
        }
        out.push(input[i]);
        i += 1;
    }
    out
}

#[no_mangle]
pub extern "C" fn transform() -> i32 {
    let mut key = match pgcdc_pdk::config_raw("field") {
        Some(k) => k,
        None => return pgcdc_pdk::fail("config \"field\" is required"),
    };
    key.push(b':');
    pgcdc_pdk::output(&drop_members(&pgcdc_pdk::input(), &key));
    0
}
