#include "primary/gc.h"

#include <glog/logging.h>

#include <limits>

#include "common/block.h"

namespace meridian::primary {

using meta::Param;

Result<GcReport> CollectGarbage(meta::PgConn* c, const GcOptions& o) {
  if (o.store == nullptr) return Status::InvalidArgument("gc: no bucket");
  GcReport rep;
  MERIDIAN_ASSIGN_OR_RETURN(auto m,
                            c->Exec("SELECT name, acked_pos FROM site_mirrors WHERE acked_pos >= 0"
                                    " ORDER BY acked_pos, name LIMIT 1"));
  const bool any_mirror = m.rows() > 0;
  int64_t horizon = std::numeric_limits<int64_t>::max();
  if (any_mirror) {
    rep.slowest_mirror = std::string(m.Get(0, 0));
    horizon = m.GetInt(0, 1);
    rep.horizon = static_cast<uint64_t>(horizon);
  }
  const Param wait = Param::Int(o.max_wait.count());
  MERIDIAN_ASSIGN_OR_RETURN(auto held,
                            c->Exec("SELECT count(*) FROM deleted_blocks WHERE freed_pos > $1"
                                    " AND deleted_at > now() - $2::float8 * interval '1 second'",
                                    {Param::Int(horizon), wait}));
  rep.waiting = static_cast<uint64_t>(held.GetInt(0, 0));
  int64_t after = -1;
  while (o.limit == 0 || rep.deleted + rep.failed < o.limit) {
    MERIDIAN_ASSIGN_OR_RETURN(
        auto r,
        c->Exec("SELECT id, stored_len, freed_pos > $1 FROM deleted_blocks"
                " WHERE id > $3 AND ((freed_pos <= $1 AND deleted_at <="
                " now() - $4::float8 * interval '1 second') OR"
                " deleted_at <= now() - $2::float8 * interval '1 second')"
                " ORDER BY id LIMIT 1000",
                {Param::Int(horizon), wait, Param::Int(after), Param::Int(o.min_age.count())}));
    if (r.rows() == 0) break;
    std::vector<int64_t> done;
    for (int i = 0; i < r.rows(); ++i) {
      const int64_t id = r.GetInt(i, 0);
      after = id;
      if (!o.dry_run) {
        Status s = o.store->Delete(BlockKey(o.volume, static_cast<uint64_t>(id)));
        if (!s.ok() && !s.IsNotFound()) {
          ++rep.failed;
          LOG_EVERY_N(WARNING, 20) << "gc: block " << id << ": " << s.ToString();
          continue;
        }
      }
      done.push_back(id);
      ++rep.deleted;
      rep.deleted_bytes += static_cast<uint64_t>(r.GetInt(i, 1));
      if (r.Get(i, 2) == "t") ++rep.forced;
    }
    if (!o.dry_run && !done.empty()) {
      MERIDIAN_RETURN_IF_ERROR(c->Run("DELETE FROM deleted_blocks WHERE id = ANY($1::bigint[])",
                                      {Param::IntArray(done)}));
    }
  }
  return rep;
}

}  // namespace meridian::primary
