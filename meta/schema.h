// The namespace schema in PostgreSQL and its migrations.
//
// The same schema serves a primary site and a mirror's replica. Migrations are
// numbered; `meridian_schema` records the applied version. Migrate() applies the
// missing ones in order, each in its own transaction, under an advisory lock so
// two processes never migrate at once. A database newer than this binary is
// refused (FailedPrecondition) rather than misread. docs/metadata.md describes
// every table.
// Thread-safety: functions take the connection they use; no shared state.
#pragma once

#include "common/status.h"
#include "meta/pg.h"

namespace meridian::meta {

// The schema version this binary writes and reads.
int CurrentSchemaVersion();

// The version the database is at (0 if it holds no Meridian schema).
Result<int> SchemaVersion(PgConn* c);

// Brings the database to CurrentSchemaVersion().
Status Migrate(PgConn* c);

}  // namespace meridian::meta
