#include "common/block.h"

#include <zstd.h>

#include <cstdio>

namespace meridian {

const char* CompressionName(Compression c) { return c == Compression::kZstd ? "zstd" : "none"; }

Result<Compression> ParseCompression(std::string_view name) {
  if (name == "none" || name.empty()) return Compression::kNone;
  if (name == "zstd") return Compression::kZstd;
  return Status::InvalidArgument("unknown compression '" + std::string(name) +
                                 "': use none or zstd");
}

std::string BlockKey(std::string_view volume, uint64_t id) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "/blocks/%02x/%02x/%016llx", static_cast<unsigned>(id & 0xff),
                static_cast<unsigned>((id >> 8) & 0xff), static_cast<unsigned long long>(id));
  return std::string(volume) + buf;
}

BlockRef EncodeBlock(uint64_t id, uint32_t index, std::string_view raw, Compression compression,
                     std::string* stored) {
  BlockRef ref;
  ref.id = id;
  ref.index = index;
  ref.length = static_cast<uint32_t>(raw.size());
  ref.compression = Compression::kNone;
  bool packed = false;
  if (compression == Compression::kZstd && !raw.empty()) {
    stored->resize(ZSTD_compressBound(raw.size()));
    size_t n = ZSTD_compress(stored->data(), stored->size(), raw.data(), raw.size(), 1);
    if (!ZSTD_isError(n) && n < raw.size()) {
      stored->resize(n);
      ref.compression = Compression::kZstd;
      packed = true;
    }
  }
  if (!packed) stored->assign(raw);
  ref.stored_length = static_cast<uint32_t>(stored->size());
  ref.checksum = Sha256(*stored);
  return ref;
}

Status VerifyStoredBlock(const BlockRef& ref, std::string_view stored, std::string_view what) {
  if (stored.size() != ref.stored_length) {
    return Status::Corruption(std::string(what) + ": object has " + std::to_string(stored.size()) +
                              " bytes, metadata says " + std::to_string(ref.stored_length) +
                              " (truncated or replaced in the bucket)");
  }
  if (Sha256(stored) != ref.checksum) {
    return Status::Corruption(std::string(what) +
                              ": checksum mismatch, the stored bytes are corrupt; "
                              "no data was returned");
  }
  return Status::OK();
}

Result<std::string> DecodeBlock(const BlockRef& ref, std::string stored, std::string_view what) {
  MERIDIAN_RETURN_IF_ERROR(VerifyStoredBlock(ref, stored, what));
  if (ref.compression == Compression::kNone) {
    if (ref.length != ref.stored_length) {
      return Status::Corruption(std::string(what) + ": metadata says raw length " +
                                std::to_string(ref.length) + " but stored length " +
                                std::to_string(ref.stored_length) + " for an uncompressed block");
    }
    return stored;
  }
  std::string raw(ref.length, '\0');
  size_t n = ZSTD_decompress(raw.data(), raw.size(), stored.data(), stored.size());
  if (ZSTD_isError(n) || n != ref.length) {
    return Status::Corruption(std::string(what) + ": zstd payload does not decode to " +
                              std::to_string(ref.length) + " bytes");
  }
  return raw;
}

}  // namespace meridian
