// The backend-independent ObjectStore conformance suite's fixture.
//
// objstore_conformance_test.cc defines the tests (TEST_P on
// ObjectStoreConformanceTest); each test binary instantiates them for its
// backends with INSTANTIATE_TEST_SUITE_P(..., ObjectStoreConformanceTest,
// ::testing::Values(Backend{...}), BackendName). Every test gets a fresh,
// empty store from Backend::make.
//
// Thread-safety: test-only; the fixture is used by one test thread (tests
// that spawn threads share the store, which is thread-safe).
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <ostream>
#include <string>

#include "objstore/object_store.h"

namespace meridian::objstore {

struct Backend {
  std::string name;  // a gtest-safe identifier: letters, digits, '_'
  // Returns a fresh, empty store (for S3: a new bucket) or why it cannot.
  std::function<Result<std::unique_ptr<ObjectStore>>()> make;
};

// Prints the backend's name in gtest messages (instead of its bytes).
inline void PrintTo(const Backend& backend, std::ostream* os) { *os << backend.name; }

inline std::string BackendName(const ::testing::TestParamInfo<Backend>& info) {
  return info.param.name;
}

class ObjectStoreConformanceTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    auto store = GetParam().make();
    ASSERT_TRUE(store.ok()) << "cannot open a " << GetParam().name
                            << " store: " << store.status().ToString();
    store_ = std::move(store).value();
  }

  std::unique_ptr<ObjectStore> store_;
};

}  // namespace meridian::objstore
