#include "bench/bench.h"

#include <linux/magic.h>
#include <stdlib.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "bench/dataset.h"
#include "bench/process.h"
#include "bench/report.h"
#include "bench/tools.h"
#include "engine/sample/plexichat_home.h"

namespace pxb::bench {

namespace fs = std::filesystem;

namespace {

constexpr std::string_view kMarker = ".pxb_bench";

void Note(const std::string& line) { std::cerr << line << std::endl; }

std::string FirstLineOf(const fs::path& path, std::string_view prefix = "") {
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line.starts_with("$ ")) continue;
    if (prefix.empty() || line.starts_with(prefix)) return line;
  }
  return "";
}

nlohmann::json MachineJson() {
  nlohmann::json j;
  j["nproc"] = std::thread::hardware_concurrency();
  j["cpu"] = FirstLineOf("/proc/cpuinfo", "model name");
  if (std::string cpu = j["cpu"]; cpu.find(':') != std::string::npos) {
    j["cpu"] = cpu.substr(cpu.find(':') + 2);
  }
  std::string mem = FirstLineOf("/proc/meminfo", "MemTotal");
  unsigned long long kib = 0;
  if (std::sscanf(mem.c_str(), "MemTotal: %llu", &kib) == 1) j["memory_bytes"] = kib * 1024;
  std::ifstream loadavg("/proc/loadavg");
  double load1 = 0;
  if (loadavg >> load1) j["load_average_1m"] = load1;
  utsname u{};
  if (::uname(&u) == 0) j["kernel"] = std::string(u.sysname) + " " + u.release;
  return j;
}

struct Workdir {
  fs::path path;
  bool owned = false;  // made by pxb_bench: removed at the end
};

StatusOr<Workdir> PrepareWorkdir(const std::string& requested) {
  Workdir w;
  std::error_code ec;
  if (requested.empty()) {
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern = std::string(tmp && *tmp ? tmp : "/tmp") + "/pxb_bench.XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) return ErrnoError(errno, "mkdtemp " + pattern);
    w.path = pattern;
    w.owned = true;
  } else {
    w.path = fs::absolute(requested, ec);
    if (ec) return ErrnoError(ec.value(), "resolving " + requested);
    if (fs::exists(w.path / kMarker, ec)) {
      w.owned = true;  // made by an earlier run
    } else if (fs::exists(w.path, ec)) {
      if (!fs::is_empty(w.path, ec)) {
        return FailedPreconditionError("work folder " + w.path.string() +
                                       " is not empty and was not made by pxb_bench; give an "
                                       "empty or new folder");
      }
    } else {
      fs::create_directories(w.path, ec);
      if (ec) return ErrnoError(ec.value(), "creating " + w.path.string());
      w.owned = true;
    }
  }
  std::ofstream(w.path / kMarker) << "pxb_bench work folder; removed at the end unless --keep\n";
  // Leftovers of an interrupted run; the generated data is kept for reuse.
  for (const char* sub : {"source", "repos", "cache", "restore", "trash", "logs"}) {
    PXB_RETURN_IF_ERROR(RemoveTree(w.path / sub));
  }
  fs::create_directories(w.path / "logs", ec);
  if (ec) return ErrnoError(ec.value(), "creating " + (w.path / "logs").string());
  return w;
}

class Bench {
 public:
  explicit Bench(const BenchOptions& options) : options_(options) {}

  Status Run();

 private:
  bool Selected(std::string_view workload) const {
    return std::find(workloads_.begin(), workloads_.end(), workload) != workloads_.end();
  }
  // Snapshots each tool holds before the prune workload.
  int backups_per_repetition() const {
    int backups = 1;
    for (const char* w : {"rebackup-unchanged", "backup-after-change", "backup-db"}) {
      backups += Selected(w) ? 1 : 0;
    }
    return backups;
  }
  // The preset, with --messages applied.
  StatusOr<PlexiChatHomeSpec> DataSpec() const {
    PXB_ASSIGN_OR_RETURN(PlexiChatHomeSpec spec, PlexiChatHomeSpecForSize(options_.size));
    if (options_.messages > 0) spec.messages = options_.messages;
    return spec;
  }
  Status SetUpTools();
  Status SetUpData();
  // Makes the folder for restore-tmpfs, or notes why that workload is skipped.
  void SetUpTmpfs();
  Status RunRepetition(int rep);
  // A backup of `path` by `tool`, with `path` in the page cache first
  // (LoadIntoPageCache), or dropped from it with --cold-source, so that
  // every tool meets the same source; the first backup is untimed when not
  // selected.
  Status MeasureBackup(const std::string& workload, Tool* tool, const std::filesystem::path& path,
                       int rep);
  // Runs `spec` after sync(), fails on a non-zero exit and records it, with
  // the time of the sync() that follows.
  Status Measure(const std::string& workload, Tool* tool, const std::string& tool_name,
                 ChildSpec spec, int rep, bool measured);
  // restore (to disk) or restore-tmpfs by `tool`, or by cp -a if null.
  Status RunRestore(const std::string& workload, Tool* tool, int rep);
  // Moves a tree out of the way; see EmptyTrash.
  Status MoveToTrash(const fs::path& path, const std::string& name);
  // Deletes the trash at the end of the run, or of a repetition when the disk
  // could not hold another one's: on ext4 without a journal, creating files
  // for a minute or more after many were deleted is slow (the inode
  // allocator skips recently freed inodes), which would charge the cleanup
  // to whichever tool restores next.
  Status EmptyTrash(bool end_of_run);
  Status Report();

  const BenchOptions& options_;
  std::vector<std::string> workloads_;
  Workdir workdir_;
  fs::path source_;
  fs::path pristine_home_;
  fs::path small_files_;
  uint64_t data_bytes_ = 0;  // the generated data set, before the change
  fs::path tmpfs_root_;      // restore-tmpfs targets go below; empty: skipped
  TreeStats base_stats_;
  TreeStats current_stats_;
  ChangeSummary change_;
  std::vector<std::unique_ptr<Tool>> tools_;  // plexibackup first
  std::optional<fs::path> cp_;
  std::vector<std::string> notes_;
  std::vector<Measurement> measurements_;
  nlohmann::json versions_ = nlohmann::json::object();
  double generate_s_ = 0;
  nlohmann::json machine_at_start_;
};

Status Bench::SetUpTools() {
  std::optional<fs::path> pxb = FindProgram(options_.plexibackup);
  if (!pxb) {
    return NotFoundError("plexibackup not found at '" + options_.plexibackup +
                         "': build it or give --plexibackup PATH");
  }
  std::vector<std::pair<std::string, fs::path>> wanted = {{"plexibackup", *pxb}};
  if (options_.erasure) wanted.emplace_back(std::string(kPlexibackupErasure), *pxb);
  for (const std::string& peer : options_.peers) {
    if (peer == "none" ||
        std::any_of(wanted.begin(), wanted.end(), [&](const auto& w) { return w.first == peer; })) {
      continue;
    }
    std::optional<fs::path> path = FindProgram(peer);
    if (!path) {
      notes_.push_back(peer + " not found on PATH: skipped (Debian: apt-get install " +
                       (peer == "borg" ? "borgbackup" : peer) + ")");
      Note("note: " + notes_.back());
      continue;
    }
    wanted.emplace_back(peer, *path);
  }
  for (const auto& [name, path] : wanted) {
    PXB_ASSIGN_OR_RETURN(std::unique_ptr<Tool> tool, MakeTool(name, path, workdir_.path));
    ChildSpec version = tool->Version();
    version.log = workdir_.path / "logs" / (name + "-version.log");
    PXB_ASSIGN_OR_RETURN(ChildResult r, RunChild(version));
    if (r.exit_code != 0) {
      return UnknownError(name + " at " + path.string() + " does not run (exit code " +
                          std::to_string(r.exit_code) + "):\n" + TailOfFile(version.log, 10));
    }
    versions_[name] = FirstLineOf(version.log);
    Note("tool: " + versions_[name].get<std::string>() + " (" + path.string() + ")");
    tools_.push_back(std::move(tool));
  }
  if (Selected("restore") || Selected("restore-tmpfs")) {
    cp_ = FindProgram("cp");
    if (!cp_) {
      notes_.push_back("cp not found on PATH: no cp -a baseline for restore");
      Note("note: " + notes_.back());
    }
  }
  return Status::Ok();
}

Status Bench::SetUpData() {
  PXB_ASSIGN_OR_RETURN(PlexiChatHomeSpec spec, DataSpec());
  pristine_home_ =
      workdir_.path / "data" /
      (options_.size + (options_.messages ? "-" + std::to_string(spec.messages) : "")) /
      "plexichat";
  const auto start = std::chrono::steady_clock::now();
  Note("generating the " + options_.size + " PlexiChat home in " + pristine_home_.string() +
       " (reused if there)");
  PXB_RETURN_IF_ERROR(GeneratePlexiChatHome(pristine_home_, spec));
  if (options_.small_files > 0) {
    small_files_ = workdir_.path / "data" / ("small-files-" + std::to_string(options_.small_files));
    PXB_RETURN_IF_ERROR(WriteSmallFiles(small_files_, options_.small_files));
  }
  generate_s_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  source_ = workdir_.path / "source";
  PXB_ASSIGN_OR_RETURN(TreeStats home, ScanTree(pristine_home_));
  PXB_ASSIGN_OR_RETURN(TreeStats small, ScanTree(small_files_));
  data_bytes_ = home.bytes + small.bytes;
  if (options_.cold_source) {
    // Dropping a file from the page cache is a no-op where the page cache
    // is the file's only home.
    struct statfs sfs;
    if (::statfs(workdir_.path.c_str(), &sfs) == 0 &&
        (static_cast<uint64_t>(sfs.f_type) == TMPFS_MAGIC ||
         static_cast<uint64_t>(sfs.f_type) == RAMFS_MAGIC)) {
      return FailedPreconditionError("--cold-source: the work folder " + workdir_.path.string() +
                                     " is in memory (tmpfs), so backups could not read their "
                                     "source from disk; give a folder on a disk with --workdir");
    }
  }
  return Status::Ok();
}

void Bench::SetUpTmpfs() {
  if (!Selected("restore-tmpfs")) return;
  auto skip = [&](const std::string& why) {
    notes_.push_back("restore-tmpfs skipped: " + why);
    Note("note: " + notes_.back());
  };
  struct statfs sfs;
  if (::statfs(options_.tmpfs.c_str(), &sfs) != 0) {
    skip(options_.tmpfs + ": " + std::strerror(errno) + " (give a tmpfs folder with --tmpfs)");
    return;
  }
  if (static_cast<uint64_t>(sfs.f_type) != TMPFS_MAGIC) {
    skip(options_.tmpfs + " is not a tmpfs (give one with --tmpfs)");
    return;
  }
  // One restored tree at a time is kept there.
  const uint64_t needed = data_bytes_ + data_bytes_ / 10 + (64 << 20);
  struct statvfs vfs;
  if (::statvfs(options_.tmpfs.c_str(), &vfs) == 0 &&
      static_cast<uint64_t>(vfs.f_bavail) * vfs.f_frsize < needed) {
    skip(options_.tmpfs + " has " + FormatBytes(uint64_t{vfs.f_bavail} * vfs.f_frsize) +
         " free, the data set needs " + FormatBytes(needed));
    return;
  }
  std::string pattern = options_.tmpfs + "/pxb_bench.XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr) {
    skip("cannot create a folder in " + options_.tmpfs + ": " + std::strerror(errno));
    return;
  }
  tmpfs_root_ = pattern;
  Note("restore-tmpfs restores into " + tmpfs_root_.string());
}

Status Bench::MeasureBackup(const std::string& workload, Tool* tool,
                            const std::filesystem::path& path, int rep) {
  PXB_RETURN_IF_ERROR(options_.cold_source ? EvictFromPageCache(path) : LoadIntoPageCache(path));
  return Measure(workload, tool, tool->name(), tool->Backup(path), rep, Selected(workload));
}

Status Bench::Measure(const std::string& workload, Tool* tool, const std::string& tool_name,
                      ChildSpec spec, int rep, bool measured) {
  std::string log_name = std::to_string(rep) + "-" + workload + "-" + tool_name + ".log";
  std::replace(log_name.begin(), log_name.end(), ' ', '_');
  spec.log = workdir_.path / "logs" / log_name;
  uint64_t repo_bytes_before = 0;
  if (tool != nullptr) {
    PXB_ASSIGN_OR_RETURN(TreeStats repo, ScanTree(tool->repo()));
    repo_bytes_before = repo.bytes;
  }
  // Dirty pages of the previous step are written out before the clock starts.
  ::sync();
  PXB_ASSIGN_OR_RETURN(ChildResult r, RunChild(spec));
  // What the step left for the kernel to write: a tool that returns before
  // its data is on disk pays here. The whole system is synced, so other
  // writers' data counts too.
  const auto sync_start = std::chrono::steady_clock::now();
  ::sync();
  const double sync_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - sync_start).count();
  if (r.exit_code != 0) {
    return UnknownError(tool_name + " failed in " + workload + " (repetition " +
                        std::to_string(rep) + ", exit code " + std::to_string(r.exit_code) +
                        "); end of " + spec.log.string() + ":\n" + TailOfFile(spec.log, 15));
  }
  Measurement m;
  m.workload = workload;
  m.tool = tool_name;
  m.rep = rep;
  m.measured = measured;
  m.result = r;
  m.sync_s = sync_s;
  m.data_bytes = current_stats_.bytes;
  if (tool != nullptr) {
    PXB_ASSIGN_OR_RETURN(TreeStats repo, ScanTree(tool->repo()));
    m.repo_bytes = repo.bytes;
    m.repo_bytes_added = static_cast<int64_t>(repo.bytes) - static_cast<int64_t>(repo_bytes_before);
    PXB_ASSIGN_OR_RETURN(TreeStats cache, ScanTree(tool->cache()));
    m.cache_bytes = cache.bytes;
  }
  char line[256];
  std::snprintf(line, sizeof(line),
                "[rep %d/%d] %-20s %-12s %8.3f s wall %8.3f s cpu %6.3f s sync %s%s", rep,
                options_.reps, workload.c_str(), tool_name.c_str(), r.wall_s, r.cpu_s(), sync_s,
                m.repo_bytes ? ("repo " + FormatBytes(m.repo_bytes)).c_str() : "",
                measured ? "" : " (setup)");
  Note(line);
  measurements_.push_back(std::move(m));
  return Status::Ok();
}

Status Bench::RunRestore(const std::string& workload, Tool* tool, int rep) {
  const bool on_tmpfs = workload == "restore-tmpfs";
  const std::string name = tool ? tool->name() : std::string(kCopyBaseline);
  const fs::path target =
      (on_tmpfs ? tmpfs_root_ : workdir_.path / "restore") / (tool ? tool->name() : "cp");
  PXB_RETURN_IF_ERROR(RemoveTree(target));
  std::error_code ec;
  fs::create_directories(target, ec);
  if (ec) return ErrnoError(ec.value(), "creating " + target.string());
  // Every tool reads from disk: its repository, or cp the source.
  PXB_RETURN_IF_ERROR(EvictFromPageCache(tool ? tool->repo() : source_));
  ChildSpec spec;
  if (tool) {
    spec = tool->Restore(target);
    if (!options_.restore_durability.empty() && tool->name().starts_with(kPlexibackup)) {
      spec.args.insert(spec.args.end(), {"--durability", options_.restore_durability});
    }
  } else {
    spec.program = *cp_;
    spec.args = {"-a", source_.string(), (target / "source").string()};
  }
  PXB_RETURN_IF_ERROR(Measure(workload, tool, name, std::move(spec), rep, true));
  PXB_ASSIGN_OR_RETURN(TreeStats restored, ScanTree(target));
  if (restored.files != current_stats_.files || restored.bytes != current_stats_.bytes ||
      restored.symlinks != current_stats_.symlinks) {
    return DataLossError(name + " restored " + TreeStatsString(restored) + " (" +
                         std::to_string(restored.symlinks) + " links) into " + target.string() +
                         ", but the source has " + TreeStatsString(current_stats_) + " (" +
                         std::to_string(current_stats_.symlinks) + " links)");
  }
  // tmpfs has no inode allocator to slow down, and its memory is wanted back.
  if (on_tmpfs) return RemoveTree(target);
  return MoveToTrash(target, std::to_string(rep) + "-" + target.filename().string());
}

Status Bench::MoveToTrash(const fs::path& path, const std::string& name) {
  const fs::path trash = workdir_.path / "trash";
  std::error_code ec;
  fs::create_directories(trash, ec);
  if (!ec) fs::rename(path, trash / name, ec);
  if (ec) return ErrnoError(ec.value(), "moving " + path.string() + " to " + trash.string());
  return Status::Ok();
}

Status Bench::EmptyTrash(bool end_of_run) {
  if (!end_of_run) {
    // Room for another repetition: a source copy, a restore per tool and
    // cp -a, and 1 GiB to spare.
    const uint64_t next = (tools_.size() + 2) * (data_bytes_ + data_bytes_ / 5) + (1ull << 30);
    struct statvfs vfs;
    if (::statvfs(workdir_.path.c_str(), &vfs) == 0 &&
        static_cast<uint64_t>(vfs.f_bavail) * vfs.f_frsize >= next) {
      return Status::Ok();
    }
  }
  return RemoveTree(workdir_.path / "trash");
}

Status Bench::RunRepetition(int rep) {
  // A fresh copy of the data set: the change of the previous repetition is gone.
  std::error_code ec;
  if (fs::exists(source_, ec)) {
    PXB_RETURN_IF_ERROR(MoveToTrash(source_, std::to_string(rep) + "-source"));
  }
  PXB_RETURN_IF_ERROR(CopyTree(pristine_home_, source_ / "plexichat"));
  if (!small_files_.empty()) PXB_RETURN_IF_ERROR(CopyTree(small_files_, source_ / "small-files"));
  PXB_ASSIGN_OR_RETURN(base_stats_, ScanTree(source_));
  current_stats_ = base_stats_;

  // Rotating the order spreads drift (thermal, page cache, neighbours) over
  // all tools alike.
  std::vector<Tool*> order;
  for (size_t i = 0; i < tools_.size(); ++i) {
    order.push_back(tools_[(i + static_cast<size_t>(rep - 1)) % tools_.size()].get());
  }
  for (Tool* tool : order) {
    PXB_RETURN_IF_ERROR(tool->Reset());
    PXB_RETURN_IF_ERROR(Measure("init", tool, tool->name(), tool->Init(), rep, false));
  }
  // Every workload needs a first backup.
  for (Tool* tool : order) {
    PXB_RETURN_IF_ERROR(MeasureBackup("first-backup", tool, source_, rep));
  }
  if (Selected("rebackup-unchanged")) {
    for (Tool* tool : order) {
      PXB_RETURN_IF_ERROR(MeasureBackup("rebackup-unchanged", tool, source_, rep));
    }
  }
  if (Selected("backup-after-change")) {
    PXB_ASSIGN_OR_RETURN(change_, ApplyChange(source_ / "plexichat", options_.change_messages,
                                              options_.change_edits));
    PXB_ASSIGN_OR_RETURN(current_stats_, ScanTree(source_));
    for (Tool* tool : order) {
      PXB_RETURN_IF_ERROR(MeasureBackup("backup-after-change", tool, source_, rep));
    }
  }
  for (const std::string workload : {"restore", "restore-tmpfs"}) {
    if (!Selected(workload) || (workload == "restore-tmpfs" && tmpfs_root_.empty())) continue;
    for (Tool* tool : order) PXB_RETURN_IF_ERROR(RunRestore(workload, tool, rep));
    if (cp_) PXB_RETURN_IF_ERROR(RunRestore(workload, nullptr, rep));
  }
  if (Selected("check-read-data")) {
    for (Tool* tool : order) {
      PXB_RETURN_IF_ERROR(EvictFromPageCache(tool->repo()));
      PXB_RETURN_IF_ERROR(
          Measure("check-read-data", tool, tool->name(), tool->CheckReadData(), rep, true));
    }
  }
  if (Selected("backup-db")) {
    // The database alone, as a frequent database backup would take it; the
    // repository holds its previous state from the backups above.
    const fs::path home = source_ / "plexichat";
    PXB_RETURN_IF_ERROR(
        SimulatePlexiChatActivity(home, /*seed=*/20261125, options_.db_messages, options_.db_edits)
            .WithContext("simulating PlexiChat activity for backup-db"));
    const fs::path database_folder = (home / kPlexiChatDatabasePath).parent_path();
    PXB_ASSIGN_OR_RETURN(current_stats_, ScanTree(database_folder));
    for (Tool* tool : order) {
      PXB_RETURN_IF_ERROR(MeasureBackup("backup-db", tool, database_folder, rep));
    }
  }
  if (Selected("prune")) {
    const int snapshots = backups_per_repetition();
    for (Tool* tool : order) {
      PXB_RETURN_IF_ERROR(Measure("prune", tool, tool->name(),
                                  tool->ForgetAndPrune(snapshots - snapshots / 2), rep, true));
    }
  }
  return EmptyTrash(/*end_of_run=*/false);
}

Status Bench::Report() {
  std::vector<std::string> tool_order;
  for (const auto& tool : tools_) tool_order.push_back(tool->name());
  tool_order.emplace_back(kCopyBaseline);
  std::vector<SummaryRow> rows = Summarize(measurements_, workloads_, tool_order);

  nlohmann::json machine = MachineJson();
  std::cout << "pxb_bench: " << options_.size << " PlexiChat home"
            << (options_.small_files ? " + " + std::to_string(options_.small_files) + " small files"
                                     : "")
            << ", " << TreeStatsString(base_stats_) << "; " << options_.reps << " repetition"
            << (options_.reps == 1 ? "" : "s") << "\n";
  std::cout << "machine: " << machine["nproc"].get<unsigned>() << " CPUs, "
            << machine["cpu"].get<std::string>() << ", "
            << FormatBytes(machine.value("memory_bytes", uint64_t{0})) << " RAM, load average "
            << machine_at_start_.value("load_average_1m", 0.0) << " at the start, "
            << machine.value("load_average_1m", 0.0) << " at the end\n";
  for (const auto& tool : tools_) {
    std::cout << "tool: " << versions_[tool->name()].get<std::string>() << "\n";
  }
  if (Selected("backup-db")) {
    std::cout << "backup-db: the database folder after " << options_.db_messages
              << " new messages and " << options_.db_edits << " edits\n";
  }
  if (Selected("backup-after-change")) {
    std::cout << "change: " << change_.new_messages << " new messages, " << change_.edits
              << " edits, " << change_.media_files_modified << " media files modified; then "
              << TreeStatsString(current_stats_) << "\n";
  }
  for (const std::string& note : notes_) std::cout << "note: " << note << "\n";
  std::cout << "\n" << FormatTable(rows);
  std::cout.flush();

  if (options_.json_path.empty()) return Status::Ok();
  nlohmann::json j;
  j["machine"] = machine;
  j["machine"]["load_average_1m_at_start"] = machine_at_start_.value("load_average_1m", 0.0);
  j["tools"] = versions_;
  j["options"] = {{"size", options_.size},
                  {"reps", options_.reps},
                  {"workloads", workloads_},
                  {"small_files", options_.small_files},
                  {"change_messages", options_.change_messages},
                  {"change_edits", options_.change_edits},
                  {"db_messages", options_.db_messages},
                  {"db_edits", options_.db_edits},
                  {"cold_source", options_.cold_source}};
  PXB_ASSIGN_OR_RETURN(PlexiChatHomeSpec spec, DataSpec());
  j["data_set"] = {{"spec", PlexiChatHomeSpecString(spec)},
                   {"files", base_stats_.files},
                   {"bytes", base_stats_.bytes},
                   {"generate_s", generate_s_},
                   {"after_change_files", current_stats_.files},
                   {"after_change_bytes", current_stats_.bytes},
                   {"media_files_modified", change_.media_files_modified}};
  j["notes"] = notes_;
  j["measurements"] = nlohmann::json::array();
  for (const Measurement& m : measurements_) j["measurements"].push_back(MeasurementJson(m));
  j["summary"] = nlohmann::json::array();
  for (const SummaryRow& row : rows) j["summary"].push_back(SummaryJson(row));
  std::ofstream out(options_.json_path, std::ios::trunc);
  out << j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  out.close();
  if (!out) return ErrnoError(errno, "writing " + options_.json_path);
  Note("wrote " + options_.json_path);
  return Status::Ok();
}

Status Bench::Run() {
  if (options_.reps < 1) return InvalidArgumentError("--reps must be at least 1");
  if (options_.workloads.empty()) {
    workloads_.assign(std::begin(kWorkloads), std::end(kWorkloads));
  } else {
    // Known names, in the run order.
    for (std::string_view w : kWorkloads) {
      if (std::find(options_.workloads.begin(), options_.workloads.end(), w) !=
          options_.workloads.end()) {
        workloads_.emplace_back(w);
      }
    }
    for (const std::string& w : options_.workloads) {
      if (std::find(workloads_.begin(), workloads_.end(), w) == workloads_.end()) {
        std::string names;
        for (std::string_view k : kWorkloads) names += (names.empty() ? "" : ", ") + std::string(k);
        return InvalidArgumentError("unknown workload '" + w + "': use " + names);
      }
    }
  }
  for (const std::string& peer : options_.peers) {
    if (peer != "restic" && peer != "borg" && peer != "none") {
      return InvalidArgumentError("unknown peer '" + peer + "': use restic, borg or none");
    }
  }
  PXB_RETURN_IF_ERROR(PlexiChatHomeSpecForSize(options_.size).status());
  machine_at_start_ = MachineJson();
  PXB_ASSIGN_OR_RETURN(workdir_, PrepareWorkdir(options_.workdir));
  Note("work folder: " + workdir_.path.string());

  Status status = SetUpTools();
  if (status.ok()) status = SetUpData();
  if (status.ok()) SetUpTmpfs();
  for (int rep = 1; status.ok() && rep <= options_.reps; ++rep) status = RunRepetition(rep);
  if (!tmpfs_root_.empty()) {
    Status removed = RemoveTree(tmpfs_root_);
    if (status.ok()) status = removed;
  }
  if (status.ok()) status = EmptyTrash(/*end_of_run=*/true);
  if (status.ok()) status = Report();
  if (!status.ok()) {
    Note("work folder kept for inspection (logs in " + (workdir_.path / "logs").string() + ")");
    return status;
  }
  if (options_.keep) {
    Note("work folder kept: " + workdir_.path.string());
    return Status::Ok();
  }
  if (workdir_.owned) return RemoveTree(workdir_.path);
  // A folder the caller made: emptied, not removed.
  std::error_code ec;
  std::vector<fs::path> entries;
  for (fs::directory_iterator it(workdir_.path, ec); !ec && it != fs::directory_iterator();
       it.increment(ec)) {
    entries.push_back(it->path());
  }
  if (ec) return ErrnoError(ec.value(), "listing " + workdir_.path.string());
  for (const fs::path& entry : entries) PXB_RETURN_IF_ERROR(RemoveTree(entry));
  return Status::Ok();
}

}  // namespace

Status RunBench(const BenchOptions& options) { return Bench(options).Run(); }

}  // namespace pxb::bench
