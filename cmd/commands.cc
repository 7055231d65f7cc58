// The command table: names, help text and the flags each verb reads.
#include "cmd/cli.h"

namespace meridian::cli {

int RunFormat(const std::vector<std::string>&);
int RunImport(const std::vector<std::string>&);
int RunLs(const std::vector<std::string>&);
int RunStat(const std::vector<std::string>&);
int RunCat(const std::vector<std::string>&);
int RunMkdir(const std::vector<std::string>&);
int RunMv(const std::vector<std::string>&);
int RunRm(const std::vector<std::string>&);
int RunLn(const std::vector<std::string>&);
int RunKeygen(const std::vector<std::string>&);
int RunPrimaryDaemon(const std::vector<std::string>&);
int RunStatus(const std::vector<std::string>&);
int RunVerify(const std::vector<std::string>&);
int RunMirror(const std::vector<std::string>&);
int RunHeal(const std::vector<std::string>&);
int RunGc(const std::vector<std::string>&);
int RunWarmup(const std::vector<std::string>&);
int RunCache(const std::vector<std::string>&);
int RunMount(const std::vector<std::string>&);
int RunUmount(const std::vector<std::string>&);
int RunTenant(const std::vector<std::string>&);

// The command table (check_sizes: data table).
const std::vector<Command>& Commands() {
  static const std::vector<Command> kCommands = {
      {"format",
       "NAME",
       "Create a volume: its metadata schema and a checked bucket",
       "Migrates the metadata database given by --meta to the current schema, records the\n"
       "volume (name, bucket, block size, compression) and checks that the bucket can be\n"
       "written, creating it if needed. Running it again with the same settings is a no-op;\n"
       "different settings are refused, so stored data is never reinterpreted.\n"
       "A bucket (or a prefix of one, s3://BUCKET/PREFIX) holds one volume: format writes\n"
       "the marker object meridian-volume naming the volume, and refuses a bucket whose\n"
       "marker names another volume or a mirror site, and one that holds objects but no\n"
       "marker unless --force-nonempty. A volume from before markers gets its marker when\n"
       "format runs again, or from its first writer (import, gc).\n"
       "S3 credentials come from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, never from flags.\n"
       "--name is this (home) site's name (default: home): it owns the volume's root and\n"
       "every tenant (top-level directory) made here; `meridian tenant list` shows them.",
       {"meta", "bucket", "block_size", "compression", "force_nonempty", "endpoint", "region",
        "path_style", "json", "name"},
       RunFormat},
      {"import",
       "LOCAL DEST",
       "Copy a local file or directory tree into the volume",
       "A directory's contents land under DEST (created with parents); a file lands at DEST,\n"
       "or inside DEST if it is a directory. Files are cut into blocks and uploaded in\n"
       "parallel; each file becomes visible only once all its blocks are stored, in one\n"
       "metadata transaction, so an interrupted import leaves no partial file. Re-running\n"
       "skips files whose size and mtime already match. Exits 1 if any file failed.\n"
       "FIFOs, sockets and device nodes have no place in a volume: each is skipped with a\n"
       "`skipping non-regular file` line on stderr (like rsync without --specials) and\n"
       "counted; they alone do not make the import fail.",
       {"meta", "threads", "list", "progress", "json", "endpoint", "region"},
       RunImport},
      {"ls",
       "[PATH...]",
       "List a directory (default /)",
       "Lists directory entries by name; -l adds mode, size and mtime; --json prints\n"
       "an array of entries with all attributes.",
       {"meta", "l", "json"},
       RunLs},
      {"stat",
       "PATH...",
       "Show a file's attributes and block count",
       "Prints type, inode, size, mode, owner, link count, mtime and, for files, the\n"
       "number of blocks and 64 MiB chunks. --json prints an array.",
       {"meta", "json"},
       RunStat},
      {"cat",
       "PATH...",
       "Write files to stdout, verified",
       "Reads every block, checks its SHA-256 against the metadata and writes the bytes\n"
       "in order. A corrupt or missing block stops the command with an error before any\n"
       "wrong byte is written. --threads blocks are fetched ahead in parallel. At a mirror\n"
       "the site's own bucket or cache group is read first (a cache group needs --key: a\n"
       "key pair on the cache nodes' allow-list), then the primary's bucket.",
       {"meta", "threads", "key", "endpoint", "region"},
       RunCat},
      {"mkdir",
       "PATH...",
       "Create directories",
       "-p creates missing parents and accepts existing directories.",
       {"meta", "p"},
       RunMkdir},
      {"mv",
       "SRC DST",
       "Move or rename within a top-level directory",
       "Like mv(1): moving onto an existing directory moves inside it; a file replaces a\n"
       "file. Moving across top-level directories (tenants) fails with EXDEV, as between\n"
       "file systems: copy and remove instead.",
       {"meta"},
       RunMv},
      {"rm",
       "PATH...",
       "Remove files, symlinks or directories",
       "-r removes directories with their contents. Blocks of removed files are queued\n"
       "for garbage collection; their objects are not deleted by rm.",
       {"meta", "r", "json"},
       RunRm},
      {"ln",
       "-s TARGET PATH",
       "Create a symbolic link",
       "TARGET is stored as given.",
       {"meta", "s"},
       RunLn},
      {"keygen",
       "--out NAME",
       "Make a CURVE key pair for a site link",
       "Writes NAME.key (public and secret key, mode 0600) and NAME.pub (the public key).\n"
       "Give a mirror's .pub to the primary's allow-list and the primary's .pub to mirrors.",
       {"out", "json"},
       RunKeygen},
      {"primary",
       "",
       "Serve the change log to mirror sites (daemon)",
       "Binds --listen with CURVE encryption and accepts only the mirror keys in --allow.\n"
       "Woken by every commit (LISTEN/NOTIFY); each mirror gets entries as fast as it\n"
       "acknowledges them. Entries more than --log-retention behind the head are deleted;\n"
       "a mirror further behind bootstraps from a consistent snapshot. Prints\n"
       "`listening on ADDRESS` once bound; stops cleanly on SIGTERM or SIGINT.\n"
       "Every --gc-interval seconds it runs block GC (see `meridian gc`).",
       {"meta", "listen", "key", "allow", "log_retention", "snapshot_spool_dir", "max_snapshots",
        "gc_interval", "max_wait", "min_age", "metrics"},
       RunPrimaryDaemon},
      {"status",
       "",
       "Show a site's log position and its mirrors or lag",
       "At a primary: head position, oldest retained entry, and each mirror's\n"
       "acknowledged position, lag in entries and connection state. At a mirror: applied\n"
       "position, entries applied and the age of the last applied commit. --json for scripts.\n"
       "At a cache-mode mirror, --key (a key on the cache nodes' allow-list) adds each\n"
       "node's usage, evictions, bytes fetched from the primary, and the hit ratio.",
       {"meta", "key", "json"},
       RunStatus},
      {"tenant",
       "list",
       "Show who owns each tenant (top-level directory) and how far each site is",
       "A tenant is a top-level directory; one site owns it (takes its writes) in an epoch,\n"
       "the others follow it. `tenant list` prints, for each tenant this site's database\n"
       "(--meta) knows, its owner site, epoch, state (active, or frozen while it moves) and\n"
       "head (the newest position of its log here) and, at its owner, each follower's\n"
       "position in it and lag in entries. The root (/) holds the top-level entries and is\n"
       "owned by the volume's home site. A write to a tenant at a site that does not own it\n"
       "fails with exit code 3, naming the owner. --json for scripts (docs/cli.md).",
       {"meta", "json"},
       RunTenant},
      {"verify",
       "[PATH]",
       "Compare a mirror with the primary at the same position",
       "Waits (up to --timeout) until the mirror's replica (--replica) has applied exactly\n"
       "the primary's (--meta) head, then compares the trees under PATH (default /) and\n"
       "lists every difference. Exits 0 if identical, 1 otherwise.",
       {"meta", "replica", "timeout", "json"},
       RunVerify},
      {"mirror",
       "",
       "Follow the primary: apply its change log to this site's replica (daemon)",
       "Runs until SIGTERM or SIGINT (then exits 0). --meta is this site's OWN database, the\n"
       "replica (migrated on start; a primary's database is refused). Connects to the primary\n"
       "at --primary over CURVE: --primary-key is the primary's public key, --key this\n"
       "mirror's key file, whose .pub must be on the primary's --allow list (one key per\n"
       "mirror: the primary tells mirrors apart by key). Every change is applied in order,\n"
       "each batch in one transaction with the applied position, so a restart resumes\n"
       "exactly once; a corrupt frame is refused and requested again. A mirror behind the\n"
       "primary's log retention installs a snapshot first. --include carries only the given\n"
       "top-level directories; --status-file gets the position, lag and counters as JSON\n"
       "about once a second.\n"
       "--data replicate --bucket URL also copies every block the replica references from\n"
       "the primary's bucket into this site's bucket (--threads in parallel, --bwlimit,\n"
       "verified by SHA-256 before it counts, progress kept in the replica so a restart\n"
       "copies nothing twice); reads at this site then look there first. Blocks freed at the\n"
       "primary leave this bucket after --delete-grace seconds. The primary's bucket is read\n"
       "with MERIDIAN_PRIMARY_AWS_* credentials when set (e.g. read-only ones), this site's\n"
       "with AWS_*. --visibility data applies a change only once every block it adds is in\n"
       "this site's bucket (readers never see a file whose data is not local);\n"
       "--fill-on-read makes readers here store blocks they fetched from the primary.\n"
       "This site's bucket is marked as site --name's copy of the volume (meridian-volume)\n"
       "before the first block goes in. Refused, and the daemon exits 1: the primary's\n"
       "bucket however its URL is written (the same directory or endpoint + bucket + prefix,\n"
       "or the primary's marker), another site's or volume's bucket, and a bucket holding\n"
       "objects but no marker unless --force-nonempty (or this replica has replicated\n"
       "before: a site's bucket from before markers, which gets its marker).",
       {"meta",         "primary",        "primary_key",    "key",         "name",
        "include",      "data",           "bucket",         "threads",     "bwlimit",
        "visibility",   "fill_on_read",   "primary_bucket", "cache_group", "cache_key",
        "delete_grace", "force_nonempty", "status_file",    "metrics",     "json"},
       RunMirror},
      {"heal",
       "",
       "Check a mirror's bucket block by block and repair it",
       "Reads every block the mirror's replica (--meta) references from this site's bucket\n"
       "(recorded by `mirror --data replicate`, or --bucket), checks its length and SHA-256,\n"
       "and copies what is missing or corrupt from the primary's bucket (verified first).\n"
       "Reports what it found and did; exits 0 when every block is intact or repaired, 1 if\n"
       "some could not be repaired now (they stay queued for the mirror daemon). The bucket\n"
       "must be this site's (its marker, as for `mirror`; --force-nonempty as there).\n"
       "--json fields: docs/cli.md.",
       {"meta", "bucket", "threads", "force_nonempty", "json"},
       RunHeal},
      {"gc",
       "",
       "Delete freed blocks from the primary's bucket",
       "At the primary: deletes the objects of blocks no file references any more, once\n"
       "every registered mirror (one that has connected at least once) has acknowledged the\n"
       "change that freed them, so a lagging mirror never reads a vanished block; a block\n"
       "freed more than --max-wait seconds ago is deleted anyway, and none goes before\n"
       "--min-age seconds. `meridian primary` runs this every --gc-interval seconds.\n"
       "--dry-run reports without deleting.",
       {"meta", "max_wait", "min_age", "dry_run", "json"},
       RunGc},
      {"cache",
       "",
       "Serve one node of a site's cache group (daemon)",
       "Keeps blocks on this machine's disks (--cache-dir, --cache-size, --free-ratio; least\n"
       "recently used evicted first, every block verified) and serves them over CURVE to\n"
       "the readers whose keys are in --allow; a miss is fetched once from the primary's\n"
       "bucket however many readers ask. --meta is the site's replica. Run one per cache\n"
       "machine with the same --key, and start the mirror with --data cache --cache-group\n"
       "listing them all. Prints `listening on ADDRESS`; stops on SIGTERM.",
       {"meta", "listen", "key", "allow", "cache_dir", "cache_size", "free_ratio", "bwlimit",
        "threads", "metrics"},
       RunCache,
       {{"listen", kCacheListenDefault}}},
      {"warmup",
       "PATH... | --file LIST",
       "Make everything under some paths local to this mirror site",
       "At a mirror run with --data replicate: copies every block of the files under the\n"
       "PATHs (files or directories) from the primary's bucket into this site's bucket now,\n"
       "verified by SHA-256 (blocks already there are checked, not copied), with --threads\n"
       "and --bwlimit. At a --data cache mirror (pass --key): has each block's cache node\n"
       "fetch it from the primary once; --evict drops the blocks instead. A progress line\n"
       "(files, bytes, rate, ETA) on a terminal. Exits 1 if any block could not be made\n"
       "local, so a pipeline can gate a scale-up on it. --check reports the percent of each\n"
       "path that is local (present, of the right length) and fetches nothing; it exits 1\n"
       "unless everything is local. --check --verify also reads every local block and checks\n"
       "its SHA-256; a plain warmup replaces what either finds damaged.\n"
       "--background returns once the paths are resolved and keeps warming, writing\n"
       "progress and the result (with --json, a JSON line) to --log.",
       {"meta", "file", "check", "verify", "evict", "background", "log", "key", "threads",
        "bwlimit", "progress", "json"},
       RunWarmup},
      {"mount",
       "MOUNTPOINT",
       "Mount the namespace read-only (FUSE), at a mirror or the primary",
       "Serves --meta's namespace (or --subdir's subtree) at MOUNTPOINT through the kernel,\n"
       "read-only: every write fails with EROFS. Data comes through this site's sources\n"
       "(cache group, own bucket, primary bucket), verified, with --readahead blocks fetched\n"
       "ahead of sequential readers and --buffer-size of memory. The kernel caches\n"
       "attributes, names and pages; whatever the mirror applies is invalidated at once, so\n"
       "the mount is never staler than the site. Runs until `meridian umount MOUNTPOINT`,\n"
       "SIGTERM or SIGINT; --background returns once the mount is ready.",
       {"meta", "subdir", "readahead", "buffer_size", "threads", "attr_timeout", "allow_other",
        "key", "background", "log", "metrics", "fuse_debug"},
       RunMount},
      {"umount",
       "MOUNTPOINT",
       "Unmount a Meridian mount (also one whose process was killed)",
       "Unmounts MOUNTPOINT; the mount's process then exits. A mount whose process died\n"
       "(\"Transport endpoint is not connected\") is cleaned up the same way. --lazy detaches\n"
       "a busy mount at once and lets it go when the last file is closed.",
       {"lazy"},
       RunUmount},
  };
  return kCommands;
}

}  // namespace meridian::cli
