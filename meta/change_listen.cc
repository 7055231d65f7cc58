#include "meta/change_listen.h"

namespace meridian::meta {

Status ListenForChanges(PgConn* c) {
  return c->RunScript("LISTEN meridian_applied; LISTEN meridian_changelog");
}

Status CheckAlive(PgConn* c) { return c->Run("SELECT 1"); }

}  // namespace meridian::meta
