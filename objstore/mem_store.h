// MemStore: an ObjectStore held in process memory, for unit tests.
//
// mem://NAME opens a process-global bucket registered under NAME: every Open
// of the same name in one process sees the same objects (so two components of
// a test can share a "bucket"), and the bucket lives until the process exits.
// NewMemStore() returns a private, unnamed bucket instead. The bucket always
// exists; CreateBucket is a no-op. ETags are empty.
//
// Thread-safety: all methods are safe to call concurrently (one mutex per bucket).
#pragma once

#include <memory>
#include <string>

#include "objstore/object_store.h"

namespace meridian::objstore {

// The store behind mem://NAME (shared by every Open of NAME in this process).
std::unique_ptr<ObjectStore> OpenMemStore(const std::string& name);

// A fresh, empty store that nothing else shares.
std::unique_ptr<ObjectStore> NewMemStore();

}  // namespace meridian::objstore
