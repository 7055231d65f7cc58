# The site link (changelog/stream.h): ZeroMQ CURVE transport, both ends.
# Included from changelog/CMakeLists.txt; paths are relative to this file.
find_package(PkgConfig REQUIRED)
pkg_check_modules(ZMQ REQUIRED IMPORTED_TARGET libzmq)
find_package(cppzmq REQUIRED)

add_library(meridian_stream
  ${CMAKE_CURRENT_LIST_DIR}/stream_protocol.cc
  ${CMAKE_CURRENT_LIST_DIR}/stream_io.cc
  ${CMAKE_CURRENT_LIST_DIR}/stream_zap.cc
  ${CMAKE_CURRENT_LIST_DIR}/stream_server.cc
  ${CMAKE_CURRENT_LIST_DIR}/stream_server_start.cc
  ${CMAKE_CURRENT_LIST_DIR}/stream_client.cc
  ${CMAKE_CURRENT_LIST_DIR}/keys.cc
)
target_include_directories(meridian_stream PUBLIC ${CMAKE_CURRENT_LIST_DIR}/..)
target_link_libraries(meridian_stream
  PUBLIC meridian_common PkgConfig::ZMQ cppzmq
  # StreamServer::Start reads batch positions with codec.h PeekHeader.
  PRIVATE glog::glog $<TARGET_NAME_IF_EXISTS:meridian_changelog>)

meridian_test(NAME stream_test FAST
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/stream_test.cc ${CMAKE_CURRENT_LIST_DIR}/stream_hostile_test.cc
  LIBS meridian_stream
  TIMEOUT 120)
