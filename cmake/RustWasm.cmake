# Rust for Wasm test plugins (docs/plugins.md, "A plugin in Rust"): Debian's
# rustc with libstd-rust-dev-wasm32 (scripts/bootstrap). Sets PGCDC_RUSTC_WASM
# to a rustc that builds a cdylib for wasm32-unknown-unknown, or to "" (with a
# message saying why) when there is none: the Rust fixtures and their tests are
# then skipped. Debian's /usr/bin/rustc is preferred to a rustc found first on
# PATH (a rustup toolchain usually lacks the wasm32 standard library);
# -DPGCDC_RUSTC=<path> picks another.

# The flags of every Rust plugin build (as in docs/plugins.md and the Makefile of
# `plugin init --lang rust`). strip=symbols drops the debug info of Debian's
# wasm32 std: ~25 KB modules instead of ~5 MB.
set(PGCDC_RUSTC_WASM_FLAGS --edition 2021 --target wasm32-unknown-unknown --crate-type cdylib
  -C opt-level=2 -C strip=symbols)
find_program(PGCDC_RUSTC NAMES rustc HINTS /usr/bin
  DOC "rustc used to build the Rust Wasm test plugins (needs the wasm32-unknown-unknown std)")
set(_rust_why "")
if(NOT PGCDC_RUSTC)
  set(_rust_why "no rustc found")
elseif(NOT PGCDC_RUSTC_WASM_OK_FOR STREQUAL PGCDC_RUSTC)
  # Build a tiny cdylib (once per rustc that passes; again at each configure
  # while it fails, so installing the packages is picked up): the target's std
  # must be installed and the linker rustc calls (rust-lld -> lld-14) be there.
  set(_dir ${CMAKE_BINARY_DIR}/CMakeFiles/rust_wasm_check)
  file(MAKE_DIRECTORY ${_dir})
  file(WRITE ${_dir}/check.rs
    "#[no_mangle]\npub extern \"C\" fn f() -> i32 { vec![1i32, 2].len() as i32 }\n")
  execute_process(
    COMMAND ${PGCDC_RUSTC} ${PGCDC_RUSTC_WASM_FLAGS} ${_dir}/check.rs -o ${_dir}/check.wasm
    RESULT_VARIABLE _rc OUTPUT_VARIABLE _out ERROR_VARIABLE _out)
  if(_rc EQUAL 0 AND EXISTS ${_dir}/check.wasm)
    set(PGCDC_RUSTC_WASM_OK_FOR "${PGCDC_RUSTC}" CACHE INTERNAL "")
  else()
    string(REGEX MATCH "error[^\n]*" _first "${_out}")
    if(NOT _first)
      set(_first "${_rc}")
    endif()
    set(PGCDC_RUSTC_WASM_OK_FOR "" CACHE INTERNAL "")
    set(_rust_why "${PGCDC_RUSTC} cannot build for wasm32-unknown-unknown (${_first}); \
apt install rustc libstd-rust-dev-wasm32 lld-14")
  endif()
endif()
if(_rust_why)
  message(STATUS "Rust Wasm test plugins skipped: ${_rust_why}")
  set(PGCDC_RUSTC_WASM "" CACHE INTERNAL "")
else()
  message(STATUS "Rust Wasm test plugins: ${PGCDC_RUSTC}")
  set(PGCDC_RUSTC_WASM "${PGCDC_RUSTC}" CACHE INTERNAL "")
endif()
