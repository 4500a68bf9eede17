;; An adapter plugin that fails every event: `handle` sets a non-empty output
;; (an error message, SPEC §10.1).
(module
  (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
  (import "extism:host/env" "store_u8" (func $store_u8 (param i64 i32)))
  (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
  (memory (export "memory") 1)
  (data (i32.const 0) "peer refused the event")  ;; 22 bytes
  (func (export "handle") (result i32)
    (local $off i64) (local $i i32)
    (local.set $off (call $alloc (i64.const 22)))
    (block $done
      (loop $copy
        (br_if $done (i32.ge_u (local.get $i) (i32.const 22)))
        (call $store_u8 (i64.add (local.get $off) (i64.extend_i32_u (local.get $i)))
                        (i32.load8_u (local.get $i)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $copy)))
    (call $output_set (local.get $off) (i64.const 22))
    (i32.const 0)))
