#include "objstore/mem_store.h"

#include <algorithm>
#include <cstdio>
#include <map>

#include "common/mutex.h"

namespace meridian::objstore {
namespace {

struct MemBucket {
  Mutex mu;
  std::map<std::string, std::string> objects GUARDED_BY(mu);
};

class MemStore final : public ObjectStore {
 public:
  // `location`: what tells this bucket apart (the name, or the private
  // bucket's address).
  MemStore(std::string name, std::string location, std::shared_ptr<MemBucket> bucket)
      : name_(std::move(name)), location_(std::move(location)), bucket_(std::move(bucket)) {}

  Status Put(const std::string& key, std::string_view data) override {
    if (key.empty()) return Status::InvalidArgument("empty object key in " + Describe());
    std::string copy(data);  // copy outside the lock
    MutexLock l(&bucket_->mu);
    bucket_->objects[key].swap(copy);
    return Status::OK();
  }

  Status PutIfAbsent(const std::string& key, std::string_view data) override {
    if (key.empty()) return Status::InvalidArgument("empty object key in " + Describe());
    std::string copy(data);
    MutexLock l(&bucket_->mu);
    if (!bucket_->objects.emplace(key, std::move(copy)).second) {
      return Status::AlreadyExists("object " + key + " already exists in " + Describe());
    }
    return Status::OK();
  }

  Result<std::string> Get(const std::string& key, uint64_t offset, int64_t length) override {
    MutexLock l(&bucket_->mu);
    auto it = bucket_->objects.find(key);
    if (it == bucket_->objects.end()) return NotFound(key);
    const std::string& v = it->second;
    if (offset >= v.size()) return std::string();
    uint64_t n = v.size() - offset;
    if (length >= 0) n = std::min<uint64_t>(n, static_cast<uint64_t>(length));
    return v.substr(offset, n);
  }

  Result<ObjectInfo> Head(const std::string& key) override {
    MutexLock l(&bucket_->mu);
    auto it = bucket_->objects.find(key);
    if (it == bucket_->objects.end()) return NotFound(key);
    return ObjectInfo{key, it->second.size(), ""};
  }

  Status Delete(const std::string& key) override {
    MutexLock l(&bucket_->mu);
    bucket_->objects.erase(key);
    return Status::OK();
  }

  Result<ListPage> List(const std::string& prefix, const std::string& token,
                        int max_keys) override {
    max_keys = std::clamp(max_keys, 1, 1000);
    ListPage page;
    MutexLock l(&bucket_->mu);
    auto it = token.empty() || token < prefix ? bucket_->objects.lower_bound(prefix)
                                              : bucket_->objects.upper_bound(token);
    for (; it != bucket_->objects.end(); ++it) {
      if (it->first.compare(0, prefix.size(), prefix) != 0) break;
      if (page.objects.size() == static_cast<size_t>(max_keys)) {
        page.truncated = true;
        page.next_token = page.objects.back().key;
        break;
      }
      page.objects.push_back(ObjectInfo{it->first, it->second.size(), ""});
    }
    return page;
  }

  Status CreateBucket() override { return Status::OK(); }

  std::string Describe() const override { return "mem://" + name_; }
  std::string Location() const override { return "mem:" + location_; }

 private:
  Status NotFound(const std::string& key) const {
    return Status::NotFound("object " + key + " not found in " + Describe());
  }

  const std::string name_;
  const std::string location_;
  const std::shared_ptr<MemBucket> bucket_;
};

}  // namespace

std::unique_ptr<ObjectStore> OpenMemStore(const std::string& name) {
  static Mutex registry_mu;
  static auto* registry = new std::map<std::string, std::shared_ptr<MemBucket>>();
  std::shared_ptr<MemBucket> bucket;
  {
    MutexLock l(&registry_mu);
    auto& slot = (*registry)[name];
    if (!slot) slot = std::make_shared<MemBucket>();
    bucket = slot;
  }
  return std::make_unique<MemStore>(name, name, std::move(bucket));
}

std::unique_ptr<ObjectStore> NewMemStore() {
  auto bucket = std::make_shared<MemBucket>();
  char where[32];
  std::snprintf(where, sizeof where, "(private)@%p", static_cast<void*>(bucket.get()));
  return std::make_unique<MemStore>("(private)", where, std::move(bucket));
}

}  // namespace meridian::objstore
