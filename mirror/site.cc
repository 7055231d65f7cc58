#include "mirror/site.h"

#include <fcntl.h>
#include <glog/logging.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <nlohmann/json.hpp>
#include <vector>

#include "changelog/codec.h"
#include "meta/pg.h"
#include "meta/schema.h"
#include "meta/tenants.h"
#include "mirror/applier.h"

namespace meridian::mirror {
namespace {

using std::chrono::milliseconds;

constexpr milliseconds kPollTimeout{200};
// Pause before re-requesting the stream after a rejected frame, so a primary
// that keeps sending the same bad frame costs a log line a second, not a spin.
constexpr milliseconds kRetryPause{1000};
// Pause after a retryable error from the site link before polling it again.
constexpr milliseconds kLinkErrorPause{100};

Status WriteFileAtomically(const std::string& path, const std::string& data) {
  const std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Status::IOError("creating " + tmp + ": " + std::strerror(errno));
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      Status s = Status::IOError("writing " + tmp + ": " + std::strerror(errno));
      ::close(fd);
      return s;
    }
    done += static_cast<size_t>(n);
  }
  if (::close(fd) != 0) return Status::IOError("closing " + tmp + ": " + std::strerror(errno));
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    return Status::IOError("renaming " + tmp + " to " + path + ": " + std::strerror(errno));
  }
  return Status::OK();
}

Status CheckOptions(const MirrorSiteOptions& o) {
  if (o.stop == nullptr) return Status::InvalidArgument("mirror: no stop flag given");
  if (o.replica_conninfo.empty()) {
    return Status::InvalidArgument("mirror: no replica database given");
  }
  if (o.primary.empty()) return Status::InvalidArgument("mirror: no primary address given");
  for (const std::string& t : o.include) {
    if (t.empty() || t == "." || t == ".." || t.find('/') != std::string::npos ||
        t.find('\0') != std::string::npos) {
      return Status::InvalidArgument("mirror: bad tenant name '" + t +
                                     "' in the include list: give top-level directory names");
    }
  }
  return Status::OK();
}

}  // namespace

std::string StatusJson(const MirrorSiteOptions& o, const MirrorSiteStats& s) {
  const int64_t now_ns = OrRealClock(o.clock)->UnixNs();
  nlohmann::json lag = nullptr;
  if (s.connected && s.caught_up) {
    lag = 0.0;
  } else if (s.applied_time_ns > 0) {
    lag = std::max(0.0, (now_ns - s.applied_time_ns) / 1e9);
  }
  nlohmann::json j = {
      {"site", o.site_name},
      {"primary", o.primary},
      {"connected", s.connected},
      {"caught_up", s.caught_up},
      {"primary_head", s.primary_head},
      {"lag_entries", s.primary_head > s.applied_pos ? s.primary_head - s.applied_pos : 0},
      {"applied_pos", s.applied_pos},
      {"applied_time_ns", s.applied_time_ns},
      {"lag_seconds", lag},
      {"applied_changes", s.applied_changes},
      {"snapshot_pos", s.snapshot_pos},
      {"entries_applied", s.entries_applied},
      {"entries_skipped", s.entries_skipped},
      {"entries_filtered", s.entries_filtered},
      {"batches", s.batches},
      {"snapshots", s.snapshots},
      {"rejected_frames", s.rejected_frames},
      {"rejected_entries", s.rejected_entries},
      {"last_apply_unix_ns", s.last_apply_unix_ns},
      {"updated_unix_ns", now_ns}};
  // Never throws: a site name that is not UTF-8 comes out with U+FFFD.
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// One Run(): the replica connection, the site link and the loop state.
class MirrorSite::Session {
 public:
  Session(MirrorSite* site, std::unique_ptr<meta::PgConn> replica)
      : site_(site),
        o_(site->o_),
        clock_(OrRealClock(o_.clock)),
        replica_(std::move(replica)),
        applier_(replica_.get(), o_.include, o_.enqueue_blocks) {}

  Status Start();
  Status Loop();
  // Final status (file and stats()); called on every exit path after Start().
  void Finish();

 private:
  bool stopping() const { return o_.stop->load(); }
  Status OnBatch(const std::string& frame);
  Status OnSnapshotBegin(uint64_t pos);
  Status OnSnapshotChunk(const std::string& chunk);
  Status OnSnapshotEnd(uint64_t pos);
  // Drops any partial snapshot and asks for the stream after the replica's
  // applied position (read back from the replica: the only truth).
  Status Resubscribe(bool pause);
  // Re-reads the cursor from the replica: also how a lost replica is noticed
  // while the primary is quiet.
  Status RefreshState();
  void Tick(bool force);
  static bool ReplicaLost(const Status& s) { return s.code() == Code::kUnavailable; }

  MirrorSite* site_;
  const MirrorSiteOptions& o_;
  Clock* const clock_;
  std::unique_ptr<meta::PgConn> replica_;
  Applier applier_;
  std::unique_ptr<sitelink::StreamClient> client_;
  MirrorSiteStats st_;
  bool announced_caught_up_ = false;
  Clock::SteadyTime next_tick_{};

  struct Snapshot {
    bool active = false;
    uint64_t pos = 0;
    size_t chunks_received = 0;
    size_t bytes = 0;
    size_t kept = 0;  // chunks of tenants we carry, installed so far
    Clock::SteadyTime started;
  } snap_;
  std::unique_ptr<meta::PgConn> side_;  // for the link row while a snapshot installs
  // Forgets a snapshot being received and rolls back its installation.
  void DropSnapshot() {
    applier_.AbortSnapshot();
    snap_ = Snapshot{};
  }
};

Status MirrorSite::Session::Start() {
  MERIDIAN_RETURN_IF_ERROR(RefreshState());
  LOG(INFO) << "mirror " << o_.site_name << ": replica " << replica_->target() << " at position "
            << st_.applied_pos << "; following " << o_.primary
            << (o_.include.empty() ? std::string(" (all tenants)")
                                   : " (" + std::to_string(o_.include.size()) + " tenant(s))");
  sitelink::StreamClient::Options co;
  co.connect = o_.primary;
  co.server_public_key = o_.primary_public_key;
  co.client_keys = o_.keys;
  co.site_name = o_.site_name;
  // The volume this replica already follows (none yet: a new mirror): a
  // primary serving another volume must refuse us rather than feed us.
  MERIDIAN_ASSIGN_OR_RETURN(auto vol, replica_->Exec("SELECT uuid FROM volume"));
  if (vol.rows() > 0) co.volume_uuid = std::string(vol.Get(0, 0));
  co.credit = o_.credit;
  co.heartbeat = o_.heartbeat;
  co.peer_timeout = o_.peer_timeout;
  MERIDIAN_ASSIGN_OR_RETURN(client_,
                            o_.connect ? o_.connect(co) : sitelink::StreamClient::Connect(co));
  MERIDIAN_RETURN_IF_ERROR(client_->Subscribe(st_.applied_pos));
  Tick(/*force=*/true);
  return Status::OK();
}

Status MirrorSite::Session::RefreshState() {
  auto s = applier_.State();
  if (!s.ok()) return s.status().With("reading the replica's position");
  st_.applied_pos = s->applied_pos;
  st_.applied_time_ns = s->applied_time_ns;
  st_.applied_changes = s->applied_changes;
  st_.snapshot_pos = s->snapshot_pos;
  return Status::OK();
}

void MirrorSite::Session::Tick(bool force) {
  bool was = st_.connected;
  st_.connected = client_ && client_->connected();
  if (client_) st_.primary_head = client_->primary_head();
  if (st_.connected != was) {
    if (st_.connected) {
      LOG(INFO) << "mirror " << o_.site_name << ": connected to the primary " << o_.primary;
    } else {
      LOG(WARNING) << "mirror " << o_.site_name << ": lost the link to the primary " << o_.primary
                   << "; reconnecting";
    }
    announced_caught_up_ = false;
  }
  if (!st_.connected) st_.caught_up = false;
  site_->Publish(st_);
  const Clock::SteadyTime now = clock_->Now();
  if (!force && now < next_tick_) return;
  next_tick_ = now + o_.status_interval;
  // A lost replica shows up in RefreshState(); here it is only logged.
  // Inside a snapshot the connection holds the install's transaction (a
  // failed statement there would abort it, and the row would show only at
  // its commit): the link row goes through a second connection then, so
  // `meridian status` keeps seeing the daemon alive through a long install.
  if (!snap_.active || (side_ && side_->broken())) side_.reset();
  if (snap_.active && !side_) {
    auto c = meta::PgConn::Connect(o_.replica_conninfo);
    if (c.ok()) side_ = std::move(c).value();
  }
  meta::PgConn* conn = snap_.active ? side_.get() : replica_.get();
  Status link = Status::Unavailable("no second connection to the replica");
  if (conn != nullptr) {
    link = conn->Run(
        "INSERT INTO site_link (site_name, primary_addr, connected, primary_head, updated_at)"
        " VALUES ($1, $2, $3, $4, now()) ON CONFLICT (singleton) DO UPDATE SET"
        " site_name = $1, primary_addr = $2, connected = $3, primary_head = $4, updated_at = now()",
        {meta::Param::Text(o_.site_name), meta::Param::Text(o_.primary),
         meta::Param::Text(st_.connected ? "true" : "false"),
         meta::Param::Int(static_cast<int64_t>(st_.primary_head))});
  }
  if (!link.ok()) {
    LOG_EVERY_N(WARNING, 60) << "mirror: recording the link state: " << link.ToString();
  }
  if (o_.status_file.empty()) return;
  Status s = WriteFileAtomically(o_.status_file, StatusJson(o_, st_) + "\n");
  if (!s.ok()) {
    LOG_EVERY_N(WARNING, 60) << "mirror: status file: " << s.ToString();
  }
}

Status MirrorSite::Session::Resubscribe(bool pause) {
  DropSnapshot();
  if (pause) clock_->SleepFor(kRetryPause, o_.stop);
  MERIDIAN_RETURN_IF_ERROR(RefreshState());
  return client_->Subscribe(st_.applied_pos);
}

Status MirrorSite::Session::OnBatch(const std::string& frame) {
  st_.caught_up = false;
  if (snap_.active) {  // the client restarted the session under us
    LOG(WARNING) << "mirror: a batch arrived inside snapshot " << snap_.pos << "; discarding it";
    DropSnapshot();
  }
  auto changes = changelog::DecodeBatch(frame);
  if (!changes.ok()) {
    ++st_.rejected_frames;
    LOG(ERROR) << "mirror " << o_.site_name << ": rejected a batch from " << o_.primary << " ("
               << frame.size() << " bytes): " << changes.status().ToString()
               << "; nothing applied, re-requesting the log after " << st_.applied_pos;
    return Resubscribe(/*pause=*/true);
  }
  if (changes->empty()) return Status::OK();
  if (o_.before_apply) {
    std::vector<changelog::Change> pending;
    for (const auto& ch : *changes) {
      if (ch.pos > st_.applied_pos && applier_.Carries(ch.tenant)) pending.push_back(ch);
    }
    MERIDIAN_RETURN_IF_ERROR(
        o_.before_apply(pending).With("making the data of a batch local before applying it"));
  }
  const uint64_t rejected_before = applier_.rejected();
  auto applied = applier_.Apply(*changes);
  if (!applied.ok()) {
    if (applier_.rejected() != rejected_before) {  // fenced (logged): nothing applied
      ++st_.rejected_entries;
      return Resubscribe(/*pause=*/true);
    }
    if (applied.status().code() == Code::kFailedPrecondition) {  // a gap: ask again
      LOG(WARNING) << "mirror: " << applied.status().ToString();
      return Resubscribe(/*pause=*/false);
    }
    return applied.status().With("applying to the replica " + replica_->target());
  }
  const changelog::Change& last = changes->back();
  ++st_.batches;
  st_.entries_applied += applied->applied;
  st_.entries_skipped += applied->skipped;
  st_.entries_filtered += applied->filtered;
  if (applied->applied + applied->filtered > 0) {
    st_.applied_pos = last.pos;
    st_.applied_time_ns = last.commit_time_ns;
    st_.applied_changes += applied->applied + applied->filtered;
    st_.last_apply_unix_ns = clock_->UnixNs();
  }
  VLOG(1) << "mirror: applied " << changes->front().pos << ".." << last.pos << " ("
          << applied->applied << " applied, " << applied->skipped << " skipped, "
          << applied->filtered << " other tenants)";
  return client_->Ack(last.pos);
}

Status MirrorSite::Session::OnSnapshotBegin(uint64_t pos) {
  if (snap_.active) LOG(WARNING) << "mirror: snapshot " << snap_.pos << " restarted";
  DropSnapshot();
  // Installed as it arrives, in one replica transaction (bounded memory);
  // readers see the old namespace until the end.
  MERIDIAN_RETURN_IF_ERROR(applier_.BeginSnapshot().With("in the replica " + replica_->target()));
  snap_.active = true;
  snap_.pos = pos;
  snap_.started = clock_->Now();
  st_.caught_up = false;
  LOG(INFO) << "mirror " << o_.site_name << ": the primary no longer holds the log after "
            << st_.applied_pos << "; receiving a snapshot at position " << pos;
  return Status::OK();
}

Status MirrorSite::Session::OnSnapshotChunk(const std::string& chunk) {
  if (!snap_.active) return Status::OK();  // the client drops strays; be safe
  ++snap_.chunks_received;
  auto ch = changelog::DecodeChange(chunk);
  Status bad = !ch.ok() ? ch.status()
               : ch->pos != snap_.pos
                   ? Status::Corruption("chunk for position " + std::to_string(ch->pos) +
                                        " inside snapshot " + std::to_string(snap_.pos))
                   : Status::OK();
  if (!bad.ok()) {
    ++st_.rejected_frames;
    LOG(ERROR) << "mirror " << o_.site_name << ": rejected snapshot chunk "
               << snap_.chunks_received - 1 << " of snapshot " << snap_.pos << ": "
               << bad.ToString() << "; discarding the snapshot and asking again";
    return Resubscribe(/*pause=*/true);
  }
  if (!applier_.Carries(ch->tenant)) return Status::OK();  // a tenant we do not carry
  if (o_.before_apply) {
    MERIDIAN_RETURN_IF_ERROR(o_.before_apply({*ch}).With("making the data of snapshot " +
                                                         std::to_string(snap_.pos) +
                                                         " local before installing it"));
  }
  MERIDIAN_RETURN_IF_ERROR(
      applier_.AddSnapshotChunk(snap_.pos, *ch).With("in the replica " + replica_->target()));
  snap_.bytes += chunk.size();
  ++snap_.kept;
  return Status::OK();
}

Status MirrorSite::Session::OnSnapshotEnd(uint64_t pos) {
  if (!snap_.active || snap_.pos != pos) {
    LOG(WARNING) << "mirror: end of snapshot " << pos << " without its beginning; asking again";
    return Resubscribe(/*pause=*/false);
  }
  Status s = applier_.FinishSnapshot(pos);
  if (!s.ok()) return s.With("in the replica " + replica_->target());
  const double secs = std::chrono::duration<double>(clock_->Now() - snap_.started).count();
  LOG(INFO) << "mirror " << o_.site_name << ": installed the snapshot at position " << pos << " ("
            << snap_.kept << " of " << snap_.chunks_received << " chunks kept, " << snap_.bytes
            << " bytes) in " << secs << " s";
  snap_ = Snapshot{};
  ++st_.snapshots;
  // A new replica now follows the snapshot's volume: say so from now on.
  MERIDIAN_ASSIGN_OR_RETURN(auto vol, replica_->Exec("SELECT uuid FROM volume"));
  if (vol.rows() > 0) client_->SetVolume(std::string(vol.Get(0, 0)));
  st_.last_apply_unix_ns = clock_->UnixNs();
  MERIDIAN_RETURN_IF_ERROR(RefreshState());
  return client_->Ack(pos);
}

Status MirrorSite::Session::Loop() {
  while (!stopping()) {
    auto ev = client_->Next(kPollTimeout);
    if (!ev.ok()) {
      if (stopping()) break;  // e.g. EINTR from the signal that asked us to stop
      if (!ev.status().retryable()) return ev.status().With("site link to " + o_.primary);
      LOG_EVERY_N(WARNING, 10) << "mirror: site link: " << ev.status().ToString();
      clock_->SleepFor(kLinkErrorPause, o_.stop);
      continue;
    }
    Status s;
    switch (ev->kind) {
      case sitelink::StreamClient::Event::kBatch:
        s = OnBatch(ev->frame);
        break;
      case sitelink::StreamClient::Event::kSnapshotBegin:
        s = OnSnapshotBegin(ev->pos);
        break;
      case sitelink::StreamClient::Event::kSnapshotChunk:
        s = OnSnapshotChunk(ev->frame);
        break;
      case sitelink::StreamClient::Event::kSnapshotEnd:
        s = OnSnapshotEnd(ev->pos);
        break;
      case sitelink::StreamClient::Event::kNone:
        // Connected, not inside a snapshot, and nothing came for a while
        // although we have credit: the primary has nothing more to send.
        if (client_->connected() && !snap_.active) {
          st_.caught_up = true;
          if (!announced_caught_up_) {
            LOG(INFO) << "mirror " << o_.site_name << ": caught up at position " << st_.applied_pos;
            announced_caught_up_ = true;
          }
        }
        break;
    }
    // (Inside a snapshot the replica's connection holds its transaction.)
    if (s.ok() && !snap_.active && clock_->Now() >= next_tick_) s = RefreshState();
    if (s.IsAborted() && s.retryable()) {
      // A transaction conflict on the replica outlasted the applier's
      // retries (or hit a snapshot install, which cannot be rerun alone):
      // it was rolled back, and the replica and its connection are fine.
      LOG(WARNING) << "mirror " << o_.site_name << ": " << s.ToString()
                   << "; asking again for the log after " << st_.applied_pos;
      s = Resubscribe(/*pause=*/true);
    }
    if (!s.ok()) {
      if (ReplicaLost(s)) {
        LOG(ERROR) << "mirror " << o_.site_name << ": lost the replica database: " << s.ToString();
      }
      return s;
    }
    Tick(/*force=*/false);
  }
  LOG(INFO) << "mirror " << o_.site_name << ": stopping at position " << st_.applied_pos;
  return Status::OK();
}

void MirrorSite::Session::Finish() {
  DropSnapshot();        // roll back a half-installed snapshot
  (void)RefreshState();  // best effort: the replica may be what failed
  if (client_) st_.primary_head = client_->primary_head();
  client_.reset();  // the daemon is leaving: record the link as down
  Tick(/*force=*/true);
}

Status MirrorSite::Run() {
  MERIDIAN_RETURN_IF_ERROR(CheckOptions(o_));
  auto replica = meta::PgConn::Connect(o_.replica_conninfo);
  if (!replica.ok()) return replica.status().With("connecting to the mirror's replica database");
  meta::PgConn* c = replica->get();
  MERIDIAN_RETURN_IF_ERROR(meta::Migrate(c));
  // A replica's volume row arrives with the log (SetVolume); a primary's was
  // written by `format`. Never apply a log over a primary.
  MERIDIAN_ASSIGN_OR_RETURN(auto role, c->Exec("SELECT role FROM volume"));
  if (role.rows() > 0 && role.Get(0, 0) == "primary") {
    return Status::FailedPrecondition("the database " + c->target() +
                                      " is a primary; give the mirror its own database");
  }
  // This site's name, which fencing compares with each tenant's owner: a
  // mirror named like an owner would take that owner's writes.
  MERIDIAN_ASSIGN_OR_RETURN(auto root, meta::GetTenant(c, meta::kRootTenantId));
  if (root && root->owner == o_.site_name) {
    return Status::InvalidArgument("site name '" + o_.site_name +
                                   "' is the name of the volume's home site: give this mirror "
                                   "its own --name");
  }
  MERIDIAN_RETURN_IF_ERROR(meta::SetSiteSelf(c, o_.site_name).With("recording this site's name"));
  Session session(this, std::move(replica).value());
  Status s = session.Start();
  if (s.ok()) s = session.Loop();
  session.Finish();
  return s;
}

}  // namespace meridian::mirror
