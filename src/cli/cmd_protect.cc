#include "cli/commands.h"
#include "core/host.h"
#include "engine/forget.h"

namespace pxb::cli {

namespace {

struct ProtectArgs {
  std::string id;
  bool legal_hold = false;
  std::string until;
  std::string reason;
  bool list = false;
};

struct UnprotectArgs {
  std::string id;
  bool release_legal_hold = false;
};

Status ListHolds(CliContext& ctx, Repository& repo) {
  PXB_ASSIGN_OR_RETURN(std::vector<HoldEntry> holds, repo.ListHolds());
  const int64_t now = NowNanos();
  nlohmann::json out = nlohmann::json::array();
  for (const HoldEntry& h : holds) {
    const Hold& v = h.value;
    const bool active = v.ActiveAt(now);
    if (ctx.global.json) {
      out.push_back({{"id", h.id.Hex()},
                     {"snapshot", v.snapshot.Hex()},
                     {"kind", HoldKindName(v.kind)},
                     {"until", v.kind == HoldKind::kLock ? nlohmann::json(FormatRfc3339(v.until_ns))
                                                         : nlohmann::json(nullptr)},
                     {"active", active},
                     {"reason", v.reason},
                     {"created", FormatRfc3339(v.created_ns)},
                     {"host", v.host},
                     {"user", v.user}});
    } else {
      ctx.Print(v.snapshot.ShortHex() + "  " + std::string(HoldKindName(v.kind)) +
                (v.kind == HoldKind::kLock ? " until " + FormatLocal(v.until_ns) : "") +
                (active ? "" : " (over)") + (v.reason.empty() ? "" : "  " + v.reason));
    }
  }
  if (ctx.global.json) ctx.PrintJson({{"type", "holds"}, {"holds", out}});
  return Status::Ok();
}

Status RunProtect(CliContext& ctx, const ProtectArgs& args) {
  PXB_ASSIGN_OR_RETURN(auto repo, ctx.OpenRepository());
  if (args.list) return ListHolds(ctx, *repo);
  if (args.id.empty()) return InvalidArgumentError("name the snapshot to protect, or use --list");
  if (args.legal_hold == !args.until.empty()) {
    return InvalidArgumentError("give exactly one of --legal-hold and --until DATE");
  }
  Hold hold;
  hold.kind = args.legal_hold ? HoldKind::kLegalHold : HoldKind::kLock;
  if (!args.until.empty()) {
    PXB_ASSIGN_OR_RETURN(hold.until_ns, ParseTime(args.until));
  }
  hold.reason = args.reason;
  hold.host = CurrentHostName();
  if (const char* user = std::getenv("USER")) hold.user = user;
  PXB_ASSIGN_OR_RETURN(SnapshotId id, repo->ResolveSnapshot(args.id));
  PXB_ASSIGN_OR_RETURN(ObjectHash hold_id, ProtectSnapshot(*repo, id, hold));
  if (ctx.global.json) {
    ctx.PrintJson({{"type", "protect"}, {"snapshot", id.Hex()}, {"hold", hold_id.Hex()}});
  } else {
    ctx.Print("snapshot " + id.ShortHex() + " is protected by " +
              (hold.kind == HoldKind::kLegalHold ? "a legal hold"
                                                 : "a lock until " + FormatLocal(hold.until_ns)));
  }
  return Status::Ok();
}

Status RunUnprotect(CliContext& ctx, const UnprotectArgs& args) {
  PXB_ASSIGN_OR_RETURN(auto repo, ctx.OpenRepository());
  PXB_ASSIGN_OR_RETURN(SnapshotId id, repo->ResolveSnapshot(args.id));
  PXB_ASSIGN_OR_RETURN(size_t removed, UnprotectSnapshot(*repo, id, args.release_legal_hold));
  if (ctx.global.json) {
    ctx.PrintJson({{"type", "unprotect"}, {"snapshot", id.Hex()}, {"removed", removed}});
  } else {
    ctx.Print(std::to_string(removed) + " holds removed from snapshot " + id.ShortHex());
  }
  return Status::Ok();
}

}  // namespace

void RegisterProtect(CLI::App& app, CliContext& ctx) {
  auto protect = std::make_shared<ProtectArgs>();
  CLI::App* cmd = app.add_subcommand(
      "protect", "protect a snapshot from forget and prune: a legal hold or a lock until a date");
  cmd->add_option("snapshot", protect->id, "snapshot id or 'latest'");
  cmd->add_flag("--legal-hold", protect->legal_hold, "hold until released explicitly");
  cmd->add_option("--until", protect->until, "lock until this date (cannot be lifted before)");
  cmd->add_option("--reason", protect->reason, "why (shown in listings and audits)");
  cmd->add_flag("--list", protect->list, "list every hold");
  cmd->callback([&ctx, protect] { ctx.status = RunProtect(ctx, *protect); });

  auto unprotect = std::make_shared<UnprotectArgs>();
  CLI::App* un = app.add_subcommand(
      "unprotect", "remove a snapshot's expired locks and, if asked, its legal holds");
  un->add_option("snapshot", unprotect->id, "snapshot id")->required();
  un->add_flag("--release-legal-hold", unprotect->release_legal_hold, "release legal holds too");
  un->callback([&ctx, unprotect] { ctx.status = RunUnprotect(ctx, *unprotect); });
}

}  // namespace pxb::cli
