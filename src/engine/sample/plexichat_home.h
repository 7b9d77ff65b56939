// A deterministic generator of a realistic PlexiChat server home: the SQLite
// database with the server's tables, uploaded media, keyrings and the config
// file. The CLI's default job backs one up; tests and benchmarks use it as a
// reproducible data set, and SimulatePlexiChatActivity() changes it the way a
// live server would, for incremental backups.
//
//   PXB_ASSIGN_OR_RETURN(PlexiChatHomeSpec spec, PlexiChatHomeSpecForSize("small"));
//   PXB_RETURN_IF_ERROR(GeneratePlexiChatHome(home, spec));
//
// Thread-safety: the functions are safe to call concurrently on different
// homes; calls on the same home must not overlap, and no PlexiChat server may
// have the home open meanwhile.
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>

#include "pxb/status.h"

namespace pxb {

// The layout of a home, relative to its folder.
inline constexpr std::string_view kPlexiChatDatabasePath = "data/plexichat.db";
inline constexpr std::string_view kPlexiChatMediaDir = "media";
inline constexpr std::string_view kPlexiChatKeysDir = "keys";
inline constexpr std::string_view kPlexiChatConfigPath = "config/plexichat.yaml";

struct PlexiChatHomeSpec {
  uint64_t seed = 1;
  uint32_t users = 200;
  uint32_t servers = 5;  // chat servers (guilds)
  uint32_t channels_per_server = 8;
  uint32_t conversations = 300;  // direct and group conversations, besides channels
  uint64_t messages = 20000;
  uint32_t media_files = 150;       // uploaded files in media/; about one in six is an avatar
  uint64_t media_bytes = 24 << 20;  // total bytes of media: a few large, many small

  friend bool operator==(const PlexiChatHomeSpec&, const PlexiChatHomeSpec&) = default;
};

// "seed=1 users=200 servers=5 ...": stored in the database so that a later
// call can tell whether a home was generated from the same spec.
std::string PlexiChatHomeSpecString(const PlexiChatHomeSpec& spec);

// The preset names, smallest first: "tiny", "small", "medium", "large".
std::span<const std::string_view> PlexiChatHomePresets();

// Size presets: "tiny" (about 2 MiB, for tests), "small" (about 30 MiB, the
// default job; equal to PlexiChatHomeSpec{}), "medium" (about 500 MiB),
// "large" (about 5 GiB). kInvalidArgument naming the presets otherwise.
StatusOr<PlexiChatHomeSpec> PlexiChatHomeSpecForSize(std::string_view preset);

// Creates a PlexiChat home at `home` (made if missing):
//   data/plexichat.db                    SQLite database, page size 4096, DELETE journal
//   media/<yyyy>/<mm>/<uuid>.<ext>       uploads: jpg/png/mp4 (incompressible), pdf (mixed),
//                                        txt/log/json (compressible text)
//   keys/keyring.json, keys/*.key        random key material and its metadata, mode 0600;
//                                        db-column-*.key encrypts auth_users.totp_secret_enc
//                                        (AES-256-GCM, nonce || ciphertext || tag)
//   config/plexichat.yaml                names the database (sqlite, relative path) and media
// Every time is derived from the seed, starting at 2026-01-01T00:00:00Z, so the
// same spec gives byte-identical files with the same SQLite library.
//
// If the home already holds a database generated from the same spec, it is
// topped up instead: media files that are missing or have the wrong size are
// written again from their rows, key and config files that differ are
// rewritten, and everything else, including changes made by
// SimulatePlexiChatActivity(), is left alone (a second call is cheap and keeps
// mtimes). The database is written under a temporary name and renamed last, so
// an interrupted call leaves no database and the next call starts over.
// Returns kInvalidArgument for an impossible spec, kFailedPrecondition if the
// home holds another database, and I/O and SQLite errors naming the file.
Status GeneratePlexiChatHome(const std::filesystem::path& home, const PlexiChatHomeSpec& spec);

// Changes an existing home as a live server would: inserts exactly
// `new_messages` messages (about one in 150 with an attachment, written to
// media/), edits exactly `edits` messages that existed before the call and were
// neither edited nor deleted (sets edited_at), adds about one user per 1000
// new messages and updates senders' last_login_at. Times continue after the
// newest one in the database. Writes through SQLite's write-ahead log like a
// server, then checkpoints and leaves the database a single file again.
// Deterministic given the home's state and `seed`; calling twice with the same
// seed does not repeat the first call's data. Returns kNotFound if there is no
// database, kInvalidArgument if fewer than `edits` messages can be edited,
// kUnavailable if another connection keeps the database in WAL mode.
Status SimulatePlexiChatActivity(const std::filesystem::path& home, uint64_t seed,
                                 uint64_t new_messages, uint64_t edits);

}  // namespace pxb
