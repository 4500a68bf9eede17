# V8 (WebAssembly plugins, docs/plugins.md) from Debian's libnode108 + libnode-dev,
# unpacked by scripts/bootstrap into a private prefix: libnode108 conflicts with
# NodeSource's nodejs, which some machines carry, so it is not apt-installed.
# When found: the imported target LibNode::v8 (headers as system includes, linked
# with an rpath to the library's folder) and PGCDC_HAVE_LIBNODE=ON. Otherwise the
# build still works; src/wasm then reports that this build has no Wasm support.
set(PGCDC_LIBNODE_DIR "/opt/pgcdc-deps/libnode" CACHE PATH
  "prefix holding usr/include/node/v8.h and usr/lib/x86_64-linux-gnu/libnode.so.108; empty = build without Wasm plugins")

set(PGCDC_HAVE_LIBNODE OFF)
set(_libnode_include "${PGCDC_LIBNODE_DIR}/usr/include/node")
set(_libnode_library "${PGCDC_LIBNODE_DIR}/usr/lib/x86_64-linux-gnu/libnode.so.108")
if(PGCDC_LIBNODE_DIR AND EXISTS "${_libnode_include}/v8.h" AND EXISTS "${_libnode_library}")
  add_library(LibNode::v8 SHARED IMPORTED GLOBAL)
  set_target_properties(LibNode::v8 PROPERTIES
    IMPORTED_LOCATION "${_libnode_library}"
    IMPORTED_SONAME libnode.so.108
    INTERFACE_SYSTEM_INCLUDE_DIRECTORIES "${_libnode_include}"
    INTERFACE_INCLUDE_DIRECTORIES "${_libnode_include}")
  set(PGCDC_HAVE_LIBNODE ON)
  message(STATUS "LibNode: ${_libnode_library} (Wasm plugins enabled)")
else()
  message(STATUS "LibNode: not found under PGCDC_LIBNODE_DIR=\"${PGCDC_LIBNODE_DIR}\" "
    "(run scripts/bootstrap as root); building without Wasm plugins")
endif()
find_program(PGCDC_WAT2WASM wat2wasm)
