// plexibackup target list|status|add|drain|remove|rebalance: the storage
// targets of an erasure-coded repository (doc/design.md sections 12, 13).
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "cli/commands.h"
#include "storage/erasure/scrubber.h"

namespace pxb::cli {

namespace {

struct TargetArgs {
  std::string name;
  std::string url;
  std::string region;
  std::string zone;
  double weight = 1.0;
  uint64_t capacity = 0;
  bool force = false;
  bool wait = false;
  bool no_rebalance = false;
};

// --- Rebalancing (doc/design.md section 12, "Target changes") ---

// What this host keeps about the rebalance of one repository: the lock that
// lets one process move its shards at a time (`target rebalance` and
// `scrub` take it), the state a rebalance rewrites about every second, and
// the log of one started in the background.
struct RebalanceFiles {
  std::string lock;
  std::string state;
  std::string log;
};

StatusOr<RebalanceFiles> RebalanceFilesFor(Backend& storage) {
  PXB_ASSIGN_OR_RETURN(std::string lock, ShardMoverLockFile(storage));
  const std::string base = lock.substr(0, lock.size() - std::string_view(".lock").size());
  return RebalanceFiles{lock, base + ".json", base + ".log"};
}

struct RebalanceState {
  std::string state;  // running, done, failed or cancelled
  int64_t pid = 0;
  std::string started;  // RFC 3339, as the next three
  std::string updated;
  std::string finished;
  uint64_t target_list_version = 0;
  uint64_t objects_done = 0;
  uint64_t objects_total = 0;
  uint64_t shards_moved = 0;
  std::string cursor;  // the last object done: where an interrupted pass resumes
  std::string error;
  std::string log;  // where its output goes, when it runs in the background
};

NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(RebalanceState, state, pid, started, updated,
                                                finished, target_list_version, objects_done,
                                                objects_total, shards_moved, cursor, error, log)

uint64_t Percent(const RebalanceState& s) {
  return s.objects_total ? 100 * s.objects_done / s.objects_total : 0;
}

nlohmann::json StateJson(const RebalanceState& s) {
  nlohmann::json j = s;
  j["percent"] = Percent(s);
  return j;
}

// The state written last; nullopt if there is none (or it is unreadable).
std::optional<RebalanceState> ReadState(const RebalanceFiles& files) {
  std::ifstream in(files.state);
  if (!in) return std::nullopt;
  const nlohmann::json j = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return std::nullopt;
  RebalanceState s;
  try {
    s = j.get<RebalanceState>();
  } catch (const nlohmann::json::exception&) {
    return std::nullopt;  // a field of the wrong type
  }
  // A rebalance that died (killed, machine down) no longer holds the lock.
  if (s.state == "running" && !FileLock::Held(files.lock)) s.state = "interrupted";
  return s;
}

// Replaces the state file whole, so readers never see half of one.
Status WriteState(const RebalanceFiles& files, const RebalanceState& s) {
  const std::string temporary = files.state + ".tmp";
  {
    std::ofstream out(temporary, std::ios::trunc);
    out << StateJson(s).dump() << "\n";
    if (!out.flush()) return ErrnoError(errno, "writing " + temporary);
  }
  std::error_code ec;
  std::filesystem::rename(temporary, files.state, ec);
  if (ec) return InternalError("renaming " + temporary + ": " + ec.message());
  return Status::Ok();
}

// "rebalance: running, 45 % (123 shards moved)" and the like.
std::string StateLine(const RebalanceState& s) {
  const std::string percent = std::to_string(Percent(s)) + " %";
  const std::string moved = std::to_string(s.shards_moved) + " shards moved";
  const std::string resume = "; 'plexibackup target rebalance' resumes it";
  if (s.state == "running") return "rebalance: running, " + percent + " (" + moved + ")";
  if (s.state == "done") return "rebalance: done at " + s.finished + " (" + moved + ")";
  if (s.state == "failed") {
    return "rebalance: failed at " + s.finished + " after " + moved + ": " + s.error + resume;
  }
  return "rebalance: " + s.state + " at " + percent + " (" + moved + ")" + resume;
}

// Whether file descriptor `fd` writes to `path`.
bool WritesTo(int fd, const std::string& path) {
  struct stat a, b;
  return ::fstat(fd, &a) == 0 && ::stat(path.c_str(), &b) == 0 && a.st_dev == b.st_dev &&
         a.st_ino == b.st_ino;
}

// One pass over every object with the target list `backend` holds, from
// after the cursor of an interrupted pass over the same list.
Status RebalancePass(CliContext& ctx, ErasureBackend& backend, const RebalanceFiles& files) {
  RebalanceState state;
  state.state = "running";
  state.pid = ::getpid();
  state.started = state.updated = FormatRfc3339(NowNanos());
  state.target_list_version = backend.target_list().version;
  if (WritesTo(STDOUT_FILENO, files.log)) state.log = files.log;
  ScrubOptions options;
  options.verify = false;  // where shards are comes from the listing; each moved one is verified
  options.rebuild = false;
  options.cancel = &ctx.cancel;
  if (auto previous = ReadState(files);
      previous && previous->state != "done" &&
      previous->target_list_version == state.target_list_version && !previous->cursor.empty()) {
    options.start_after = state.cursor = previous->cursor;
    state.shards_moved = previous->shards_moved;
    // "running" here, where this process holds the lock, means it died.
    ctx.Print("resuming the " +
              (previous->state == "running" ? std::string("interrupted") : previous->state) +
              " rebalance after " + previous->cursor);
  }
  const uint64_t moved_before = state.shards_moved;
  PXB_RETURN_IF_ERROR(WriteState(files, state));
  Progress progress;
  ctx.StartProgress("rebalance", progress);
  // The first report, once the targets are listed, is written at once.
  std::chrono::steady_clock::time_point last_write;
  auto last_line = std::chrono::steady_clock::now();
  auto report = Scrub(backend, options, [&](const ScrubReport& r) {
    state.objects_total = r.objects_listed;
    state.objects_done = r.objects_listed - r.objects_to_scrub + r.objects;
    state.shards_moved = moved_before + r.shards_moved + r.shards_rebalanced;
    if (!r.cursor.empty()) state.cursor = r.cursor;
    progress.files_done = r.objects;
    progress.files_total = r.objects_to_scrub;
    progress.bytes_done = r.object_bytes;
    progress.bytes_total = r.bytes_to_scrub;
    progress.totals_known = true;
    const auto now = std::chrono::steady_clock::now();
    if (now - last_write < std::chrono::seconds(1)) return;
    last_write = now;
    state.updated = FormatRfc3339(NowNanos());
    WriteState(files, state).IgnoreError();  // the final write is checked
    if (!state.log.empty() && !ctx.global.json && now - last_line >= std::chrono::seconds(10)) {
      last_line = now;
      ctx.Print(StateLine(state));
    }
  });
  ctx.StopProgress();
  state.finished = state.updated = FormatRfc3339(NowNanos());
  if (report.ok()) {
    state.state = "done";
    state.cursor.clear();
    state.objects_done = state.objects_total;
  } else {
    state.state = report.status().code() == StatusCode::kCancelled ? "cancelled" : "failed";
    state.error = std::string(report.status().message());
  }
  Status written = WriteState(files, state);
  if (!report.ok()) return report.status();
  std::vector<const ScrubObjectProblem*> not_moved;
  uint64_t missing_shards = 0;
  for (const ScrubObjectProblem& p : report->problems) {
    if (p.failed) not_moved.push_back(&p);
    missing_shards += p.good < p.total;
  }
  if (ctx.global.json) {
    nlohmann::json j = StateJson(state);
    j["type"] = "rebalance";
    j["shards_moved_off_draining"] = report->shards_moved;
    j["shards_rebalanced"] = report->shards_rebalanced;
    j["objects_deleted_meanwhile"] = report->objects_deleted;
    j["not_moved"] = not_moved.size();
    j["missing_shards"] = missing_shards;
    ctx.PrintJson(j);
  } else {
    for (const ScrubObjectProblem* p : not_moved) {
      std::string line = "not moved: " + p->object;
      for (const std::string& d : p->details) line += "\n  " + d;
      ctx.PrintError(line);
    }
    ctx.Print("rebalanced " + std::to_string(report->objects) +
              " objects with target list version " + std::to_string(state.target_list_version) +
              ": " + std::to_string(report->shards_moved) +
              " shards moved off draining or doubled-up targets, " +
              std::to_string(report->shards_rebalanced) + " to where placement puts them now");
    if (missing_shards > 0) {
      ctx.Print(std::to_string(missing_shards) +
                " objects miss shards (or were still being written): 'plexibackup scrub' "
                "rebuilds them");
    }
  }
  return written;
}

void PrintRunning(CliContext& ctx, const std::optional<RebalanceState>& state) {
  const int64_t pid = state ? state->pid : 0;
  if (ctx.global.json) {
    ctx.PrintJson({{"type", "rebalance_running"}, {"pid", pid}, {"log", state ? state->log : ""}});
    return;
  }
  std::string line = "a rebalance of this repository is running on this host (pid " +
                     std::to_string(pid) +
                     "); it starts over with the newest target list when its pass ends; follow "
                     "it with 'plexibackup target status'";
  if (state && !state->log.empty()) line += " or 'tail -f " + state->log + "'";
  ctx.Print(line);
}

// Runs rebalance passes under the lock until the target list stays the
// same. Another rebalance or a scrub holds the lock: says so, or with
// `wait` waits for it to end and then runs.
Status RunRebalance(CliContext& ctx, bool wait) {
  PXB_ASSIGN_OR_RETURN(auto storage, ctx.OpenTargets());
  auto files = RebalanceFilesFor(*storage);
  if (!files.ok() && IsNotFound(files.status())) {
    ctx.Print("no repository on these targets yet: nothing to move");
    return Status::Ok();
  }
  if (!files.ok()) return files.status();
  auto lock = FileLock::Take(files->lock, /*wait=*/false);
  if (!lock.ok() && lock.status().code() == StatusCode::kUnavailable) {
    if (!wait) {
      auto state = ReadState(*files);
      if (state && state->state == "running") {
        PrintRunning(ctx, state);
      } else {
        ctx.Print(
            "a scrub of this repository is running on this host: run 'plexibackup target "
            "rebalance' once it has finished, or add --wait to wait for it");
      }
      return Status::Ok();
    }
    ctx.Print("waiting for the rebalance or scrub of this repository that is running to finish");
    lock = FileLock::Take(files->lock, /*wait=*/true, &ctx.cancel);
  }
  if (!lock.ok()) return lock.status();
  std::optional<FileLock> held(std::move(*lock));
  if (WritesTo(STDOUT_FILENO, files->log)) {
    // In the background: the log tells of this start only, line by line.
    if (::ftruncate(STDOUT_FILENO, 0) != 0) ctx.PrintError("warning: cannot empty " + files->log);
    std::cout.setf(std::ios::unitbuf);
  }
  for (;;) {
    // The newest list, read under the lock.
    PXB_ASSIGN_OR_RETURN(auto backend, ctx.OpenTargets());
    const uint64_t version = backend->target_list().version;
    PXB_RETURN_IF_ERROR(RebalancePass(ctx, *backend, *files));
    // A `target add` or `drain` that found this pass running left its new
    // list to it: look again once the lock is free, so none is missed.
    held.reset();
    auto newest = ctx.OpenTargets();
    if (!newest.ok() || (*newest)->target_list().version == version) return Status::Ok();
    auto again = FileLock::Take(files->lock, /*wait=*/false);
    if (!again.ok()) return Status::Ok();  // another rebalance has taken over
    held.emplace(std::move(*again));
    ctx.Print("the target list changed to version " +
              std::to_string((*newest)->target_list().version) + ": rebalancing again");
  }
}

// After `target add` or `drain` stored a new list: starts the rebalance in
// the background (or, with --wait, runs it here).
Status StartRebalance(CliContext& ctx, ErasureBackend& storage, const TargetArgs& args) {
  if (args.no_rebalance) {
    ctx.Print("no rebalance started: 'plexibackup target rebalance' moves the shards");
    return Status::Ok();
  }
  if (args.wait) return RunRebalance(ctx, /*wait=*/true);
  const std::string not_started =
      "the new target list is stored, but no rebalance started ('plexibackup target rebalance' "
      "starts one)";
  auto files = RebalanceFilesFor(storage);
  if (!files.ok() && IsNotFound(files.status())) {
    ctx.Print("no repository on these targets yet: nothing to rebalance");
    return Status::Ok();
  }
  if (!files.ok()) return files.status().WithContext(not_started);
  bool busy;
  {
    auto probe = FileLock::Take(files->lock, /*wait=*/false);
    if (!probe.ok() && probe.status().code() != StatusCode::kUnavailable) {
      return probe.status().WithContext(not_started);
    }
    busy = !probe.ok();
  }  // released: the background process takes the lock itself
  const auto state = ReadState(*files);
  if (busy && state && state->state == "running") {
    PrintRunning(ctx, state);
    return Status::Ok();
  }
  // It waits for a scrub that holds the lock, or for a rebalance that
  // started since this check.
  auto spawned = ctx.SpawnDetached({"target", "rebalance", "--wait"}, files->log);
  if (!spawned.ok()) return spawned.status().WithContext(not_started);
  const pid_t pid = *spawned;
  if (ctx.global.json) {
    ctx.PrintJson({{"type", "rebalance_started"},
                   {"pid", pid},
                   {"log", files->log},
                   {"state_file", files->state}});
  } else {
    ctx.Print(std::string(busy ? "a scrub of this repository is running: when it has finished, "
                                 "shards are rebalanced"
                               : "rebalancing shards") +
              " in the background (pid " + std::to_string(pid) + "); follow it with 'tail -f " +
              files->log + "' or 'plexibackup target status'");
  }
  return Status::Ok();
}

nlohmann::json SpecJson(const TargetSpec& t) {
  return {{"name", t.name},
          {"url", t.url},
          {"region", t.region},
          {"zone", t.zone},
          {"weight", t.weight},
          {"capacity", t.capacity},
          {"state", std::string(TargetStateName(t.state))}};
}

Status RunTargetList(CliContext& ctx) {
  PXB_ASSIGN_OR_RETURN(auto backend, ctx.OpenTargets());
  const TargetList& list = backend->target_list();
  if (ctx.global.json) {
    nlohmann::json targets = nlohmann::json::array();
    for (const TargetSpec& t : list.targets) targets.push_back(SpecJson(t));
    ctx.PrintJson(
        {{"type", "targets"},
         {"version", list.version},
         {"erasure", std::to_string(list.data_shards) + "+" + std::to_string(list.parity_shards)},
         {"min_shards", list.min_shards},
         {"targets", targets}});
    return Status::Ok();
  }
  ctx.Print("erasure " + std::to_string(list.data_shards) + "+" +
            std::to_string(list.parity_shards) + ", writes need " +
            std::to_string(list.min_shards) + " shards; target list version " +
            std::to_string(list.version));
  for (const TargetSpec& t : list.targets) {
    ctx.Print(t.name + "  " + t.url + "  region=" + t.region + " zone=" + t.zone + " weight=" +
              std::to_string(t.weight) + (t.capacity ? " capacity=" + HumanBytes(t.capacity) : "") +
              "  " + std::string(TargetStateName(t.state)));
  }
  return Status::Ok();
}

Status RunTargetStatus(CliContext& ctx) {
  PXB_ASSIGN_OR_RETURN(auto backend, ctx.OpenTargets());
  // Probe each target with a small listing, timed.
  std::vector<std::string> probe_errors(backend->target_count());
  std::vector<double> probe_ms(backend->target_count());
  for (size_t i = 0; i < backend->target_count(); ++i) {
    const auto start = std::chrono::steady_clock::now();
    Status listed =
        backend->target(i).List(kTargetListPrefix, [](const ObjectInfo&) { return Status::Ok(); });
    probe_ms[i] =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    if (!listed.ok()) {
      probe_errors[i] = std::string(listed.message());
      backend->SetTargetUp(i, false);
    }
  }
  // Redundancy of every object from the listings (no shard is read).
  PXB_ASSIGN_OR_RETURN(ScrubReport report, SurveyRedundancy(*backend));
  const std::vector<TargetHealth> health = backend->Health();
  const TargetList& list = backend->target_list();
  std::optional<RebalanceState> rebalance;
  if (auto files = RebalanceFilesFor(*backend); files.ok()) rebalance = ReadState(*files);
  // Targets whose probe failed were marked down above: they hold no share.
  const std::vector<TargetFill> fills = backend->TargetFills();
  const std::vector<uint64_t> balanced = BalancedHoldings(fills);
  if (ctx.global.json) {
    nlohmann::json targets = nlohmann::json::array();
    for (size_t i = 0; i < health.size(); ++i) {
      nlohmann::json t = SpecJson(list.targets[i]);
      t["up"] = probe_errors[i].empty();
      t["probe_ms"] = probe_ms[i];
      t["error"] = probe_errors[i];
      t["shards"] = health[i].shards_known;
      t["bytes"] = health[i].bytes_known;
      t["balanced_bytes"] = balanced[i];
      targets.push_back(t);
    }
    nlohmann::json objects = nlohmann::json::array();
    for (const ScrubObjectProblem& p : report.problems) {
      objects.push_back({{"object", p.object},
                         {"redundancy", RedundancyName(p.redundancy)},
                         {"good_shards", p.good},
                         {"shards", p.total}});
    }
    ctx.PrintJson({{"type", "target_status"},
                   {"targets", targets},
                   {"objects", report.objects},
                   {"full", report.objects_full},
                   {"degraded", report.objects_degraded},
                   {"at_risk", report.objects_at_risk},
                   {"lost", report.objects_lost},
                   {"not_full", objects},
                   {"rebalance", rebalance ? StateJson(*rebalance) : nlohmann::json()}});
  } else {
    for (size_t i = 0; i < health.size(); ++i) {
      const TargetSpec& t = list.targets[i];
      std::string line = t.name + "  " + (probe_errors[i].empty() ? "up" : "DOWN") + "  " +
                         t.region + "/" + t.zone + "  " + std::to_string(health[i].shards_known) +
                         " shards, " + HumanBytes(health[i].bytes_known);
      if (t.capacity) line += " of " + HumanBytes(t.capacity);
      if (fills[i].balanced) line += " (balanced: " + HumanBytes(balanced[i]) + ")";
      if (t.state == TargetState::kDraining) line += "  draining";
      if (!probe_errors[i].empty()) line += "\n  " + probe_errors[i];
      ctx.Print(line);
    }
    for (const ScrubObjectProblem& p : report.problems) {
      ctx.Print(std::string(RedundancyName(p.redundancy)) + ": " + p.object + " (" +
                std::to_string(p.good) + " of " + std::to_string(p.total) + " shards)");
    }
    ctx.Print("redundancy of " + std::to_string(report.objects) +
              " objects: " + RedundancyCounts(report));
    if (rebalance) ctx.Print(StateLine(*rebalance));
    if (report.objects_degraded + report.objects_at_risk > 0) {
      ctx.Print("run 'plexibackup scrub' to rebuild the missing shards");
    }
  }
  if (report.objects_lost > 0) {
    return DataLossError(std::to_string(report.objects_lost) + " objects have fewer than k shards");
  }
  return Status::Ok();
}

// Stores `list` (one version up) on every target that will be in it.
Status StoreNewList(CliContext& ctx, ErasureBackend& old, TargetList list) {
  list.version = old.target_list().version + 1;
  PXB_RETURN_IF_ERROR(ValidateTargetList(list));
  PXB_ASSIGN_OR_RETURN(FileConfig config, ctx.Config());
  PXB_ASSIGN_OR_RETURN(auto updated,
                       OpenErasureBackend(list, {}, CliContext::TargetOpenerFor(config)));
  for (size_t i = 0; i < updated->target_count(); ++i) {
    PXB_RETURN_IF_ERROR(
        updated->target(i).Create(false).WithContext("target " + list.targets[i].name));
  }
  PXB_RETURN_IF_ERROR(updated->StoreTargetList());
  ctx.Print("stored target list version " + std::to_string(list.version) +
            "; it takes precedence over the config file's [[target]] tables");
  return Status::Ok();
}

size_t FindTarget(const TargetList& list, const std::string& name) {
  for (size_t i = 0; i < list.targets.size(); ++i) {
    if (list.targets[i].name == name) return i;
  }
  return list.targets.size();
}

Status RunTargetAdd(CliContext& ctx, const TargetArgs& args) {
  PXB_ASSIGN_OR_RETURN(auto backend, ctx.OpenTargets());
  TargetList list = backend->target_list();
  if (FindTarget(list, args.name) != list.targets.size()) {
    return AlreadyExistsError("target " + args.name + " exists already");
  }
  TargetSpec spec{args.name,   args.url,      args.region,         args.zone,
                  args.weight, args.capacity, TargetState::kActive};
  list.targets.push_back(spec);
  PXB_RETURN_IF_ERROR(StoreNewList(ctx, *backend, std::move(list)));
  ctx.Print("added target " + args.name + "; new shards go there now");
  return StartRebalance(ctx, *backend, args);
}

Status RunTargetDrain(CliContext& ctx, const TargetArgs& args) {
  PXB_ASSIGN_OR_RETURN(auto backend, ctx.OpenTargets());
  TargetList list = backend->target_list();
  const size_t i = FindTarget(list, args.name);
  if (i == list.targets.size()) return NotFoundError("no target named " + args.name);
  list.targets[i].state = TargetState::kDraining;
  PXB_RETURN_IF_ERROR(StoreNewList(ctx, *backend, std::move(list)));
  ctx.Print("target " + args.name +
            " is draining: it takes no new shards, and a rebalance moves its shards to the "
            "others; 'plexibackup target remove " +
            args.name + "' once it holds none");
  return StartRebalance(ctx, *backend, args);
}

Status RunTargetRemove(CliContext& ctx, const TargetArgs& args) {
  PXB_ASSIGN_OR_RETURN(auto backend, ctx.OpenTargets());
  TargetList list = backend->target_list();
  const size_t i = FindTarget(list, args.name);
  if (i == list.targets.size()) return NotFoundError("no target named " + args.name);
  uint64_t shards = 0;
  Status listed = backend->target(i).List("", [&](const ObjectInfo& info) {
    if (ParseShardObjectName(info.name).ok()) shards++;
    return Status::Ok();
  });
  if (!listed.ok() && !args.force) {
    return listed.WithContext("target " + args.name +
                              " cannot be listed; --force removes it anyway (its shards are then "
                              "rebuilt elsewhere by scrub)");
  }
  if (shards > 0 && !args.force) {
    return FailedPreconditionError("target " + args.name + " still holds " +
                                   std::to_string(shards) +
                                   " shards: run 'plexibackup target drain " + args.name +
                                   "' and let its rebalance finish ('plexibackup target status' "
                                   "shows it) first, or --force to remove it and let scrub "
                                   "rebuild them from the others");
  }
  list.targets.erase(list.targets.begin() + static_cast<std::ptrdiff_t>(i));
  if (list.targets.size() < static_cast<size_t>(list.data_shards + 1)) {
    return FailedPreconditionError("removing " + args.name + " would leave fewer than k + 1 = " +
                                   std::to_string(list.data_shards + 1) + " targets");
  }
  PXB_RETURN_IF_ERROR(StoreNewList(ctx, *backend, std::move(list)));
  ctx.Print("removed target " + args.name);
  return Status::Ok();
}

void AddRebalanceFlags(CLI::App* cmd, TargetArgs& args) {
  CLI::Option* wait =
      cmd->add_flag("--wait", args.wait,
                    "rebalance here and now instead of in the background (after a running "
                    "rebalance or scrub has ended)");
  cmd->add_flag("--no-rebalance", args.no_rebalance,
                "start no rebalance ('plexibackup target rebalance' runs one later)")
      ->excludes(wait);
}

}  // namespace

StatusOr<std::string> ShardMoverLockFile(Backend& storage) {
  return CliContext::HostStateFile(storage, "rebalance.lock");
}

void RegisterTarget(CLI::App& app, CliContext& ctx) {
  CLI::App* cmd =
      app.add_subcommand("target", "list, check, add, drain, remove or rebalance storage targets");
  cmd->require_subcommand(1);
  auto args = std::make_shared<TargetArgs>();

  cmd->add_subcommand("list", "show the targets and erasure settings")->callback([&ctx] {
    ctx.status = RunTargetList(ctx);
  });
  cmd->add_subcommand("status", "probe every target and report the redundancy of every object")
      ->callback([&ctx] { ctx.status = RunTargetStatus(ctx); });

  CLI::App* add = cmd->add_subcommand("add", "add a target");
  add->add_option("name", args->name, "the target's name ([a-z0-9_-])")->required();
  add->add_option("url", args->url, "file:///path or s3:http(s)://host:port/bucket")->required();
  add->add_option("--region", args->region, "failure domain: region label");
  add->add_option("--zone", args->zone, "failure domain: zone label");
  add->add_option("--weight", args->weight, "share of new shards relative to the others");
  add->add_option("--capacity", args->capacity, "bytes it may hold (0: not limited)");
  AddRebalanceFlags(add, *args);
  add->callback([&ctx, args] { ctx.status = RunTargetAdd(ctx, *args); });

  CLI::App* drain = cmd->add_subcommand("drain", "stop writing to a target and move its shards");
  drain->add_option("name", args->name, "the target")->required();
  AddRebalanceFlags(drain, *args);
  drain->callback([&ctx, args] { ctx.status = RunTargetDrain(ctx, *args); });

  CLI::App* remove = cmd->add_subcommand("remove", "remove a drained target from the list");
  remove->add_option("name", args->name, "the target")->required();
  remove->add_flag("--force", args->force, "remove even if it still holds shards");
  remove->callback([&ctx, args] { ctx.status = RunTargetRemove(ctx, *args); });

  CLI::App* rebalance = cmd->add_subcommand(
      "rebalance",
      "move shards off draining targets and to where placement puts them now, copying and "
      "verifying each before deleting the original; resumes an interrupted run");
  rebalance->add_flag("--wait", args->wait,
                      "if a rebalance or scrub of this repository is running on this host, wait "
                      "for it to end and then run (default: say so and exit)");
  rebalance->callback([&ctx, args] { ctx.status = RunRebalance(ctx, args->wait); });
}

}  // namespace pxb::cli
