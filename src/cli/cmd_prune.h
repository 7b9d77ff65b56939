// Prune options and report output, shared by `prune` and `forget --prune`.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "cli/context.h"
#include "engine/prune.h"

namespace pxb::cli {

struct PruneArgs {
  std::string grace;
  std::string repack_threshold;
  std::string max_unused;
  bool dry_run = false;
};

Status AddPruneOptions(const PruneArgs& args, PruneOptions& options);
void AddPruneFlags(CLI::App* cmd, PruneArgs& args);
// Runs prune on an open repository (whose session is running) and prints the report.
Status RunPruneWith(CliContext& ctx, Repository& repo, const PruneOptions& options);

}  // namespace pxb::cli
