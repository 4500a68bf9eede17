;; Calls Extism's own http_request, as plugins built with the Extism PDKs do.
;; `call` (also exported as `transform`: the event is the body, the answer the
;; new event) sends the config value "request" (Extism's request JSON: url,
;; method, headers) with the call's input as the body, and outputs the
;; response body.
;; `status` outputs http_status_code() of the last request as three digits.
(module
  (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
  (import "extism:host/env" "store_u8" (func $store_u8 (param i64 i32)))
  (import "extism:host/env" "length" (func $length (param i64) (result i64)))
  (import "extism:host/env" "input_length" (func $input_length (result i64)))
  (import "extism:host/env" "input_load_u8" (func $input_load_u8 (param i64) (result i32)))
  (import "extism:host/env" "config_get" (func $config_get (param i64) (result i64)))
  (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
  (import "extism:host/env" "error_set" (func $error_set (param i64)))
  (import "extism:host/env" "http_request" (func $http_request (param i64 i64) (result i64)))
  (import "extism:host/env" "http_status_code" (func $http_status_code (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "request")                ;; 0..7
  (data (i32.const 16) "no request configured") ;; 16..37
  ;; Copies plugin memory [ptr, ptr+len) into a new kernel block.
  (func $block (param $ptr i32) (param $len i32) (result i64)
    (local $off i64) (local $i i32)
    (local.set $off (call $alloc (i64.extend_i32_u (local.get $len))))
    (block $done
      (loop $copy
        (br_if $done (i32.ge_u (local.get $i) (local.get $len)))
        (call $store_u8 (i64.add (local.get $off) (i64.extend_i32_u (local.get $i)))
                        (i32.load8_u (i32.add (local.get $ptr) (local.get $i))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $copy)))
    (local.get $off))
  (func $call (export "call") (result i32)
    (local $req i64) (local $n i64) (local $body i64) (local $i i64) (local $resp i64)
    (local.set $req (call $config_get (call $block (i32.const 0) (i32.const 7))))
    (if (i64.eqz (local.get $req))
      (then
        (call $error_set (call $block (i32.const 16) (i32.const 21)))
        (return (i32.const 1))))
    ;; The input, copied into a block: the request body (0 = none).
    (local.set $n (call $input_length))
    (if (i64.ne (local.get $n) (i64.const 0))
      (then
        (local.set $body (call $alloc (local.get $n)))
        (block $done
          (loop $copy
            (br_if $done (i64.ge_u (local.get $i) (local.get $n)))
            (call $store_u8 (i64.add (local.get $body) (local.get $i))
                            (call $input_load_u8 (local.get $i)))
            (local.set $i (i64.add (local.get $i) (i64.const 1)))
            (br $copy)))))
    (local.set $resp (call $http_request (local.get $req) (local.get $body)))
    (if (i64.ne (local.get $resp) (i64.const 0))
      (then (call $output_set (local.get $resp) (call $length (local.get $resp)))))
    (i32.const 0))
  (func (export "transform") (result i32) (call $call))
  (func (export "status") (result i32)
    (local $s i32) (local $out i64)
    (local.set $s (call $http_status_code))
    (local.set $out (call $alloc (i64.const 3)))
    (call $store_u8 (local.get $out)
                    (i32.add (i32.const 48) (i32.rem_u (i32.div_u (local.get $s) (i32.const 100))
                                                       (i32.const 10))))
    (call $store_u8 (i64.add (local.get $out) (i64.const 1))
                    (i32.add (i32.const 48) (i32.rem_u (i32.div_u (local.get $s) (i32.const 10))
                                                       (i32.const 10))))
    (call $store_u8 (i64.add (local.get $out) (i64.const 2))
                    (i32.add (i32.const 48) (i32.rem_u (local.get $s) (i32.const 10))))
    (call $output_set (local.get $out) (i64.const 3))
    (i32.const 0)))
