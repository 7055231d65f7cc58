// Open(): bucket URL -> backend; NormalizeBucketUrl(): the URL's path, normalised.
#include "objstore/object_store.h"

#include <vector>

#include "objstore/file_store.h"
#include "objstore/mem_store.h"
#include "objstore/s3_store.h"

namespace meridian::objstore {
namespace {

// Removes empty and "." segments of `path` and resolves "..". `floor`
// segments at the start cannot be removed by a ".." (the bucket of an S3
// URL). Returns the segments, or an error naming `url` when a ".." climbs
// past the floor.
Result<std::vector<std::string>> DotSegments(std::string_view path, size_t floor,
                                             const std::string& url, std::string_view above) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    std::string_view seg = path.substr(start, end - start);
    start = end + 1;
    if (seg.empty() || seg == ".") continue;
    if (seg == "..") {
      if (out.size() <= floor) {
        return Status::InvalidArgument("bucket URL '" + url + "' climbs above " +
                                       std::string(above) +
                                       " with '..': write the location without '..'");
      }
      out.pop_back();
      continue;
    }
    out.emplace_back(seg);
  }
  return out;
}

std::string Join(const std::vector<std::string>& segs) {
  std::string s;
  for (const auto& seg : segs) s += "/" + seg;
  return s;
}

}  // namespace

Result<std::string> NormalizeBucketUrl(const std::string& url) {
  if (url.starts_with("mem://")) {
    if (url.size() == 6)
      return Status::InvalidArgument("bucket URL 'mem://' needs a name: mem://NAME");
    return url;
  }
  if (url.starts_with("file://")) {
    const std::string_view dir = std::string_view(url).substr(7);
    if (dir.empty() || dir.front() != '/') {
      return Status::InvalidArgument("bucket URL '" + url +
                                     "' needs an absolute directory: file:///abs/dir");
    }
    MERIDIAN_ASSIGN_OR_RETURN(auto segs, DotSegments(dir, 0, url, "the root directory '/'"));
    return "file://" + (segs.empty() ? std::string("/") : Join(segs));
  }
  std::string head, rest;  // "s3://" or "http://host:port", and BUCKET[/PREFIX]
  if (url.starts_with("s3://")) {
    head = "s3://";
    rest = url.substr(5);
  } else if (url.starts_with("http://") || url.starts_with("https://")) {
    const size_t slash = url.find('/', url.find("://") + 3);
    head = url.substr(0, slash);
    rest = slash == std::string::npos ? "" : url.substr(slash + 1);
  } else {
    return Status::InvalidArgument("unsupported bucket URL '" + url +
                                   "': use file:///dir, s3://bucket or http(s)://host/bucket");
  }
  if (url.find_first_of("?#") != std::string::npos) {
    return Status::InvalidArgument("bucket URL '" + url + "' must not contain '?' or '#'");
  }
  // The first segment left is the bucket: a ".." never removes it (not even
  // one before it, "s3://../b").
  MERIDIAN_ASSIGN_OR_RETURN(auto segs, DotSegments(rest, 1, url, "its bucket"));
  const std::string path = Join(segs);  // "" or "/BUCKET[/PREFIX...]"
  if (head == "s3://") return head + (path.empty() ? "" : path.substr(1));
  return head + path;
}

Result<std::unique_ptr<ObjectStore>> Open(const std::string& raw_url, const Options& options) {
  MERIDIAN_ASSIGN_OR_RETURN(const std::string url, NormalizeBucketUrl(raw_url));
  if (url.starts_with("mem://")) return OpenMemStore(url.substr(6));
  if (url.starts_with("file://")) return OpenFileStore(url.substr(7), options);
  return OpenS3Store(url, options);
}

}  // namespace meridian::objstore
