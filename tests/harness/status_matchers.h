// gtest assertions for Status and Result<T>:
//   ASSERT_OK(cluster.Start());
//   EXPECT_OK(PgExec(db.conninfo, "create table t (x int)"));
//   ASSERT_OK_AND_ASSIGN(RgwEnv env, LoadRgwEnv());
// A failure prints the Status (code, message, and whatever log tail it carries).
#pragma once

#include <gtest/gtest.h>

#include "common/status.h"

namespace meridian::harness {

inline const Status& AsStatus(const Status& s) { return s; }
template <typename T>
const Status& AsStatus(const Result<T>& r) {
  return r.status();
}

}  // namespace meridian::harness

#define ASSERT_OK(expr)                                                     \
  do {                                                                      \
    const auto& _st_ref = (expr);                                           \
    const ::meridian::Status& _st = ::meridian::harness::AsStatus(_st_ref); \
    ASSERT_TRUE(_st.ok()) << #expr << ": " << _st.ToString();               \
  } while (0)

#define EXPECT_OK(expr)                                                     \
  do {                                                                      \
    const auto& _st_ref = (expr);                                           \
    const ::meridian::Status& _st = ::meridian::harness::AsStatus(_st_ref); \
    EXPECT_TRUE(_st.ok()) << #expr << ": " << _st.ToString();               \
  } while (0)

#define ASSERT_OK_AND_ASSIGN(lhs, rexpr)                                         \
  auto MERIDIAN_CONCAT(_aoa_, __LINE__) = (rexpr);                               \
  ASSERT_TRUE(MERIDIAN_CONCAT(_aoa_, __LINE__).ok())                             \
      << #rexpr << ": " << MERIDIAN_CONCAT(_aoa_, __LINE__).status().ToString(); \
  lhs = std::move(MERIDIAN_CONCAT(_aoa_, __LINE__)).value()
