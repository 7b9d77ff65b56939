#include "cli/commands.h"
#include "core/time.h"
#include "format/keyslot_format.h"

namespace pxb::cli {

namespace {

struct KeyArgs {
  std::string id;
  std::string new_password_file;
  std::string label;
  uint32_t kdf_memory_mib = kDefaultArgon2idParams.memory_kib / 1024;
  uint32_t kdf_iterations = kDefaultArgon2idParams.iterations;
};

Status RunKeyList(CliContext& ctx) {
  PXB_ASSIGN_OR_RETURN(auto repo, ctx.OpenRepository());
  PXB_ASSIGN_OR_RETURN(auto slots, repo->ListKeySlots());
  if (ctx.global.json) {
    nlohmann::json list = nlohmann::json::array();
    for (const KeySlotEntry& e : slots) {
      list.push_back({{"id", e.id.Hex()},
                      {"kind", e.slot.kind},
                      {"current", e.id == repo->unlocked_slot()},
                      {"created", FormatRfc3339(e.slot.created_ns)},
                      {"host", e.slot.host},
                      {"user", e.slot.user},
                      {"label", e.slot.label},
                      {"damage", e.damage}});
    }
    ctx.PrintJson(list);
    return Status::Ok();
  }
  for (const KeySlotEntry& e : slots) {
    ctx.Print((e.id == repo->unlocked_slot() ? "* " : "  ") + e.id.ShortHex() + "  " + e.slot.kind +
              "  " + FormatLocal(e.slot.created_ns) + "  " + e.slot.user + "@" + e.slot.host +
              (e.slot.label.empty() ? "" : "  " + e.slot.label) +
              (e.damage.empty() ? "" : "  (" + e.damage + ")"));
  }
  return Status::Ok();
}

StatusOr<KeySlotId> FindSlot(Repository& repo, const std::string& prefix) {
  PXB_ASSIGN_OR_RETURN(auto slots, repo.ListKeySlots());
  std::vector<KeySlotId> matches;
  for (const KeySlotEntry& e : slots) {
    if (!prefix.empty() && e.id.Hex().starts_with(prefix)) matches.push_back(e.id);
  }
  if (matches.empty()) return NotFoundError("no key slot matches '" + prefix + "'");
  if (matches.size() > 1) return InvalidArgumentError("'" + prefix + "' matches several key slots");
  return matches.front();
}

Status RunKeyAdd(CliContext& ctx, const KeyArgs& args, bool replace_current) {
  PXB_ASSIGN_OR_RETURN(auto repo, ctx.OpenRepository());
  PXB_ASSIGN_OR_RETURN(std::string passphrase, ctx.NewPassphrase(args.new_password_file));
  Argon2idParams params{args.kdf_memory_mib * 1024, args.kdf_iterations, 1};
  PXB_ASSIGN_OR_RETURN(KeySlotId id, repo->AddPassphraseSlot(passphrase, params, args.label));
  ctx.Print("added key slot " + id.ShortHex());
  if (replace_current) {
    PXB_RETURN_IF_ERROR(repo->RemoveKeySlot(repo->unlocked_slot()));
    ctx.Print("removed key slot " + repo->unlocked_slot().ShortHex());
  }
  if (ctx.global.json) ctx.PrintJson({{"type", "key"}, {"added", id.Hex()}});
  return Status::Ok();
}

Status RunKeyRemove(CliContext& ctx, const KeyArgs& args) {
  PXB_ASSIGN_OR_RETURN(auto repo, ctx.OpenRepository());
  PXB_ASSIGN_OR_RETURN(KeySlotId id, FindSlot(*repo, args.id));
  if (id == repo->unlocked_slot()) {
    return FailedPreconditionError("key slot " + id.ShortHex() +
                                   " is the one opened now: open with another passphrase to "
                                   "remove it, or use 'key passwd'");
  }
  PXB_RETURN_IF_ERROR(repo->RemoveKeySlot(id));
  ctx.Print("removed key slot " + id.ShortHex());
  if (ctx.global.json) ctx.PrintJson({{"type", "key"}, {"removed", id.Hex()}});
  return Status::Ok();
}

void AddKdfOptions(CLI::App* cmd, KeyArgs& args) {
  cmd->add_option("--new-password-file", args.new_password_file,
                  "read the new passphrase from a file (env PLEXIBACKUP_NEW_PASSWORD)");
  cmd->add_option("--label", args.label, "a label for the new slot");
  cmd->add_option("--kdf-memory", args.kdf_memory_mib, "Argon2id memory in MiB")
      ->check(CLI::Range(8, 4096));
  cmd->add_option("--kdf-iterations", args.kdf_iterations, "Argon2id passes")
      ->check(CLI::Range(1, 100));
}

}  // namespace

void RegisterKey(CLI::App& app, CliContext& ctx) {
  auto args = std::make_shared<KeyArgs>();
  CLI::App* key = app.add_subcommand("key", "manage the key slots that open the repository");
  key->require_subcommand(1);
  key->add_subcommand("list", "list key slots (* marks the one opened)")->callback([&ctx] {
    ctx.status = RunKeyList(ctx);
  });
  CLI::App* add = key->add_subcommand("add", "add a passphrase slot");
  AddKdfOptions(add, *args);
  add->callback([&ctx, args] { ctx.status = RunKeyAdd(ctx, *args, false); });
  CLI::App* passwd =
      key->add_subcommand("passwd", "replace the passphrase that opened the repository");
  AddKdfOptions(passwd, *args);
  passwd->callback([&ctx, args] { ctx.status = RunKeyAdd(ctx, *args, true); });
  CLI::App* remove = key->add_subcommand("remove", "remove a key slot");
  remove->add_option("id", args->id, "key slot id (a unique prefix)")->required();
  remove->callback([&ctx, args] { ctx.status = RunKeyRemove(ctx, *args); });
}

}  // namespace pxb::cli
