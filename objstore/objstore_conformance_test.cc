// The ObjectStore conformance suite: the same tests for every backend. The
// backends are instantiated in local_backends_test.cc (mem://, file://) and
// s3_store_test.cc (radosgw).
#include <atomic>
#include <cstdio>
#include <random>
#include <set>
#include <thread>
#include <vector>

#include "objstore/conformance_test_util.h"

namespace meridian::objstore {
namespace {

std::string RandomBytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

// Lists every key under `prefix`, page by page, checking page invariants.
std::vector<ObjectInfo> ListAll(ObjectStore* store, const std::string& prefix, int max_keys,
                                int* pages) {
  std::vector<ObjectInfo> all;
  std::string token;
  *pages = 0;
  while (true) {
    auto page = store->List(prefix, token, max_keys);
    EXPECT_TRUE(page.ok()) << page.status().ToString();
    if (!page.ok()) break;
    ++*pages;
    EXPECT_LE(page->objects.size(), static_cast<size_t>(max_keys));
    for (auto& o : page->objects) all.push_back(o);
    if (!page->truncated) break;
    EXPECT_FALSE(page->next_token.empty());
    token = page->next_token;
    if (*pages > 100) {
      ADD_FAILURE() << "too many pages";
      break;
    }
  }
  return all;
}

std::vector<std::string> Keys(const std::vector<ObjectInfo>& objects) {
  std::vector<std::string> keys;
  for (const auto& o : objects) keys.push_back(o.key);
  return keys;
}

// Puts every key with `threads` threads (S3 round trips dominate otherwise).
void PutAll(ObjectStore* store, const std::vector<std::string>& keys, int threads) {
  std::atomic<size_t> next{0};
  std::atomic<int> failures{0};
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&] {
      for (size_t i = next++; i < keys.size(); i = next++) {
        Status st = store->Put(keys[i], "v:" + keys[i]);
        if (!st.ok() && failures++ == 0) ADD_FAILURE() << keys[i] << ": " << st.ToString();
      }
    });
  }
  for (auto& w : workers) w.join();
  ASSERT_EQ(failures.load(), 0);
}

TEST_P(ObjectStoreConformanceTest, PutGetRoundTrip) {
  ASSERT_TRUE(store_->Put("a/b/c", "hello").ok());
  auto got = store_->Get("a/b/c");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(*got, "hello");

  const std::string binary("\0\x01\xff\r\n<&>\0\0", 10);
  ASSERT_TRUE(store_->Put("bin", binary).ok());
  got = store_->Get("bin");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(*got, binary);
}

TEST_P(ObjectStoreConformanceTest, EmptyObject) {
  ASSERT_TRUE(store_->Put("empty", "").ok());
  auto got = store_->Get("empty");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(*got, "");
  auto range = store_->Get("empty", 0, 10);
  ASSERT_TRUE(range.ok()) << range.status().ToString();
  EXPECT_EQ(*range, "");
  auto head = store_->Head("empty");
  ASSERT_TRUE(head.ok()) << head.status().ToString();
  EXPECT_EQ(head->size, 0u);
}

TEST_P(ObjectStoreConformanceTest, LargeObject) {
  // Not a multiple of 4 KiB: a file store reads whole blocks with O_DIRECT,
  // which moves whole 4 KiB units; the tail must come back exact.
  const std::string data = RandomBytes((5 << 20) + 4321, 42);
  ASSERT_TRUE(store_->Put("big/5MiB", data).ok());
  auto got = store_->Get("big/5MiB");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_TRUE(*got == data) << "5 MiB object differs after the round trip";
  // Overwritten (the new bytes may still be only in the page cache): a
  // read that bypasses the page cache still sees them.
  const std::string again = RandomBytes((2 << 20) + 1, 43);
  ASSERT_TRUE(store_->Put("big/again", data).ok());
  ASSERT_TRUE(store_->Get("big/again").ok());
  ASSERT_TRUE(store_->Put("big/again", again).ok());
  got = store_->Get("big/again");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_TRUE(*got == again) << "an overwritten large object reads its old bytes";
  auto tail = store_->Get("big/5MiB", 4 << 20);
  ASSERT_TRUE(tail.ok()) << tail.status().ToString();
  EXPECT_TRUE(*tail == data.substr(4 << 20));
  auto head = store_->Head("big/5MiB");
  ASSERT_TRUE(head.ok()) << head.status().ToString();
  EXPECT_EQ(head->size, data.size());
}

TEST_P(ObjectStoreConformanceTest, RangeGet) {
  ASSERT_TRUE(store_->Put("r", "0123456789").ok());
  struct Case {
    uint64_t offset;
    int64_t length;
    std::string want;
  };
  for (const Case& c : std::vector<Case>{{3, 4, "3456"},
                                         {0, 1, "0"},
                                         {7, -1, "789"},
                                         {0, -1, "0123456789"},
                                         {9, 1, "9"},
                                         {8, 10, "89"},
                                         {10, 5, ""},
                                         {10, -1, ""},
                                         {100, -1, ""},
                                         {4, 0, ""}}) {
    auto got = store_->Get("r", c.offset, c.length);
    ASSERT_TRUE(got.ok()) << c.offset << "+" << c.length << ": " << got.status().ToString();
    EXPECT_EQ(*got, c.want) << c.offset << "+" << c.length;
  }
}

TEST_P(ObjectStoreConformanceTest, Head) {
  ASSERT_TRUE(store_->Put("h/x", std::string(1234, 'x')).ok());
  auto head = store_->Head("h/x");
  ASSERT_TRUE(head.ok()) << head.status().ToString();
  EXPECT_EQ(head->key, "h/x");
  EXPECT_EQ(head->size, 1234u);
  auto missing = store_->Head("h/missing");
  EXPECT_TRUE(missing.status().IsNotFound()) << missing.status().ToString();
}

TEST_P(ObjectStoreConformanceTest, Overwrite) {
  ASSERT_TRUE(store_->Put("o", "same bytes").ok());
  ASSERT_TRUE(store_->Put("o", "same bytes").ok());  // idempotent
  EXPECT_EQ(store_->Get("o").value(), "same bytes");
  ASSERT_TRUE(store_->Put("o", "new").ok());
  EXPECT_EQ(store_->Get("o").value(), "new");
  EXPECT_EQ(store_->Head("o")->size, 3u);
}

TEST_P(ObjectStoreConformanceTest, DeleteAndDeleteMissing) {
  ASSERT_TRUE(store_->Put("d/1", "x").ok());
  ASSERT_TRUE(store_->Delete("d/1").ok());
  EXPECT_TRUE(store_->Get("d/1").status().IsNotFound());
  Status again = store_->Delete("d/1");
  EXPECT_TRUE(again.ok()) << again.ToString();
  Status never = store_->Delete("never/existed");
  EXPECT_TRUE(never.ok()) << never.ToString();
}

TEST_P(ObjectStoreConformanceTest, GetMissingIsNotFound) {
  auto got = store_->Get("no/such/key");
  ASSERT_FALSE(got.ok());
  EXPECT_TRUE(got.status().IsNotFound()) << got.status().ToString();
  EXPECT_NE(got.status().message().find("no/such/key"), std::string::npos)
      << got.status().message();
  EXPECT_TRUE(store_->Get("no/such/key", 5, 5).status().IsNotFound());
  EXPECT_TRUE(store_->Get("no/such/key", 0, 0).status().IsNotFound());
}

TEST_P(ObjectStoreConformanceTest, ListWithPrefix) {
  for (const char* k : {"a/1", "a/2", "a-c", "ab", "b/1", "a/sub/3"}) {
    ASSERT_TRUE(store_->Put(k, k).ok()) << k;
  }
  auto page = store_->List("a/", "");
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  EXPECT_EQ(Keys(page->objects), (std::vector<std::string>{"a/1", "a/2", "a/sub/3"}));
  EXPECT_FALSE(page->truncated);

  page = store_->List("a", "");  // bytewise: '-' < '/' < 'b'
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  EXPECT_EQ(Keys(page->objects), (std::vector<std::string>{"a-c", "a/1", "a/2", "a/sub/3", "ab"}));
  EXPECT_EQ(page->objects[1].size, 3u);

  page = store_->List("", "");
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  EXPECT_EQ(page->objects.size(), 6u);

  page = store_->List("zzz", "");
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  EXPECT_TRUE(page->objects.empty());
  EXPECT_FALSE(page->truncated);

  int pages = 0;
  auto all = ListAll(store_.get(), "a", 2, &pages);
  EXPECT_EQ(Keys(all), (std::vector<std::string>{"a-c", "a/1", "a/2", "a/sub/3", "ab"}));
  EXPECT_EQ(pages, 3);
}

TEST_P(ObjectStoreConformanceTest, ListPaginationOver1000Keys) {
  std::vector<std::string> keys;
  for (int i = 0; i < 1100; ++i) {
    char buf[32];
    std::snprintf(buf, sizeof(buf), "p/%02d/%05d", i % 7, i);
    keys.push_back(buf);
  }
  keys.push_back("other/1");
  keys.push_back("p0");
  PutAll(store_.get(), keys, 16);
  std::set<std::string> want;
  for (const auto& k : keys) {
    if (k.starts_with("p/")) want.insert(k);
  }

  auto first = store_->List("p/", "");
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(first->objects.size(), 1000u);
  EXPECT_TRUE(first->truncated);

  for (int max_keys : {1000, 300}) {
    int pages = 0;
    auto all = ListAll(store_.get(), "p/", max_keys, &pages);
    EXPECT_EQ(pages, max_keys == 1000 ? 2 : 4);
    std::vector<std::string> got = Keys(all);
    EXPECT_TRUE(std::is_sorted(got.begin(), got.end()));
    EXPECT_EQ(std::set<std::string>(got.begin(), got.end()), want);
    EXPECT_EQ(got.size(), want.size());  // no duplicates
  }
  // max_keys above 1000 is capped.
  auto capped = store_->List("", "", 5000);
  ASSERT_TRUE(capped.ok()) << capped.status().ToString();
  EXPECT_EQ(capped->objects.size(), 1000u);
}

TEST_P(ObjectStoreConformanceTest, SpecialCharacterKeys) {
  const std::vector<std::string> keys = {
      "dir with space/file name.txt",
      "unicode/h\xc3\xa9llo-\xe4\xb8\x96\xe7\x95\x8c",
      "plus+sign",
      "eq=ual&amp",
      "tilde~under_score-dash.dot",
      "xml<chars>'\"",
      "percent%20literal",
      "star*paren(1)!$,;:@",
  };
  for (const auto& k : keys) {
    Status st = store_->Put(k, "v:" + k);
    ASSERT_TRUE(st.ok()) << k << ": " << st.ToString();
  }
  for (const auto& k : keys) {
    auto got = store_->Get(k);
    ASSERT_TRUE(got.ok()) << k << ": " << got.status().ToString();
    EXPECT_EQ(*got, "v:" + k);
    auto head = store_->Head(k);
    ASSERT_TRUE(head.ok()) << k << ": " << head.status().ToString();
    EXPECT_EQ(head->size, k.size() + 2);
  }
  auto page = store_->List("", "");
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  std::vector<std::string> want = keys;
  std::sort(want.begin(), want.end());
  EXPECT_EQ(Keys(page->objects), want);
  auto by_prefix = store_->List("dir with space/", "");
  ASSERT_TRUE(by_prefix.ok()) << by_prefix.status().ToString();
  EXPECT_EQ(Keys(by_prefix->objects), std::vector<std::string>{"dir with space/file name.txt"});
  for (const auto& k : keys) ASSERT_TRUE(store_->Delete(k).ok()) << k;
  EXPECT_TRUE(store_->List("", "")->objects.empty());
}

TEST_P(ObjectStoreConformanceTest, ConcurrentPutsAndGets) {
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 20; ++i) {
        const std::string key = "c/" + std::to_string(t) + "/" + std::to_string(i);
        const std::string data = RandomBytes(1000 + i, t * 100 + i);
        if (!store_->Put(key, data).ok()) ++failures;
        auto got = store_->Get(key);
        if (!got.ok() || *got != data) ++failures;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
}

TEST_P(ObjectStoreConformanceTest, CreateBucketIsIdempotent) {
  ASSERT_TRUE(store_->Put("k", "v").ok());
  Status st = store_->CreateBucket();
  EXPECT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(store_->Get("k").value(), "v");
  EXPECT_FALSE(store_->Describe().empty());
}

TEST_P(ObjectStoreConformanceTest, PutIfAbsentWritesOnlyANewKey) {
  ASSERT_TRUE(store_->PutIfAbsent("once/k", "first").ok());
  EXPECT_EQ(store_->Get("once/k").value(), "first");
  Status again = store_->PutIfAbsent("once/k", "second");
  EXPECT_EQ(again.code(), Code::kAlreadyExists) << again.ToString();
  EXPECT_EQ(store_->Get("once/k").value(), "first") << "PutIfAbsent overwrote an object";
  // After a Delete the key is free again; a plain Put still overwrites.
  ASSERT_TRUE(store_->Delete("once/k").ok());
  ASSERT_TRUE(store_->PutIfAbsent("once/k", "third").ok());
  ASSERT_TRUE(store_->Put("once/k", "fourth").ok());
  EXPECT_EQ(store_->Get("once/k").value(), "fourth");
}

TEST_P(ObjectStoreConformanceTest, RacingPutIfAbsentHasOneWinner) {
  std::vector<std::thread> threads;
  std::atomic<int> won{0}, lost{0}, other{0};
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      Status s = store_->PutIfAbsent("race", "writer " + std::to_string(t));
      (s.ok() ? won : s.code() == Code::kAlreadyExists ? lost : other)++;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(won.load(), 1);
  EXPECT_EQ(lost.load(), 7);
  EXPECT_EQ(other.load(), 0);
  EXPECT_EQ(store_->Get("race").value().rfind("writer ", 0), 0u);
}

TEST_P(ObjectStoreConformanceTest, LocationIsStableAndNamesTheStore) {
  const std::string loc = store_->Location();
  EXPECT_FALSE(loc.empty());
  EXPECT_EQ(store_->Location(), loc);
  ASSERT_TRUE(store_->Put("k", "v").ok());
  EXPECT_EQ(store_->Location(), loc);
}

}  // namespace
}  // namespace meridian::objstore
