// FileStore: an ObjectStore over a local directory (file:///abs/dir).
//
// On-disk layout: the object with key "a/b/c" is the regular file DIR/a/b/c;
// parent directories are created on Put. A Put writes a temporary file
// DIR/a/b/.tmp.c.<unique> in the same directory, fsyncs it, renames it over
// the final name and fsyncs the directory (the fsyncs can be turned off with
// Options::fsync = false, for tests), so readers see the whole object or none.
// List skips names starting with ".tmp.", so keys whose path components start
// with ".tmp." are rejected, as are keys with "..", ".", empty components, a
// leading '/', or NUL bytes. A key cannot also be a "directory" of another
// key ("a" and "a/b" cannot both exist). Empty directories left by Delete are
// not removed. ETags are empty.
//
// Thread-safety: all methods are safe to call concurrently; atomicity comes
// from rename(2), there is no in-process lock.
#pragma once

#include <memory>
#include <string>

#include "objstore/object_store.h"

namespace meridian::objstore {

// `root` is an absolute directory path; it is not created here (CreateBucket
// creates it; other calls fail with NotFound while it is missing).
std::unique_ptr<ObjectStore> OpenFileStore(const std::string& root, const Options& options);

// OK if `key` is a valid file:// key (see above), else InvalidArgument.
Status ValidateFileKey(const std::string& key);

}  // namespace meridian::objstore
