;; Never returns: the host's call time limit must stop it.
(module
  (func (export "transform") (result i32)
    (loop $forever (br $forever))
    (i32.const 0))
  (func (export "ok") (result i32) (i32.const 0)))
