# Shared CMake helpers.
#
# meridian_test(NAME <name> SOURCES <files...> LIBS <targets...> [NEEDS_RGW] [FAST] [TIMEOUT <s>])
#   One gtest binary = one ctest test. Tests run from the build dir with
#   MERIDIAN_BIN pointing at the CLI binary. NEEDS_RGW attaches the `rgw` ctest
#   fixture (one radosgw for the whole run, see tests/CMakeLists.txt) and sets
#   MERIDIAN_RGW_ENV to the file the fixture writes; such a test FAILS (never
#   skips) when that file is missing. FAST marks a test of under a minute that needs
#   no radosgw and mostly runs in-process (threads, sockets, PostgreSQL): the
#   sanitizer builds (scripts/sanitize.sh) build and run those, through the
#   ctest label `fast` and the target `fast_tests`.
set(MERIDIAN_RGW_ENV_FILE ${CMAKE_BINARY_DIR}/rgw/env)
add_custom_target(fast_tests)  # the FAST tests, and the CLI some of them run

function(meridian_test)
  cmake_parse_arguments(T "NEEDS_RGW;FAST" "NAME;TIMEOUT" "SOURCES;LIBS" ${ARGN})
  add_executable(${T_NAME} ${T_SOURCES})
  target_link_libraries(${T_NAME} PRIVATE ${T_LIBS} GTest::gtest GTest::gmock GTest::gtest_main)
  add_test(NAME ${T_NAME} COMMAND ${T_NAME} --gtest_color=no)
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 600)
  endif()
  set(env "MERIDIAN_BIN=$<TARGET_FILE:meridian>;MERIDIAN_SOURCE_DIR=${CMAKE_SOURCE_DIR}")
  if(T_NEEDS_RGW)
    list(APPEND env "MERIDIAN_RGW_ENV=${MERIDIAN_RGW_ENV_FILE}")
    set_tests_properties(${T_NAME} PROPERTIES FIXTURES_REQUIRED rgw)
  endif()
  set_tests_properties(${T_NAME} PROPERTIES TIMEOUT ${T_TIMEOUT} ENVIRONMENT "${env}")
  if(T_FAST)
    set_tests_properties(${T_NAME} PROPERTIES LABELS fast)
    add_dependencies(fast_tests ${T_NAME})
  endif()
endfunction()

# meridian_fuzzer(NAME <name>_fuzzer SOURCES <files...> [LIBS <targets...>])
#   A libFuzzer target (scripts/fuzz.sh builds and runs them all; seeds in
#   <folder>/fuzz_corpus/<name>/, docs/testing.md "Fuzzing"). libFuzzer needs
#   clang, so with another compiler this does nothing. List the sources being
#   fuzzed in SOURCES rather than linking their library, so that they get the
#   coverage instrumentation; LIBS are what they need besides.
add_custom_target(fuzzers)  # every fuzzer (empty unless the compiler is clang)

function(meridian_fuzzer)
  cmake_parse_arguments(F "" "NAME" "SOURCES;LIBS" ${ARGN})
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    return()
  endif()
  set(flags -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)
  add_executable(${F_NAME} ${F_SOURCES})
  target_compile_options(${F_NAME} PRIVATE ${flags})
  target_link_options(${F_NAME} PRIVATE ${flags})
  target_include_directories(${F_NAME} PRIVATE ${CMAKE_SOURCE_DIR})
  target_link_libraries(${F_NAME} PRIVATE ${F_LIBS})
  set_target_properties(${F_NAME} PROPERTIES EXCLUDE_FROM_ALL ON)
  add_dependencies(fuzzers ${F_NAME})
endfunction()
