;; Exercises the host functions: `transform` logs through pgcdc_log, adds 3 to
;; the counter pgcdc_plugin_custom_wat_calls, counts calls in the variable
;; "n" and outputs the config value of "greeting" (or sets an error when the
;; config has none). `fail` sets an error and returns 1. `exit` calls proc_exit.
(module
  (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
  (import "extism:host/env" "store_u8" (func $store_u8 (param i64 i32)))
  (import "extism:host/env" "load_u8" (func $load_u8 (param i64) (result i32)))
  (import "extism:host/env" "length" (func $length (param i64) (result i64)))
  (import "extism:host/env" "config_get" (func $config_get (param i64) (result i64)))
  (import "extism:host/env" "var_get" (func $var_get (param i64) (result i64)))
  (import "extism:host/env" "var_set" (func $var_set (param i64 i64)))
  (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
  (import "extism:host/env" "error_set" (func $error_set (param i64)))
  (import "extism:host/user" "pgcdc_log" (func $log (param i64 i64)))
  (import "pgcdc" "pgcdc_metric_inc" (func $metric_inc (param i64 f64)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (import "wasi_snapshot_preview1" "path_open"
    (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "greeting")      ;; 0..8
  (data (i32.const 16) "info")         ;; 16..20
  (data (i32.const 32) "hello from wat") ;; 32..46
  (data (i32.const 48) "wat_calls")    ;; 48..57
  (data (i32.const 64) "n")            ;; 64..65
  (data (i32.const 80) "no greeting configured") ;; 80..102
  (data (i32.const 112) "failed on purpose") ;; 112..129
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
  (func (export "transform") (result i32)
    (local $v i64) (local $n i64) (local $count i32)
    (call $log (call $block (i32.const 16) (i32.const 4)) (call $block (i32.const 32) (i32.const 14)))
    (call $metric_inc (call $block (i32.const 48) (i32.const 9)) (f64.const 3))
    ;; n = n + 1 (one byte)
    (local.set $n (call $var_get (call $block (i32.const 64) (i32.const 1))))
    (if (i64.ne (local.get $n) (i64.const 0))
      (then (local.set $count (call $load_u8 (local.get $n)))))
    (local.set $n (call $alloc (i64.const 1)))
    (call $store_u8 (local.get $n) (i32.add (local.get $count) (i32.const 1)))
    (call $var_set (call $block (i32.const 64) (i32.const 1)) (local.get $n))
    (local.set $v (call $config_get (call $block (i32.const 0) (i32.const 8))))
    (if (i64.eqz (local.get $v))
      (then
        (call $error_set (call $block (i32.const 80) (i32.const 22)))
        (return (i32.const 1))))
    (call $output_set (local.get $v) (call $length (local.get $v)))
    (i32.const 0))
  (func (export "count") (result i32)
    (local $n i64)
    (local.set $n (call $var_get (call $block (i32.const 64) (i32.const 1))))
    (call $output_set (local.get $n) (call $length (local.get $n)))
    (i32.const 0))
  (func (export "fail") (result i32)
    (call $error_set (call $block (i32.const 112) (i32.const 17)))
    (i32.const 1))
  (func (export "exit") (result i32)
    (call $proc_exit (i32.const 3))
    (i32.const 0))
  (func (export "unsupported") (result i32)
    (call $path_open (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0)
                     (i64.const 0) (i64.const 0) (i32.const 0) (i32.const 0))))
