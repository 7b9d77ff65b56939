// pxb_bench: the macro benchmark of plexibackup against restic and borg.
// See bench/README.md.
#include <CLI/CLI.hpp>
#include <iostream>

#include "bench/bench.h"
#include "bench/process.h"

#ifndef PXB_BENCH_PLEXIBACKUP
#define PXB_BENCH_PLEXIBACKUP "plexibackup"
#endif

int main(int argc, char** argv) {
  if (argc > 1 && argv[1] == pxb::bench::kLauncherFlag) {
    return pxb::bench::LauncherMain(argc, argv);
  }
  pxb::bench::BenchOptions options;
  options.plexibackup = PXB_BENCH_PLEXIBACKUP;
  bool smoke = false;
  std::string peers = "restic,borg";

  CLI::App app{"pxb_bench: plexibackup's workloads, and the same with restic and borg"};
  app.option_defaults()->always_capture_default();
  std::string workload_names;
  for (std::string_view w : pxb::bench::kWorkloads) {
    workload_names += (workload_names.empty() ? "" : ",") + std::string(w);
  }
  app.add_option("--workloads", options.workloads,
                 "comma-separated; default all: " + workload_names)
      ->delimiter(',');
  app.add_option("--size", options.size, "PlexiChat home preset")
      ->check(CLI::IsMember({"tiny", "small", "medium", "large"}));
  app.add_option("--reps", options.reps, "repetitions per workload and tool")
      ->check(CLI::Range(1, 1000));
  app.add_option("--peers", peers, "comma-separated peers to compare with, or none");
  app.add_flag("--erasure", options.erasure,
               "also run plexibackup erasure-coded 4+2 over six local targets");
  app.add_flag("--cold-source", options.cold_source,
               "drop the source from the page cache before each backup (default: read it in)");
  app.add_option("--tmpfs", options.tmpfs, "restore-tmpfs restores below this tmpfs folder");
  app.add_option("--restore-durability", options.restore_durability,
                 "plexibackup restore --durability (default: its own)")
      ->check(CLI::IsMember({"batched", "per-file", "none"}));
  app.add_option("--json", options.json_path, "write raw measurements and medians to FILE");
  app.add_flag("--smoke", smoke, "tiny data set, 1 repetition, all workloads (for CI)");
  app.add_option("--workdir", options.workdir, "work folder (default: a new one under $TMPDIR)");
  app.add_flag("--keep", options.keep, "keep the work folder (and the generated data)");
  app.add_option("--plexibackup", options.plexibackup, "the plexibackup binary to measure");
  app.add_option("--small-files", options.small_files, "add a tree of N small files to the data");
  app.add_option("--change-messages", options.change_messages, "backup-after-change: new messages");
  app.add_option("--change-edits", options.change_edits, "backup-after-change: edited messages");
  app.add_option("--db-messages", options.db_messages, "backup-db: new messages");
  app.add_option("--db-edits", options.db_edits, "backup-db: edited messages");
  app.add_option("--messages", options.messages,
                 "messages in the generated database instead of the preset's (sets its size: "
                 "about 5.5 million for 1 GiB)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }

  options.peers.clear();
  for (size_t start = 0; start <= peers.size();) {
    size_t comma = peers.find(',', start);
    if (comma == std::string::npos) comma = peers.size();
    if (comma > start) options.peers.push_back(peers.substr(start, comma - start));
    start = comma + 1;
  }
  if (smoke) {
    options.size = "tiny";
    options.reps = 1;
    options.workloads.clear();
    options.erasure = true;
  }

  pxb::Status status = pxb::bench::RunBench(options);
  if (!status.ok()) {
    std::cerr << "pxb_bench: " << status.ToString() << "\n";
    return 1;
  }
  return 0;
}
