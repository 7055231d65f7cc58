// Internal to changelog/: the primitive encodings of docs/changelog-format.md
// (LEB128 varints, zigzag, length-prefixed strings, little-endian fixed ints)
// and a bounds-checked Reader that turns every malformed input into a
// Corruption status naming the field and its offset.
//
// Thread-safety: Reader is a value bound to one buffer; one thread at a time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "common/status.h"

namespace meridian::changelog::wire {

inline void PutVarint(std::string* out, uint64_t v) {
  char buf[10];
  size_t n = 0;
  while (v >= 0x80) {
    buf[n++] = static_cast<char>(v | 0x80);
    v >>= 7;
  }
  buf[n++] = static_cast<char>(v);
  out->append(buf, n);
}
inline uint64_t ZigZag(int64_t v) {
  return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
}
inline int64_t UnZigZag(uint64_t u) {
  return static_cast<int64_t>((u >> 1) ^ (~(u & 1) + 1));  // (u >> 1) ^ -(u & 1)
}
inline void PutSigned(std::string* out, int64_t v) { PutVarint(out, ZigZag(v)); }
inline void PutString(std::string* out, std::string_view s) {
  PutVarint(out, s.size());
  out->append(s);
}
inline void PutFixed32(char* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<char>(v >> (8 * i));
}
inline void PutFixed64(char* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<char>(v >> (8 * i));
}
inline uint32_t GetFixed32(const char* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= static_cast<uint32_t>(static_cast<uint8_t>(p[i])) << (8 * i);
  return v;
}
inline uint64_t GetFixed64(const char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= static_cast<uint64_t>(static_cast<uint8_t>(p[i])) << (8 * i);
  return v;
}

// Reads fields front to back. Every getter returns false on malformed input
// after recording a Corruption status: "<field>: <problem> at offset N"
// (N = where the field starts, relative to the buffer).
class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}

  size_t offset() const { return pos_; }
  size_t remaining() const { return in_.size() - pos_; }
  bool done() const { return pos_ == in_.size(); }
  Status status() const { return status_; }
  bool Fail(size_t at, std::string_view field, std::string_view problem) {
    status_ = Status::Corruption(std::string(field) + ": " + std::string(problem) + " at offset " +
                                 std::to_string(at));
    return false;
  }

  // A canonical LEB128 varint of at most 64 bits.
  bool Varint(std::string_view field, uint64_t* v) {
    const size_t start = pos_;
    uint64_t result = 0;
    for (int shift = 0;; shift += 7) {
      if (pos_ >= in_.size()) return Fail(start, field, "truncated varint");
      const uint8_t b = static_cast<uint8_t>(in_[pos_++]);
      if (shift == 63 && b > 1) return Fail(start, field, "varint overflows 64 bits");
      result |= static_cast<uint64_t>(b & 0x7f) << shift;
      if ((b & 0x80) == 0) {
        if (b == 0 && shift > 0) return Fail(start, field, "non-canonical varint");
        *v = result;
        return true;
      }
    }
  }
  bool Varint32(std::string_view field, uint32_t* v) {
    const size_t start = pos_;
    uint64_t u = 0;
    if (!Varint(field, &u)) return false;
    if (u > UINT32_MAX) return Fail(start, field, "value " + std::to_string(u) + " exceeds u32");
    *v = static_cast<uint32_t>(u);
    return true;
  }
  // A varint a PostgreSQL bigint holds: 0..2^63-1 (tenant heads).
  bool Bigint(std::string_view field, uint64_t* v) {
    const size_t start = pos_;
    if (!Varint(field, v)) return false;
    if (*v > static_cast<uint64_t>(INT64_MAX)) {
      return Fail(start, field, "value " + std::to_string(*v) + " exceeds 2^63-1");
    }
    return true;
  }
  // A Bigint that may not be 0 (tenant ids, tenant positions and epochs
  // start at 1).
  bool Positive(std::string_view field, uint64_t* v) {
    const size_t start = pos_;
    if (!Bigint(field, v)) return false;
    if (*v == 0) return Fail(start, field, "value 0, expected at least 1");
    return true;
  }
  bool Signed(std::string_view field, int64_t* v) {
    uint64_t u = 0;
    if (!Varint(field, &u)) return false;
    *v = UnZigZag(u);
    return true;
  }
  bool Byte(std::string_view field, uint8_t* v) {
    if (pos_ >= in_.size()) return Fail(pos_, field, "truncated");
    *v = static_cast<uint8_t>(in_[pos_++]);
    return true;
  }
  // A length-prefixed byte string; the length may not exceed what is left.
  bool Bytes(std::string_view field, std::string_view* s) {
    const size_t start = pos_;
    uint64_t n = 0;
    if (!Varint(field, &n)) return false;
    return Take(field, start, n, s);
  }
  // The next `n` bytes, whose length `field` was read earlier at offset
  // `len_at` (the error names that offset).
  bool Take(std::string_view field, size_t len_at, uint64_t n, std::string_view* s) {
    if (n > remaining()) {
      return Fail(len_at, field,
                  "length " + std::to_string(n) + " exceeds the " + std::to_string(remaining()) +
                      " remaining bytes");
    }
    *s = in_.substr(pos_, n);
    pos_ += n;
    return true;
  }
  bool String(std::string_view field, std::string* s) {
    std::string_view v;
    if (!Bytes(field, &v)) return false;
    s->assign(v);
    return true;
  }
  // An element count, each element taking at least `min_size` bytes: a count
  // the remaining bytes cannot hold is refused before anything is allocated.
  bool Count(std::string_view field, size_t min_size, uint64_t* n) {
    const size_t start = pos_;
    if (!Varint(field, n)) return false;
    if (*n > remaining() / min_size) {
      return Fail(start, field,
                  "count " + std::to_string(*n) + " cannot fit in the " +
                      std::to_string(remaining()) + " remaining bytes");
    }
    return true;
  }

 private:
  std::string_view in_;
  size_t pos_ = 0;
  Status status_;
};

}  // namespace meridian::changelog::wire
