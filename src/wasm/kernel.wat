;; pgcdc's Extism kernel (docs/plugins.md): the `extism:host/env` memory
;; functions as Wasm, so a plugin's calls to them are Wasm-to-Wasm calls
;; instead of crossings into the host. The host (plugin_v8.cc, kernel.h)
;; reads and writes the control block and the blocks directly.
;;
;; Memory: bytes 0..64 are the control block (little-endian u64 each):
;;   0 heap (next free byte)  8 input offset  16 input length
;;   24 output offset  32 output length  40 error offset
;; From 64 on: blocks, each a 16-byte header (length, then the data offset
;; xor a tag; freed blocks have tag 0) followed by the data, padded to 8
;; bytes. Offsets are what the plugin sees; 0 means none.
(module
  (memory (export "memory") 1)
  (global $tag i64 (i64.const 0x7067636463626c6b))

  (func $addr (param $o i64) (result i32)
    (if (i64.gt_u (local.get $o) (i64.const 0xffffffff)) (then unreachable))
    (i32.wrap_i64 (local.get $o)))

  ;; Grows the memory so that `end` bytes exist; 0 when it cannot.
  (func $reserve (export "reserve") (param $end i64) (result i32)
    (local $have i64)
    (local.set $have (i64.shl (i64.extend_i32_u (memory.size)) (i64.const 16)))
    (if (i64.le_u (local.get $end) (local.get $have)) (then (return (i32.const 1))))
    (i32.ne (memory.grow (i32.wrap_i64 (i64.shr_u
              (i64.add (i64.sub (local.get $end) (local.get $have)) (i64.const 0xffff))
              (i64.const 16))))
            (i32.const -1)))

  (func $alloc (export "alloc") (param $n i64) (result i64)
    (local $p i64) (local $end i64)
    (if (i64.gt_u (local.get $n) (i64.const 0x7fffffff)) (then (return (i64.const 0))))
    (local.set $p (i64.load (i32.const 0)))
    (local.set $end (i64.add (i64.add (local.get $p) (i64.const 16))
                             (i64.and (i64.add (local.get $n) (i64.const 7)) (i64.const -8))))
    ;; 8 bytes of slack: input_load_u64 near the end reads a whole word.
    (if (i32.eqz (call $reserve (i64.add (local.get $end) (i64.const 8))))
      (then (return (i64.const 0))))
    (i64.store (i32.const 0) (local.get $end))
    (i64.store (call $addr (local.get $p)) (local.get $n))
    (i64.store offset=8 (call $addr (local.get $p))
               (i64.xor (i64.add (local.get $p) (i64.const 16)) (global.get $tag)))
    (i64.add (local.get $p) (i64.const 16)))

  ;; The length of the live block at `o`, else 0.
  (func $length (export "length") (param $o i64) (result i64)
    (if (i32.or (i64.lt_u (local.get $o) (i64.const 80))
                (i64.gt_u (local.get $o) (i64.load (i32.const 0))))
      (then (return (i64.const 0))))
    (if (i64.ne (i64.load (i32.sub (call $addr (local.get $o)) (i32.const 8)))
                (i64.xor (local.get $o) (global.get $tag)))
      (then (return (i64.const 0))))
    (i64.load (i32.sub (call $addr (local.get $o)) (i32.const 16))))

  (func (export "length_unsafe") (param $o i64) (result i64) (call $length (local.get $o)))

  (func (export "free") (param $o i64)
    (if (i64.ne (call $length (local.get $o)) (i64.const 0))
      (then (i64.store (i32.sub (call $addr (local.get $o)) (i32.const 8)) (i64.const 0)))))

  (func (export "load_u8") (param $o i64) (result i32)
    (i32.load8_u (call $addr (local.get $o))))
  (func (export "load_u64") (param $o i64) (result i64)
    (i64.load (call $addr (local.get $o))))
  (func (export "store_u8") (param $o i64) (param $v i32)
    (i32.store8 (call $addr (local.get $o)) (local.get $v)))
  (func (export "store_u64") (param $o i64) (param $v i64)
    (i64.store (call $addr (local.get $o)) (local.get $v)))

  (func (export "input_offset") (result i64) (i64.load (i32.const 8)))
  (func (export "input_length") (result i64) (i64.load (i32.const 16)))
  (func (export "input_load_u8") (param $i i64) (result i32)
    (if (i64.ge_u (local.get $i) (i64.load (i32.const 16))) (then unreachable))
    (i32.load8_u (call $addr (i64.add (i64.load (i32.const 8)) (local.get $i)))))
  ;; The input block is padded to 8 bytes, so the last word stays inside it.
  (func (export "input_load_u64") (param $i i64) (result i64)
    (if (i64.ge_u (local.get $i) (i64.load (i32.const 16))) (then unreachable))
    (i64.load (call $addr (i64.add (i64.load (i32.const 8)) (local.get $i)))))

  (func (export "output_set") (param $o i64) (param $n i64)
    (if (i64.gt_u (i64.add (local.get $o) (local.get $n)) (i64.load (i32.const 0)))
      (then unreachable))
    (i64.store (i32.const 24) (local.get $o))
    (i64.store (i32.const 32) (local.get $n)))
  (func (export "error_set") (param $o i64) (i64.store (i32.const 40) (local.get $o)))
  (func (export "error_get") (result i64) (i64.load (i32.const 40)))

  ;; Frees every block (the host does the same before each call).
  (func (export "reset")
    (i64.store (i32.const 0) (i64.const 64))
    (i64.store (i32.const 8) (i64.const 0))
    (i64.store (i32.const 16) (i64.const 0))
    (i64.store (i32.const 24) (i64.const 0))
    (i64.store (i32.const 32) (i64.const 0))
    (i64.store (i32.const 40) (i64.const 0))))
