// Registration of every command; one file per command defines one function.
#pragma once

#include <CLI/CLI.hpp>

#include "cli/context.h"
#include "core/time.h"
#include "format/tree_format.h"

namespace pxb::cli {

void RegisterInit(CLI::App& app, CliContext& ctx);
void RegisterBackup(CLI::App& app, CliContext& ctx);
void RegisterSnapshots(CLI::App& app, CliContext& ctx);
void RegisterRestore(CLI::App& app, CliContext& ctx);
void RegisterCheck(CLI::App& app, CliContext& ctx);
void RegisterLs(CLI::App& app, CliContext& ctx);
void RegisterFind(CLI::App& app, CliContext& ctx);
void RegisterDiff(CLI::App& app, CliContext& ctx);
void RegisterDump(CLI::App& app, CliContext& ctx);
void RegisterCat(CLI::App& app, CliContext& ctx);
void RegisterStats(CLI::App& app, CliContext& ctx);
void RegisterKey(CLI::App& app, CliContext& ctx);
void RegisterScrub(CLI::App& app, CliContext& ctx);
void RegisterTarget(CLI::App& app, CliContext& ctx);
void RegisterForget(CLI::App& app, CliContext& ctx);
void RegisterPrune(CLI::App& app, CliContext& ctx);
// protect and unprotect.
void RegisterProtect(CLI::App& app, CliContext& ctx);
// The default job: runs when no command is given.
void RegisterQuickstart(CLI::App& app, CliContext& ctx);
Status RunQuickstart(CliContext& ctx, const std::vector<std::string>& paths);

// Shared helpers for commands that name a snapshot ("latest", an id prefix,
// or "ID:PATH").
struct SnapshotRef {
  std::string id;
  std::string path;
};
SnapshotRef SplitSnapshotRef(const std::string& text);
nlohmann::json SnapshotJson(const SnapshotId& id, const Snapshot& s);
nlohmann::json NodeJson(const std::string& path, const Node& node);

// The lock file that lets one process on this host move the shards of the
// repository on `storage` at a time: `target rebalance` and a repairing
// `scrub` take it. kNotFound if no repository exists there.
StatusOr<std::string> ShardMoverLockFile(Backend& storage);

// A share given as a percentage or a fraction: "30%" or "0.3" -> 0.3;
// kInvalidArgument outside [0, 1].
StatusOr<double> ParsePercent(const std::string& text);

}  // namespace pxb::cli
