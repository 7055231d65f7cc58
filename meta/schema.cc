#include "meta/schema.h"

#include <glog/logging.h>

#include <string>
#include <vector>

namespace meridian::meta {
namespace {

// Append-only: never edit a migration that has shipped; add a new one.
// (check_sizes: data table)
const std::vector<std::string>& Migrations() {
  static const std::vector<std::string> kMigrations = {
      // v1: volume, inodes, dentries, blocks, block GC queue, write serializer, change log.
      R"sql(
CREATE TABLE volume (
  singleton   boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  name        text    NOT NULL,
  uuid        text    NOT NULL,
  bucket      text    NOT NULL,
  endpoint    text    NOT NULL DEFAULT '',
  block_size  integer NOT NULL,
  compression text    NOT NULL,
  role        text    NOT NULL CHECK (role IN ('primary', 'mirror')),
  created_at  timestamptz NOT NULL DEFAULT now()
);
-- Every namespace mutation increments `head` first: the row lock makes
-- writers commit one at a time, and `head` is the position of the newest
-- change-log entry (a rolled-back mutation rolls its increment back).
CREATE TABLE write_lock (
  singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  head      bigint  NOT NULL DEFAULT 0
);
INSERT INTO write_lock DEFAULT VALUES;
-- The change log: one row per committed mutation, positions 1, 2, 3, ...
-- `body` is a changelog::Change encoded as in docs/changelog-format.md.
-- A mirror's position in the primary's log. It is updated in the same
-- transaction as the changes it covers, so a crash resumes exactly once.
CREATE TABLE site_state (
  singleton       boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  applied_pos     bigint  NOT NULL DEFAULT 0,
  applied_time_ns bigint  NOT NULL DEFAULT 0,  -- commit time of that entry at the primary
  applied_changes bigint  NOT NULL DEFAULT 0,  -- entries applied (each exactly once)
  snapshot_pos    bigint  NOT NULL DEFAULT 0   -- position of the last snapshot installed
);
INSERT INTO site_state DEFAULT VALUES;
-- At a primary: what the site-link server last knew of each mirror.
CREATE TABLE site_mirrors (
  public_key text   PRIMARY KEY,
  name       text   NOT NULL,
  acked_pos  bigint NOT NULL,
  connected  boolean NOT NULL,
  last_seen  timestamptz NOT NULL
);
CREATE TABLE changelog (
  pos            bigint PRIMARY KEY,
  commit_time_ns bigint NOT NULL,
  tenant         bytea  NOT NULL,
  body           bytea  NOT NULL
);
CREATE SEQUENCE inode_seq START 2;  -- inode 1 is the root directory
CREATE SEQUENCE block_seq START 1;
CREATE TABLE inodes (
  ino      bigint   PRIMARY KEY,
  kind     smallint NOT NULL CHECK (kind IN (1, 2, 3)),  -- 1 file, 2 dir, 3 symlink
  mode     integer  NOT NULL,
  uid      integer  NOT NULL DEFAULT 0,
  gid      integer  NOT NULL DEFAULT 0,
  size     bigint   NOT NULL DEFAULT 0,
  mtime_ns bigint   NOT NULL,
  ctime_ns bigint   NOT NULL,
  nlink    integer  NOT NULL,
  target   bytea                                    -- symlink target
);
INSERT INTO inodes (ino, kind, mode, mtime_ns, ctime_ns, nlink)
  VALUES (1, 2, 493, (extract(epoch FROM now()) * 1e9)::bigint,
          (extract(epoch FROM now()) * 1e9)::bigint, 2);
CREATE TABLE dentries (
  parent bigint   NOT NULL REFERENCES inodes (ino),
  name   bytea    NOT NULL CHECK (length(name) BETWEEN 1 AND 255),
  ino    bigint   NOT NULL REFERENCES inodes (ino),
  kind   smallint NOT NULL,
  PRIMARY KEY (parent, name)
);
CREATE INDEX dentries_ino ON dentries (ino);
CREATE TABLE blocks (
  ino        bigint   NOT NULL REFERENCES inodes (ino) ON DELETE CASCADE,
  idx        integer  NOT NULL,
  id         bigint   NOT NULL UNIQUE,
  len        integer  NOT NULL,
  stored_len integer  NOT NULL,
  comp       smallint NOT NULL,
  sha256     bytea    NOT NULL CHECK (length(sha256) = 32),
  PRIMARY KEY (ino, idx)
);
-- Blocks no file references any more; their objects are deleted later by GC.
CREATE TABLE deleted_blocks (
  id         bigint  PRIMARY KEY,
  stored_len integer NOT NULL,
  deleted_at timestamptz NOT NULL DEFAULT now()
);
)sql",
      // v2: at a mirror, the daemon's view of its link to the primary (for
      // `meridian status` at the mirror), rewritten about once a second.
      R"sql(
CREATE TABLE site_link (
  singleton    boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  site_name    text    NOT NULL,
  primary_addr text    NOT NULL,
  connected    boolean NOT NULL,
  primary_head bigint  NOT NULL,  -- newest position the primary announced
  updated_at   timestamptz NOT NULL DEFAULT now()
);
)sql",
      // v3: at a mirror with its own bucket (--data replicate): the blocks still
      // to copy, and the blocks verified in the mirror's bucket. At a primary:
      // the log position that freed each block (GC waits for mirrors' acks).
      R"sql(
ALTER TABLE deleted_blocks ADD COLUMN freed_pos bigint NOT NULL DEFAULT 0;
-- Blocks freed before v3: as if freed now, so GC still waits for the mirrors.
UPDATE deleted_blocks SET freed_pos = coalesce((SELECT head FROM write_lock), 0);
CREATE TABLE replication_queue (
  id              bigint PRIMARY KEY,        -- a block id (blocks.id)
  pos             bigint NOT NULL DEFAULT 0, -- first log position that may reference it
  enqueued_at     timestamptz NOT NULL DEFAULT now(),
  attempts        integer NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  last_error      text
);
CREATE INDEX replication_queue_next ON replication_queue (next_attempt_at, id);
CREATE TABLE replicated_blocks (
  id            bigint PRIMARY KEY,
  stored_len    integer NOT NULL,
  copies        integer NOT NULL DEFAULT 0,  -- times downloaded and uploaded (1 normally)
  replicated_at timestamptz NOT NULL DEFAULT now()
);
-- The mirror's data set-up, written by the daemon (never credentials).
CREATE TABLE site_data (
  singleton  boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  mode       text    NOT NULL CHECK (mode IN ('metadata', 'replicate', 'cache')),  -- --data
  bucket     text    NOT NULL DEFAULT '',
  visibility   text    NOT NULL DEFAULT 'metadata' CHECK (visibility IN ('metadata', 'data')),
  fill_on_read boolean NOT NULL DEFAULT false,  -- readers store fallback reads here
  primary_bucket text  NOT NULL DEFAULT '',     -- the primary's bucket as this site reaches it
  cache_group  text    NOT NULL DEFAULT '',     -- --data cache: node endpoints, comma-separated
  cache_key    text    NOT NULL DEFAULT '',     -- --data cache: the nodes' CURVE public key (Z85)
  updated_at timestamptz NOT NULL DEFAULT now()
);
)sql",
      // v4: the site's daemon says it runs (`meridian primary` at a primary),
      // rewritten about once a second and removed when it stops, so that
      // `meridian status` can tell a stopped daemon from an idle link.
      R"sql(
CREATE TABLE site_daemon (
  singleton  boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  role       text    NOT NULL,
  endpoint   text    NOT NULL,
  started_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
)sql",
      // v5: tenants (top-level directories) with their own logs, owners and
      // epochs (docs/tenants.md). Nothing is renumbered: every change-log row
      // so far belongs to the root tenant's log at its global position, so
      // the root's log is the old log and a mirror keeps following it.
      R"sql(
-- This site's name (a primary that predates v5 is 'home'; a mirror's daemon
-- writes its --name here when it starts).
CREATE TABLE site_self (
  singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  name      text    NOT NULL
);
INSERT INTO site_self (name) SELECT coalesce((SELECT site_name FROM site_link), 'home');
-- One row per tenant: tenant_id is the inode of its top-level directory (the
-- same at every site), 1 is the root (the root directory itself and every
-- top-level entry). `head` is the newest position of the tenant's log in
-- this database: written here at its owner, applied here at a follower.
CREATE TABLE tenants (
  tenant_id bigint PRIMARY KEY CHECK (tenant_id >= 1),
  owner     text   NOT NULL,
  epoch     bigint NOT NULL DEFAULT 1 CHECK (epoch >= 1),
  state     text   NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'frozen')),
  head      bigint NOT NULL DEFAULT 0 CHECK (head >= 0)
);
INSERT INTO tenants (tenant_id, owner, head)
  SELECT 1, 'home', greatest((SELECT head FROM write_lock), (SELECT applied_pos FROM site_state));
INSERT INTO tenants (tenant_id, owner)
  SELECT ino, 'home' FROM dentries WHERE parent = 1 AND kind = 2;
-- A top-level directory is a tenant: its row appears with its entry (owned
-- by the root's owner, epoch 1, an empty log) and goes with its inode. The
-- same triggers run where a mutation is written and where it is applied, so
-- every site derives the same rows from the same log.
CREATE FUNCTION meridian_tenant_made() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO tenants (tenant_id, owner) SELECT NEW.ino, owner FROM tenants WHERE tenant_id = 1
    ON CONFLICT (tenant_id) DO NOTHING;
  RETURN NULL;
END $$;
CREATE TRIGGER tenant_made AFTER INSERT OR UPDATE ON dentries
  FOR EACH ROW WHEN (NEW.parent = 1 AND NEW.kind = 2) EXECUTE FUNCTION meridian_tenant_made();
CREATE FUNCTION meridian_tenant_gone() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM tenants WHERE tenant_id = OLD.ino;
  RETURN NULL;
END $$;
CREATE TRIGGER tenant_gone AFTER DELETE ON inodes
  FOR EACH ROW WHEN (OLD.kind = 2 AND OLD.ino <> 1) EXECUTE FUNCTION meridian_tenant_gone();
-- Every entry names its tenant's log, its position there and its epoch.
ALTER TABLE changelog ADD COLUMN tenant_id bigint NOT NULL DEFAULT 1,
                      ADD COLUMN tenant_pos bigint,
                      ADD COLUMN epoch bigint NOT NULL DEFAULT 1;
UPDATE changelog SET tenant_pos = pos;
ALTER TABLE changelog ALTER COLUMN tenant_pos SET NOT NULL;
CREATE UNIQUE INDEX changelog_tenant_pos ON changelog (tenant_id, tenant_pos);
)sql",
  };
  return kMigrations;
}

}  // namespace

int CurrentSchemaVersion() { return static_cast<int>(Migrations().size()); }

Result<int> SchemaVersion(PgConn* c) {
  MERIDIAN_ASSIGN_OR_RETURN(auto r, c->Exec("SELECT to_regclass('meridian_schema') IS NOT NULL"));
  if (r.Get(0, 0) != "t") return 0;
  MERIDIAN_ASSIGN_OR_RETURN(auto v,
                            c->Exec("SELECT coalesce(max(version), 0) FROM meridian_schema"));
  return static_cast<int>(v.GetInt(0, 0));
}

Status Migrate(PgConn* c) {
  // One migrator at a time per database; the lock ends with the session.
  MERIDIAN_RETURN_IF_ERROR(c->Run("SELECT pg_advisory_lock(7310465)"));
  auto unlock = [&] { (void)c->Run("SELECT pg_advisory_unlock(7310465)"); };
  Status st = c->Run(
      "CREATE TABLE IF NOT EXISTS meridian_schema (version integer PRIMARY KEY, "
      "applied_at timestamptz NOT NULL DEFAULT now())");
  Result<int> have = st.ok() ? SchemaVersion(c) : Result<int>(st);
  if (!have.ok()) {
    unlock();
    return have.status();
  }
  if (*have > CurrentSchemaVersion()) {
    unlock();
    return Status::FailedPrecondition(
        "metadata schema version " + std::to_string(*have) + " is newer than this binary (" +
        std::to_string(CurrentSchemaVersion()) + "): upgrade meridian");
  }
  for (int v = *have + 1; v <= CurrentSchemaVersion() && st.ok(); ++v) {
    st = InTransaction(
        c,
        [&] {
          MERIDIAN_RETURN_IF_ERROR(c->RunScript(Migrations()[v - 1]));
          return c->Run("INSERT INTO meridian_schema (version) VALUES ($1)", {Param::Int(v)});
        },
        1);
    if (st.ok()) LOG(INFO) << "metadata schema migrated to version " << v;
  }
  unlock();
  return st.With("migrating metadata schema");
}

}  // namespace meridian::meta
