#include "sitelink/fake_stream.h"

#include <utility>

namespace meridian::sitelink {

class FakeLink::Client final : public StreamClient {
 public:
  explicit Client(std::shared_ptr<State> s) : s_(std::move(s)) {}

  Status Subscribe(uint64_t after) override {
    Record({Call::kSubscribe, after, {}});
    return Status::OK();
  }
  // Waits (real time) up to `timeout` for a pushed event: a daemon polling
  // an empty script costs nothing, and a Push wakes it at once.
  Result<Event> Next(std::chrono::milliseconds timeout) override {
    std::unique_lock<std::mutex> l(s_->mu);
    ++s_->next_calls;
    s_->changed.notify_all();
    s_->changed.wait_for(l, timeout, [&] { return !s_->events.empty(); });
    if (s_->events.empty()) return Event{};
    Result<Event> e = std::move(s_->events.front());
    s_->events.pop_front();
    s_->changed.notify_all();
    return e;
  }
  Status Ack(uint64_t pos) override {
    std::function<void(uint64_t)> hook;
    {
      std::lock_guard<std::mutex> l(s_->mu);
      hook = s_->on_ack;
    }
    if (hook) hook(pos);
    Record({Call::kAck, pos, {}});
    return Status::OK();
  }
  void SetVolume(const std::string& uuid) override { Record({Call::kSetVolume, 0, uuid}); }
  bool connected() const override {
    std::lock_guard<std::mutex> l(s_->mu);
    return s_->connected;
  }
  uint64_t primary_head() const override {
    std::lock_guard<std::mutex> l(s_->mu);
    return s_->primary_head;
  }

 private:
  void Record(Call c) {
    std::lock_guard<std::mutex> l(s_->mu);
    s_->calls.push_back(std::move(c));
    s_->changed.notify_all();
  }
  std::shared_ptr<State> s_;
};

StreamClientFactory FakeLink::Connector() const {
  std::shared_ptr<State> s = state_;
  return [s](const StreamClient::Options& o) -> Result<std::unique_ptr<StreamClient>> {
    std::lock_guard<std::mutex> l(s->mu);
    ++s->connects;
    s->options = o;
    s->changed.notify_all();
    if (!s->connect_failures.empty()) {
      Status f = s->connect_failures.front();
      s->connect_failures.erase(s->connect_failures.begin());
      return f;
    }
    return std::unique_ptr<StreamClient>(std::make_unique<Client>(s));
  };
}

void FakeLink::Push(StreamClient::Event e) {
  std::lock_guard<std::mutex> l(state_->mu);
  state_->events.emplace_back(std::move(e));
  state_->changed.notify_all();
}

void FakeLink::PushBatch(std::string frame) {
  StreamClient::Event e;
  e.kind = StreamClient::Event::kBatch;
  e.frame = std::move(frame);
  Push(std::move(e));
}

void FakeLink::PushError(Status s) {
  std::lock_guard<std::mutex> l(state_->mu);
  state_->events.emplace_back(std::move(s));
  state_->changed.notify_all();
}

void FakeLink::FailNextConnect(Status s) {
  std::lock_guard<std::mutex> l(state_->mu);
  state_->connect_failures.push_back(std::move(s));
}

void FakeLink::set_connected(bool c) {
  std::lock_guard<std::mutex> l(state_->mu);
  state_->connected = c;
}

void FakeLink::set_primary_head(uint64_t h) {
  std::lock_guard<std::mutex> l(state_->mu);
  state_->primary_head = h;
}

void FakeLink::set_on_ack(std::function<void(uint64_t)> f) {
  std::lock_guard<std::mutex> l(state_->mu);
  state_->on_ack = std::move(f);
}

std::vector<FakeLink::Call> FakeLink::calls() const {
  std::lock_guard<std::mutex> l(state_->mu);
  return state_->calls;
}

std::vector<uint64_t> FakeLink::acks() const {
  std::vector<uint64_t> r;
  for (const Call& c : calls()) {
    if (c.kind == Call::kAck) r.push_back(c.pos);
  }
  return r;
}

std::vector<uint64_t> FakeLink::subscribes() const {
  std::vector<uint64_t> r;
  for (const Call& c : calls()) {
    if (c.kind == Call::kSubscribe) r.push_back(c.pos);
  }
  return r;
}

int FakeLink::connects() const {
  std::lock_guard<std::mutex> l(state_->mu);
  return state_->connects;
}

uint64_t FakeLink::next_calls() const {
  std::lock_guard<std::mutex> l(state_->mu);
  return state_->next_calls;
}

size_t FakeLink::pending() const {
  std::lock_guard<std::mutex> l(state_->mu);
  return state_->events.size();
}

StreamClient::Options FakeLink::last_options() const {
  std::lock_guard<std::mutex> l(state_->mu);
  return state_->options;
}

// `done` reads the state through the accessors (which lock), so it runs
// unlocked; the wait, capped at 20 ms, only paces it by the fake's activity.
bool FakeLink::WaitUntil(const std::function<bool()>& done, std::chrono::milliseconds limit) const {
  const auto until = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= until) return done();
    std::unique_lock<std::mutex> l(state_->mu);
    state_->changed.wait_for(l, std::chrono::milliseconds(20));
  }
  return true;
}

class FakePrimaryLink::Server final : public StreamServer {
 public:
  explicit Server(std::shared_ptr<State> s) : s_(std::move(s)) {}
  ~Server() override {
    std::lock_guard<std::mutex> l(s_->mu);
    s_->running = false;
    s_->changed.notify_all();
  }
  std::string endpoint() const override { return "fake://primary"; }
  void Notify() override {
    std::lock_guard<std::mutex> l(s_->mu);
    ++s_->notifies;
    s_->changed.notify_all();
  }
  std::vector<MirrorState> Mirrors() const override {
    std::lock_guard<std::mutex> l(s_->mu);
    ++s_->mirrors_calls;
    s_->changed.notify_all();
    return s_->mirrors;
  }

 private:
  std::shared_ptr<State> s_;
};

StreamServerFactory FakePrimaryLink::Starter() const {
  std::shared_ptr<State> s = state_;
  return [s](const StreamServer::Options& o,
             LogSource* source) -> Result<std::unique_ptr<StreamServer>> {
    std::lock_guard<std::mutex> l(s->mu);
    ++s->starts;
    s->options = o;
    s->source = source;
    s->running = true;
    s->changed.notify_all();
    return std::unique_ptr<StreamServer>(std::make_unique<Server>(s));
  };
}

void FakePrimaryLink::set_mirrors(std::vector<MirrorState> m) {
  std::lock_guard<std::mutex> l(state_->mu);
  state_->mirrors = std::move(m);
}

int FakePrimaryLink::starts() const {
  std::lock_guard<std::mutex> l(state_->mu);
  return state_->starts;
}

uint64_t FakePrimaryLink::notifies() const {
  std::lock_guard<std::mutex> l(state_->mu);
  return state_->notifies;
}

uint64_t FakePrimaryLink::mirrors_calls() const {
  std::lock_guard<std::mutex> l(state_->mu);
  return state_->mirrors_calls;
}

StreamServer::Options FakePrimaryLink::last_options() const {
  std::lock_guard<std::mutex> l(state_->mu);
  return state_->options;
}

LogSource* FakePrimaryLink::source() const {
  std::lock_guard<std::mutex> l(state_->mu);
  return state_->source;
}

bool FakePrimaryLink::running() const {
  std::lock_guard<std::mutex> l(state_->mu);
  return state_->running;
}

bool FakePrimaryLink::WaitUntil(const std::function<bool()>& done,
                                std::chrono::milliseconds limit) const {
  const auto until = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= until) return done();
    std::unique_lock<std::mutex> l(state_->mu);
    state_->changed.wait_for(l, std::chrono::milliseconds(20));
  }
  return true;
}

}  // namespace meridian::sitelink
