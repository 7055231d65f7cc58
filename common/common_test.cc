#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <fstream>
#include <random>

#include "common/block.h"
#include "common/hash.h"
#include "common/path.h"
#include "common/posix.h"
#include "common/redact.h"
#include "common/site_name.h"
#include "common/status.h"
#include "common/text.h"

namespace meridian {
namespace {

TEST(Status, CodesMapToErrno) {
  EXPECT_EQ(Status::CrossDevice("x").ToErrno(), EXDEV);
  EXPECT_EQ(Status::ReadOnly("x").ToErrno(), EROFS);
  EXPECT_EQ(Status::NotFound("x").ToErrno(), ENOENT);
  EXPECT_TRUE(Status::Unavailable("x").retryable());
  EXPECT_FALSE(Status::Corruption("x").retryable());
  // A transaction conflict: retryable, EAGAIN, and not a lost connection.
  EXPECT_TRUE(Status::Aborted("x").retryable());
  EXPECT_TRUE(Status::Aborted("x").IsAborted());
  EXPECT_EQ(Status::Aborted("x").ToErrno(), EAGAIN);
  EXPECT_EQ(Status::Aborted("deadlock").ToString(), "Aborted: deadlock");
  Status s = Status::IOError("disk full").With("writing block 3");
  EXPECT_EQ(s.ToString(), "IOError: writing block 3: disk full");
}

TEST(Result, CarriesValueOrStatus) {
  Result<int> good = 7;
  ASSERT_TRUE(good.ok());
  EXPECT_EQ(*good, 7);
  Result<int> bad = Status::NotFound("nope");
  EXPECT_TRUE(bad.status().IsNotFound());
}

TEST(Hash, Sha256KnownVector) {
  EXPECT_EQ(ToHex(Sha256("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  std::string raw;
  ASSERT_TRUE(FromHex("00ff7a", &raw));
  EXPECT_EQ(raw, std::string("\x00\xff\x7a", 3));
  EXPECT_FALSE(FromHex("0g", &raw));
}

TEST(Path, RefusesBadNames) {
  EXPECT_TRUE(ValidateName("model.safetensors").ok());
  EXPECT_FALSE(ValidateName("").ok());
  EXPECT_FALSE(ValidateName(".").ok());
  EXPECT_FALSE(ValidateName("..").ok());
  EXPECT_FALSE(ValidateName("a/b").ok());
  EXPECT_FALSE(ValidateName(std::string("a\0b", 3)).ok());
  EXPECT_TRUE(ValidateName(std::string(255, 'x')).ok());
  EXPECT_FALSE(ValidateName(std::string(256, 'x')).ok());
}

TEST(Path, SplitsAndNormalizes) {
  auto p = SplitPath("//a/./b/");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(*p, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(JoinPath(*p), "/a/b");
  EXPECT_EQ(JoinPath({}), "/");
  EXPECT_EQ(SplitPath("/a/../etc").status().code(), Code::kInvalidArgument);
  EXPECT_FALSE(SplitPath(std::string("/a\0b", 4)).ok());
  EXPECT_FALSE(SplitPath("/" + std::string(300, 'y')).ok());
}

TEST(Block, KeyLayoutSpreadsLowBits) {
  EXPECT_EQ(BlockKey("vol", 0x1234), "vol/blocks/34/12/0000000000001234");
  EXPECT_NE(BlockKey("vol", 1), BlockKey("vol", 2));
}

TEST(Block, RoundTripRawAndZstd) {
  std::string text(1 << 20, 'a');
  for (size_t i = 0; i < text.size(); i += 97) text[i] = static_cast<char>('a' + i % 26);
  for (Compression c : {Compression::kNone, Compression::kZstd}) {
    std::string stored;
    BlockRef ref = EncodeBlock(9, 2, text, c, &stored);
    EXPECT_EQ(ref.length, text.size());
    EXPECT_EQ(ref.stored_length, stored.size());
    EXPECT_EQ(ref.compression, c);
    if (c == Compression::kZstd) {
      EXPECT_LT(stored.size(), text.size() / 4);
    }
    auto back = DecodeBlock(ref, stored, "test block");
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    EXPECT_EQ(*back, text);
  }
}

TEST(Block, IncompressibleBlockIsStoredRaw) {
  std::string noise(4096, '\0');
  uint32_t x = 12345;
  for (auto& ch : noise) ch = static_cast<char>((x = x * 1103515245 + 12345) >> 16);
  std::string stored;
  BlockRef ref = EncodeBlock(1, 0, noise, Compression::kZstd, &stored);
  EXPECT_EQ(ref.compression, Compression::kNone);
  EXPECT_EQ(stored, noise);
}

TEST(Block, FlippedOrTruncatedBytesAreCorruption) {
  std::string data(10000, 'q');
  std::string stored;
  BlockRef ref = EncodeBlock(1, 0, data, Compression::kZstd, &stored);
  std::string flipped = stored;
  flipped[flipped.size() / 2] ^= 0x01;
  auto r = DecodeBlock(ref, flipped, "f block 0");
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.status().IsCorruption());
  EXPECT_NE(r.status().message().find("f block 0"), std::string::npos);
  EXPECT_TRUE(DecodeBlock(ref, stored.substr(1), "f").status().IsCorruption());
}

// O_DIRECT reads of whole files: exact for any size (the tail of a file is
// not a whole 4 KiB unit), a file shorter than expected comes back as read,
// and a file system without O_DIRECT (tmpfs) says so instead of failing.
TEST(Posix, ReadFileDirectReturnsExactBytes) {
  char tmpl[] = "/var/tmp/meridian-direct-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  std::mt19937_64 rng(7);
  for (uint64_t size : {0ull, 1ull, 4096ull, (1ull << 20) + 123, 4ull << 20}) {
    std::string data(size, '\0');
    for (auto& c : data) c = static_cast<char>(rng());
    const std::string path = dir + "/f" + std::to_string(size);
    std::ofstream(path, std::ios::binary) << data;  // still dirty in the page cache
    auto read = [&](uint64_t n) -> Result<std::string> {
      Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
      if (fd.get() < 0) return Status::IOError("open " + path);
      return ReadFileDirect(fd.get(), path, n);
    };
    auto got = read(size);
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    EXPECT_TRUE(*got == data) << size;
    // Expected bigger than it is (truncated under us): what is there.
    auto shorter = read(size + 10000);
    ASSERT_TRUE(shorter.ok()) << shorter.status().ToString();
    EXPECT_TRUE(*shorter == data) << size;
    unlink(path.c_str());
  }
  rmdir(dir.c_str());
  // tmpfs refuses O_DIRECT: NotSupported, so the caller reads buffered.
  if (access("/dev/shm", W_OK) == 0) {
    const std::string shm = "/dev/shm/meridian-direct-" + std::to_string(getpid());
    std::ofstream(shm) << "x";
    Fd fd(::open(shm.c_str(), O_RDONLY | O_CLOEXEC));
    const int before = ::fcntl(fd.get(), F_GETFL);
    auto r = ReadFileDirect(fd.get(), shm, 1);
    EXPECT_TRUE(r.ok() ? *r == "x" : r.status().code() == Code::kNotSupported)
        << r.status().ToString();
    EXPECT_EQ(::fcntl(fd.get(), F_GETFL), before) << "the descriptor must be left as it was";
    unlink(shm.c_str());
  }
}

TEST(Redact, UrlPasswords) {
  EXPECT_EQ(RedactSecrets("postgres://postgres:PW@[bad"), "postgres://postgres:***@[bad");
  EXPECT_EQ(RedactSecrets("in URI: \"postgres://u:PW@[bad\" (x)"),
            "in URI: \"postgres://u:***@[bad\" (x)");
  EXPECT_EQ(RedactSecrets("postgresql://u:p@ss/w#rd@h:5432/db"), "postgresql://u:***@h:5432/db");
  EXPECT_EQ(RedactSecrets("PUT http://AK:SECRET@127.0.0.1:9/bkt: refused"),
            "PUT http://AK:***@127.0.0.1:9/bkt: refused");
  EXPECT_EQ(RedactSecrets("a s3://AK:S@b and http://x:y@z/q"),
            "a s3://AK:***@b and http://x:***@z/q");
  // No password: nothing to hide, nothing changed.
  for (const char* keep : {"postgres://user@host/db", "http://host:80/bucket", "file:///a:b@c",
                           "no url here", "tcp://0.0.0.0:7000", "(public=, secret=)"}) {
    EXPECT_EQ(RedactSecrets(keep), keep);
  }
}

TEST(Redact, KeyValueSecrets) {
  EXPECT_EQ(RedactSecrets("host=/tmp password=PW port=1"), "host=/tmp password=*** port=1");
  EXPECT_EQ(RedactSecrets("host=x password = 'P W\\' x' dbname=d"),
            "host=x password = *** dbname=d");
  EXPECT_EQ(RedactSecrets("postgresql:///d?host=/s&password=PW&port=5"),
            "postgresql:///d?host=/s&password=***&port=5");
  EXPECT_EQ(RedactSecrets("PASSWORD=PW"), "PASSWORD=***");
  EXPECT_EQ(RedactSecrets("sslpassword=a,X-Amz-Security-Token=b"),
            "sslpassword=***,X-Amz-Security-Token=***");
  const std::string once = RedactSecrets("postgres://u:p@h/d?password=q");
  EXPECT_EQ(once, "postgres://u:***@h/d?password=***");
  EXPECT_EQ(RedactSecrets(once), once) << "idempotent";
}

TEST(Text, Utf8AndBase64) {
  EXPECT_TRUE(IsValidUtf8("plain \xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80"));
  for (const char* bad :
       {"\xff", "a\x80", "\xC0\xAF" /* overlong */, "\xED\xA0\x80" /* surrogate */,
        "\xF4\x90\x80\x80" /* > U+10FFFF */, "\xE2\x82" /* truncated */}) {
    EXPECT_FALSE(IsValidUtf8(bad)) << bad;
  }
  EXPECT_EQ(Utf8ForDisplay("\xffx"), "\xEF\xBF\xBDx");
  EXPECT_EQ(Utf8ForDisplay("ok"), "ok");
  EXPECT_EQ(Base64Encode("\xffx"), "/3g=");
  EXPECT_EQ(Base64Encode(""), "");
  EXPECT_EQ(Base64Encode("abc"), "YWJj");
  EXPECT_EQ(Base64Encode("ab"), "YWI=");
  std::mt19937 rng(3);
  for (int n = 0; n < 300; ++n) {
    std::string bytes(n % 40, '\0');
    for (char& c : bytes) c = static_cast<char>(rng());
    EXPECT_EQ(Base64Decode(Base64Encode(bytes)), bytes);
  }
  EXPECT_FALSE(Base64Decode("abc").has_value());
  EXPECT_FALSE(Base64Decode("a=bc").has_value());
}

TEST(Text, MessagesAndListings) {
  EXPECT_EQ(EscapeForTerminal("a\x1b[31mb\nc\td\xff"), "a\\x1B[31mb\nc\td\\xFF");
  EXPECT_EQ(EscapeForTerminal("caf\xC3\xA9"), "caf\xC3\xA9");
  // GNU ls --quoting-style=shell-escape, for the names that need quoting.
  EXPECT_EQ(QuoteNameForListing("model.safetensors"), "model.safetensors");
  EXPECT_EQ(QuoteNameForListing("sp ace"), "sp ace");
  EXPECT_EQ(QuoteNameForListing("a\nb"), "'a'$'\\n''b'");
  EXPECT_EQ(QuoteNameForListing("\nlead"), "''$'\\n''lead'");
  EXPECT_EQ(QuoteNameForListing("trail\n"), "'trail'$'\\n'");
  EXPECT_EQ(QuoteNameForListing("x\n\ty"), "'x'$'\\n\\t''y'");
  EXPECT_EQ(QuoteNameForListing("e\x1b[31mred"), "'e'$'\\033''[31mred'");
  EXPECT_EQ(QuoteNameForListing("\xffx"), "''$'\\377''x'");
  EXPECT_EQ(QuoteNameForListing("it's"), "\"it's\"");
  EXPECT_EQ(QuoteNameForListing("it's $x"), "'it'\\''s $x'");
}

}  // namespace
}  // namespace meridian

TEST(SiteName, AcceptsPrintableUtf8) {
  for (const std::string& ok :
       std::vector<std::string>{"eu-west-1", "m", "Zürich DC 2", "東京", std::string(255, 'a')}) {
    EXPECT_TRUE(meridian::CheckSiteName(ok).ok()) << ok;
  }
}

TEST(SiteName, RefusesWhatCouldHurtATerminalOrTheDatabase) {
  const std::string bad[] = {
      "",                     // empty
      std::string(256, 'a'),  // too long
      "eu\xff",               // not UTF-8 (PostgreSQL refuses it in a text column)
      "\xc0\xaf",             // overlong '/'
      "\xed\xa0\x80",         // a surrogate
      "\xf4\x90\x80\x80",     // past U+10FFFF
      "caf\xc3",              // truncated sequence
      "eu\x1b[31mred",        // ESC: terminal escape codes
      "a\nb",
      "a\tb",
      "a\x7f",     // other controls, DEL
      "a\xc2\x9b"  // NOLINT(bugprone-suspicious-missing-comma): split so \x9b ends there
      "31m",       // C1 CSI
      "a\xe2\x80\xae"
      "b",                     // right-to-left override
      std::string("a\0b", 3),  // NUL
  };
  for (const std::string& name : bad) {
    meridian::Status s = meridian::CheckSiteName(name);
    EXPECT_EQ(s.code(), meridian::Code::kInvalidArgument) << name.size();
    EXPECT_EQ(s.message().find('\x1b'), std::string::npos);  // never echoes the bytes
  }
}
