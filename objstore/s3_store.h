// S3Store: an ObjectStore over an S3-compatible bucket (AWS S3, Ceph radosgw,
// ...), via S3Client (libcurl + SigV4, pooled connections, retries).
//
// URL forms, credentials and addressing are described in s3_client.h and
// docs/objstore.md. Error mapping: NoSuchKey -> NotFound naming the key;
// NoSuchBucket -> NotFound naming the bucket and how to create it; 403
// (InvalidAccessKeyId, SignatureDoesNotMatch, AccessDenied) ->
// PermissionDenied pointing at the credentials; a failure that survived the
// retries -> Unavailable. Messages never contain the secret key.
//
// Thread-safety: all methods are safe to call from many threads at once.
#pragma once

#include <memory>
#include <string>

#include "objstore/object_store.h"
#include "objstore/s3_client.h"

namespace meridian::objstore {

// Opens "s3://BUCKET[/PREFIX]" or "http(s)://HOST[:PORT]/BUCKET[/PREFIX]".
// Does not contact the server.
Result<std::unique_ptr<ObjectStore>> OpenS3Store(const std::string& url, const Options& options);

// The same, from an already resolved configuration.
std::unique_ptr<ObjectStore> OpenS3Store(S3Config config);

}  // namespace meridian::objstore
