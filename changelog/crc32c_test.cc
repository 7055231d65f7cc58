#include "changelog/crc32c.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

namespace meridian::crc32c {
namespace {

TEST(Crc32c, StandardVectors) {
  EXPECT_EQ(Value("123456789"), 0xE3069283u);
  EXPECT_EQ(Value(std::string(32, '\0')), 0x8A9136AAu);
  EXPECT_EQ(Value(std::string(32, '\xff')), 0x62A8AB43u);  // RFC 3720 B.4
  EXPECT_EQ(Value(""), 0u);
  EXPECT_EQ(ExtendPortable(0, "123456789", 9), 0xE3069283u);
  if (HardwareAvailable()) {
    EXPECT_EQ(ExtendHardware(0, "123456789", 9), 0xE3069283u);
  }
}

TEST(Crc32c, ExtendComposes) {
  const std::string s = "hello, change log";
  for (size_t cut = 0; cut <= s.size(); ++cut) {
    EXPECT_EQ(Extend(Value(s.data(), cut), s.data() + cut, s.size() - cut), Value(s));
  }
}

TEST(Crc32c, HardwareAndPortableAgree) {
  if (!HardwareAvailable()) GTEST_SKIP() << "CPU has no SSE4.2";
  std::mt19937_64 rng(42);
  std::string buf(4096 + 16, '\0');
  for (char& c : buf) c = static_cast<char>(rng());
  for (int i = 0; i < 2000; ++i) {
    const size_t off = rng() % 16;  // unaligned starts
    const size_t len = rng() % 4096;
    const uint32_t seed = static_cast<uint32_t>(rng());
    ASSERT_EQ(ExtendHardware(seed, buf.data() + off, len),
              ExtendPortable(seed, buf.data() + off, len))
        << "off=" << off << " len=" << len;
  }
}

TEST(Crc32c, MaskRoundTripsAndDiffers) {
  const uint32_t crc = Value("foo");
  EXPECT_NE(Mask(crc), crc);
  EXPECT_NE(Mask(Mask(crc)), crc);
  EXPECT_EQ(Unmask(Mask(crc)), crc);
  EXPECT_EQ(Unmask(Unmask(Mask(Mask(crc)))), crc);
}

}  // namespace
}  // namespace meridian::crc32c
