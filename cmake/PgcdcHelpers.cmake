include(Sanitizers)

# pgcdc_library(NAME SOURCES ... DEPS ...): a static module library rooted at src/.
function(pgcdc_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_library(${name} STATIC ${ARG_SOURCES})
  target_include_directories(${name} PUBLIC ${PROJECT_SOURCE_DIR}/src)
  target_link_libraries(${name} PUBLIC ${ARG_DEPS})
  target_compile_options(${name} PRIVATE -Wall -Wextra -Werror=unused-result -Wno-unused-parameter -Wno-missing-field-initializers)
endfunction()

# pgcdc_module_host(TARGET): the executable exports pgcdc's symbols to the
# modules it loads (cmake/module-exports.list, src/wasm/engine.h).
function(pgcdc_module_host name)
  target_link_options(${name} PRIVATE
    "-Wl,--dynamic-list=${PROJECT_SOURCE_DIR}/cmake/module-exports.list")
  set_property(TARGET ${name} APPEND PROPERTY LINK_DEPENDS
    "${PROJECT_SOURCE_DIR}/cmake/module-exports.list")
endfunction()

# Test code (the *_test.cc files of a pgcdc_test binary, not the libraries they
# test) is compiled without optimisation: it is a quarter of the build, and -O2
# made each test file take 2-4x longer to compile for no gain (the code under
# test keeps the build type's flags; JSON parsing lives in pgcdc_json_dom).
set(PGCDC_TEST_CODE_FLAGS "-O0" CACHE STRING
  "extra compile flags for test code (empty: the build type's)")

# pgcdc_test(NAME SOURCES ... DEPS ... LABEL unit|scenario): a GoogleTest binary registered with CTest.
function(pgcdc_test name)
  cmake_parse_arguments(ARG "" "LABEL;TIMEOUT" "SOURCES;DEPS" ${ARGN})
  if(NOT PGCDC_BUILD_TESTS)
    return()
  endif()
  if(NOT ARG_LABEL)
    set(ARG_LABEL unit)
  endif()
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 120)
  endif()
  add_executable(${name} ${ARG_SOURCES})
  pgcdc_module_host(${name})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} GTest::gtest GTest::gtest_main GTest::gmock)
  target_compile_options(${name} PRIVATE -Wall -Wextra -Werror=unused-result -Wno-unused-parameter -Wno-missing-field-initializers
    ${PGCDC_TEST_CODE_FLAGS})
  add_test(NAME ${name} COMMAND ${name})
  if(ARG_LABEL STREQUAL "unit")
    set_property(GLOBAL APPEND PROPERTY PGCDC_UNIT_TEST_TARGETS ${name})
  endif()
  set_tests_properties(${name} PROPERTIES LABELS ${ARG_LABEL} TIMEOUT ${ARG_TIMEOUT}
    ENVIRONMENT "PGCDC_BIN=${CMAKE_BINARY_DIR}/pgcdc;PGCDC_SOURCE_DIR=${PROJECT_SOURCE_DIR}")
  pgcdc_sanitizer_test(${name})
endfunction()

# pgcdc_connector_library(NAME SOURCES ... DEPS ...): the library of a connector
# folder listed in src/connectors.cmake. Records it so the binary links it and the
# generated registry calls its PGCDC_REGISTER_CONNECTOR(<kind>, <folder>, ...) entry.
function(pgcdc_connector_library name)
  pgcdc_library(${name} ${ARGN})
  file(RELATIVE_PATH rel ${PROJECT_SOURCE_DIR}/src ${CMAKE_CURRENT_SOURCE_DIR})
  set_property(GLOBAL APPEND PROPERTY PGCDC_CONNECTOR_TARGETS ${name})
  set_property(GLOBAL APPEND PROPERTY PGCDC_CONNECTOR_FOLDERS ${rel})
endfunction()

# Adds every connector of src/connectors.cmake whose PGCDC_WITH_<FOLDER> option is ON.
# PGCDC_CONNECTORS_ONLY (a list of folder names) makes every other connector's option
# default to OFF: the slim builds of docs/packaging.md.
set(PGCDC_CONNECTORS_ONLY "" CACHE STRING
  "if set: build only these connector folders (e.g. wal;stdout;webhook); the others default OFF")
function(pgcdc_add_connectors)
  include(${PROJECT_SOURCE_DIR}/src/connectors.cmake)
  set(seen)
  foreach(entry ${PGCDC_CONNECTORS})
    if(NOT entry MATCHES "^(detector|adapter|transform)/[a-z0-9_]+$")
      message(FATAL_ERROR "src/connectors.cmake: \"${entry}\" is not <detector|adapter|transform>/<folder>")
    endif()
    get_filename_component(folder ${entry} NAME)
    if(folder IN_LIST seen)
      message(FATAL_ERROR "src/connectors.cmake: folder name \"${folder}\" used twice")
    endif()
    list(APPEND seen ${folder})
    string(TOUPPER ${folder} upper)
    set(default ON)
    if(PGCDC_CONNECTORS_ONLY AND NOT folder IN_LIST PGCDC_CONNECTORS_ONLY)
      set(default OFF)
    endif()
    option(PGCDC_WITH_${upper} "build the ${entry} connector" ${default})
    if(NOT PGCDC_WITH_${upper})
      set_property(GLOBAL APPEND PROPERTY PGCDC_OMITTED_CONNECTORS ${entry})
    endif()
    if(PGCDC_WITH_${upper})
      get_property(before GLOBAL PROPERTY PGCDC_CONNECTOR_FOLDERS)
      add_subdirectory(${PROJECT_SOURCE_DIR}/src/${entry} ${CMAKE_BINARY_DIR}/src/${entry})
      get_property(after GLOBAL PROPERTY PGCDC_CONNECTOR_FOLDERS)
      if(NOT entry IN_LIST after)
        message(FATAL_ERROR "src/${entry}/CMakeLists.txt must declare its library with pgcdc_connector_library()")
      endif()
    endif()
  endforeach()
endfunction()

# Writes builtin_connectors.cc: one Connector() call per connector in the build.
function(pgcdc_generate_registry out)
  get_property(folders GLOBAL PROPERTY PGCDC_CONNECTOR_FOLDERS)
  set(decls "")
  set(calls "")
  set(names "")
  set(omitted "")
  get_property(omitted_entries GLOBAL PROPERTY PGCDC_OMITTED_CONNECTORS)
  foreach(rel ${omitted_entries})
    string(APPEND omitted "\"${rel}\", ")
  endforeach()
  foreach(rel ${folders})
    string(APPEND names "\"${rel}\", ")
    string(REPLACE "/" "_" id ${rel})
    string(APPEND decls "::pgcdc::ConnectorInfo pgcdc_connector_${id}();\n")
    string(APPEND calls "      pgcdc_connector_${id}(),\n")
  endforeach()
  file(CONFIGURE OUTPUT ${out} CONTENT
"// Generated by CMake from src/connectors.cmake; do not edit.
#include \"registry/builtin.h\"

@decls@
namespace pgcdc {

std::vector<ConnectorInfo> BuiltinConnectors() {
  return {
@calls@  };
}

std::vector<std::string> BuiltinConnectorFolders() {
  return {@names@};
}

std::vector<std::string> OmittedConnectorFolders() {
  return {@omitted@};
}

}  // namespace pgcdc
" @ONLY)
endfunction()
