// plexibackup target list|status|add|drain|remove: the storage targets of
// an erasure-coded repository (doc/design.md section 13).
#include <chrono>

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
};

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
  if (ctx.global.json) {
    nlohmann::json targets = nlohmann::json::array();
    for (size_t i = 0; i < health.size(); ++i) {
      nlohmann::json t = SpecJson(list.targets[i]);
      t["up"] = probe_errors[i].empty();
      t["probe_ms"] = probe_ms[i];
      t["error"] = probe_errors[i];
      t["shards"] = health[i].shards_known;
      t["bytes"] = health[i].bytes_known;
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
                   {"not_full", objects}});
  } else {
    for (size_t i = 0; i < health.size(); ++i) {
      const TargetSpec& t = list.targets[i];
      std::string line = t.name + "  " + (probe_errors[i].empty() ? "up" : "DOWN") + "  " +
                         t.region + "/" + t.zone + "  " + std::to_string(health[i].shards_known) +
                         " shards, " + HumanBytes(health[i].bytes_known);
      if (t.capacity) line += " of " + HumanBytes(t.capacity);
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
  ctx.Print("added target " + args.name +
            "; new shards go there now, and 'plexibackup scrub' "
            "moves shards of objects that doubled up while targets were short");
  return Status::Ok();
}

Status RunTargetDrain(CliContext& ctx, const TargetArgs& args) {
  PXB_ASSIGN_OR_RETURN(auto backend, ctx.OpenTargets());
  TargetList list = backend->target_list();
  const size_t i = FindTarget(list, args.name);
  if (i == list.targets.size()) return NotFoundError("no target named " + args.name);
  list.targets[i].state = TargetState::kDraining;
  PXB_RETURN_IF_ERROR(StoreNewList(ctx, *backend, std::move(list)));
  ctx.Print("target " + args.name +
            " is draining: it takes no new shards; run 'plexibackup "
            "scrub' to move its shards to the other targets, then 'target remove'");
  return Status::Ok();
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
                                   "' and 'plexibackup scrub' first, or --force to remove it and "
                                   "let scrub rebuild them from the others");
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

}  // namespace

void RegisterTarget(CLI::App& app, CliContext& ctx) {
  CLI::App* cmd = app.add_subcommand("target", "list, check, add, drain or remove storage targets");
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
  add->callback([&ctx, args] { ctx.status = RunTargetAdd(ctx, *args); });

  CLI::App* drain = cmd->add_subcommand("drain", "stop writing to a target and move its shards");
  drain->add_option("name", args->name, "the target")->required();
  drain->callback([&ctx, args] { ctx.status = RunTargetDrain(ctx, *args); });

  CLI::App* remove = cmd->add_subcommand("remove", "remove a drained target from the list");
  remove->add_option("name", args->name, "the target")->required();
  remove->add_flag("--force", args->force, "remove even if it still holds shards");
  remove->callback([&ctx, args] { ctx.status = RunTargetRemove(ctx, *args); });
}

}  // namespace pxb::cli
