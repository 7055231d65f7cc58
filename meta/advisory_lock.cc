#include "meta/advisory_lock.h"

namespace meridian::meta {

Result<bool> TryAdvisoryLock(PgConn* c, int32_t k1, int32_t k2) {
  MERIDIAN_ASSIGN_OR_RETURN(auto r, c->Exec("SELECT pg_try_advisory_lock($1::int4, $2::int4)",
                                            {Param::Int(k1), Param::Int(k2)}));
  return r.Get(0, 0) == "t";
}

Status AdvisoryUnlock(PgConn* c, int32_t k1, int32_t k2) {
  return c->Run("SELECT pg_advisory_unlock($1::int4, $2::int4)", {Param::Int(k1), Param::Int(k2)});
}

}  // namespace meridian::meta
