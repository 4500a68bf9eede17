# Test environment of the sanitizer presets (asan, tsan; docs/development.md#sanitizers).
# The sanitizer is read off CMAKE_CXX_FLAGS, so a hand-configured build gets it too.
# Every test then runs with the options below (set here, never in a developer's
# shell): reports go to files in ${PGCDC_SANITIZER_LOG_DIR}, one per process,
# since the scenario tests' pgcdc children write theirs into a pipe nobody shows;
# the fixture tests sanitizer_logs_reset / sanitizer_logs_check empty that folder
# before and fail (printing every report) after any run that selects a test.
# Scenario deadlines and CTest timeouts are multiplied by PGCDC_TEST_TIMEOUT_SCALE.
set(PGCDC_SANITIZER "")
if(CMAKE_CXX_FLAGS MATCHES "-fsanitize=[^ ]*address")
  set(PGCDC_SANITIZER address)
elseif(CMAKE_CXX_FLAGS MATCHES "-fsanitize=[^ ]*thread")
  set(PGCDC_SANITIZER thread)
endif()
set(PGCDC_TEST_TIMEOUT_SCALE 3 CACHE STRING
  "sanitizer builds: factor on scenario-test deadlines and CTest timeouts")
set(PGCDC_SANITIZER_LOG_DIR ${CMAKE_BINARY_DIR}/sanitizer-logs)

set(_supp ${PROJECT_SOURCE_DIR}/tests/sanitizers)
set(_log ${PGCDC_SANITIZER_LOG_DIR})
set(PGCDC_SANITIZER_ENV "PGCDC_TEST_TIMEOUT_SCALE=${PGCDC_TEST_TIMEOUT_SCALE}")
if(PGCDC_SANITIZER STREQUAL "address")
  list(APPEND PGCDC_SANITIZER_ENV
    "ASAN_OPTIONS=halt_on_error=1:detect_leaks=1:check_initialization_order=1:log_path=${_log}/asan:suppressions=${_supp}/asan.supp"
    "LSAN_OPTIONS=suppressions=${_supp}/lsan.supp:print_suppressions=0"
    "UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:log_path=${_log}/ubsan:suppressions=${_supp}/ubsan.supp")
elseif(PGCDC_SANITIZER STREQUAL "thread")
  list(APPEND PGCDC_SANITIZER_ENV
    "TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1:log_path=${_log}/tsan:suppressions=${_supp}/tsan.supp")
endif()

# pgcdc_sanitizer_test(NAME): the environment and fixture above for one test.
function(pgcdc_sanitizer_test name)
  if(NOT PGCDC_SANITIZER)
    return()
  endif()
  set_property(TEST ${name} APPEND PROPERTY ENVIRONMENT ${PGCDC_SANITIZER_ENV})
  set_property(TEST ${name} APPEND PROPERTY FIXTURES_REQUIRED sanitizer_logs)
  get_property(timeout TEST ${name} PROPERTY TIMEOUT)
  if(timeout)
    math(EXPR timeout "${timeout} * ${PGCDC_TEST_TIMEOUT_SCALE}")
    set_property(TEST ${name} PROPERTY TIMEOUT ${timeout})
  endif()
endfunction()

# The two fixture tests (called once, from tests/CMakeLists.txt).
function(pgcdc_sanitizer_fixture)
  if(NOT PGCDC_SANITIZER)
    return()
  endif()
  add_test(NAME sanitizer_logs_reset
    COMMAND sh -c "rm -rf \"$1\" && mkdir -p \"$1\"" sh ${PGCDC_SANITIZER_LOG_DIR})
  add_test(NAME sanitizer_logs_check
    COMMAND ${PROJECT_SOURCE_DIR}/tests/sanitizers/check-logs ${PGCDC_SANITIZER_LOG_DIR})
  set_tests_properties(sanitizer_logs_reset PROPERTIES FIXTURES_SETUP sanitizer_logs
    LABELS "unit;scenario")
  set_tests_properties(sanitizer_logs_check PROPERTIES FIXTURES_CLEANUP sanitizer_logs
    LABELS "unit;scenario")
endfunction()
