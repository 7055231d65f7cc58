# Shared CMake helpers.
#
# meridian_test(NAME <name> SOURCES <files...> LIBS <targets...> [NEEDS_RGW] [TIMEOUT <s>])
#   One gtest binary = one ctest test. Tests run from the build dir with
#   MERIDIAN_BIN pointing at the CLI binary. NEEDS_RGW attaches the `rgw` ctest
#   fixture (one radosgw for the whole run, see tests/CMakeLists.txt) and sets
#   MERIDIAN_RGW_ENV to the file the fixture writes; such a test FAILS (never
#   skips) when that file is missing.
set(MERIDIAN_RGW_ENV_FILE ${CMAKE_BINARY_DIR}/rgw/env)

function(meridian_test)
  cmake_parse_arguments(T "NEEDS_RGW" "NAME;TIMEOUT" "SOURCES;LIBS" ${ARGN})
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
endfunction()
