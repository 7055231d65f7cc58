// Open(): bucket URL -> backend.
#include "objstore/object_store.h"

#include "objstore/file_store.h"
#include "objstore/mem_store.h"
#include "objstore/s3_store.h"

namespace meridian::objstore {

Result<std::unique_ptr<ObjectStore>> Open(const std::string& url, const Options& options) {
  if (url.starts_with("mem://")) {
    const std::string name = url.substr(6);
    if (name.empty())
      return Status::InvalidArgument("bucket URL 'mem://' needs a name: mem://NAME");
    return OpenMemStore(name);
  }
  if (url.starts_with("file://")) {
    const std::string dir = url.substr(7);
    if (dir.empty() || dir.front() != '/') {
      return Status::InvalidArgument("bucket URL '" + url +
                                     "' needs an absolute directory: file:///abs/dir");
    }
    return OpenFileStore(dir, options);
  }
  if (url.starts_with("s3://") || url.starts_with("http://") || url.starts_with("https://")) {
    return OpenS3Store(url, options);
  }
  return Status::InvalidArgument("unsupported bucket URL '" + url +
                                 "': use file:///dir, s3://bucket or http(s)://host/bucket");
}

}  // namespace meridian::objstore
