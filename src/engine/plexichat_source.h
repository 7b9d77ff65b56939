// What a backup of a PlexiChat server home reads, decided from the home's
// config/plexichat.yaml (the layout engine/sample/plexichat_home.h writes).
//
// The home is one source of the snapshot. Its database is read consistently:
// a SQLite database through SqliteSnapshotReader, stored at its own path
// without its -wal, -shm and -journal files; a PostgreSQL database through
// pg_dump, whose output appears in the snapshot as HOME/database.pgdump.
// Keys, configuration and media are files of the home. A database, media or
// keyring path outside the home becomes a further source of the snapshot.
//
//   PXB_ASSIGN_OR_RETURN(PlexiChatBackupPlan plan, PlanPlexiChatBackup("/srv/plexichat"));
//
// Thread-safety: the functions keep no state.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "pxb/status.h"

namespace pxb {

// Where the dump of a PostgreSQL database appears, relative to the home.
inline constexpr std::string_view kPlexiChatDumpName = "database.pgdump";

struct PlexiChatBackupPlan {
  std::string home;  // absolute, normalised
  // Sources besides the home: configured paths that lie outside it.
  std::vector<std::string> extra_paths;
  // SQLite: the database file (absolute). Empty for PostgreSQL.
  std::string sqlite_path;
  // PostgreSQL: the dump's path in the snapshot and the shell command that
  // writes it to standard output. Empty for SQLite.
  std::string dump_path;
  std::string dump_command;
};

// The settings of the YAML subset PlexiChat writes: "section:" lines and
// indented "key: value" lines below them, '#' comments, values optionally
// quoted. Returns "section.key" -> value (quotes removed). kInvalidArgument
// naming the line for a line that is neither.
[[nodiscard]] StatusOr<std::map<std::string, std::string>> ParsePlexiChatConfig(
    std::string_view yaml);

// Reads HOME/config/plexichat.yaml and plans the backup. database.type is
// "sqlite" (database.path, relative to the home or absolute) or "postgresql"
// (database.name, and optionally host, port and user; the password comes
// from libpq's usual sources, PGPASSWORD or ~/.pgpass). Errors:
// kInvalidArgument if HOME is not a folder, the configuration cannot be read
// or names an unknown database type, or a required setting is missing.
[[nodiscard]] StatusOr<PlexiChatBackupPlan> PlanPlexiChatBackup(const std::string& home);

}  // namespace pxb
