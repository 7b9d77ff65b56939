#include "cli/commands.h"
#include "core/crypto/aead.h"
#include "format/keyslot_format.h"
#include "storage/backend.h"

namespace pxb::cli {

namespace {

struct InitArgs {
  std::string cipher = "aes-256-gcm";
  uint32_t kdf_memory_mib = kDefaultArgon2idParams.memory_kib / 1024;
  uint32_t kdf_iterations = kDefaultArgon2idParams.iterations;
  uint32_t avg_chunk_kib = kDefaultRepositoryChunker.avg_size / 1024;
  uint32_t pack_size_mib = 16;
  std::string label;
};

Status RunInit(CliContext& ctx, const InitArgs& args) {
  PXB_ASSIGN_OR_RETURN(auto backend, ctx.OpenStorage());
  InitOptions options;
  PXB_ASSIGN_OR_RETURN(options.cipher, AeadFromName(args.cipher));
  options.kdf = Argon2idParams{args.kdf_memory_mib * 1024, args.kdf_iterations, 1};
  options.chunker.avg_size = args.avg_chunk_kib * 1024;
  options.chunker.min_size = options.chunker.avg_size / 4;
  options.chunker.max_size = options.chunker.avg_size * 4;
  options.pack_size = uint64_t{args.pack_size_mib} << 20;
  options.key_label = args.label;
  PXB_ASSIGN_OR_RETURN(std::string passphrase, ctx.Passphrase(/*confirm=*/true));
  const std::string location = backend->Location();
  PXB_ASSIGN_OR_RETURN(auto repo, Repository::Init(std::move(backend), passphrase, options));
  if (ctx.global.json) {
    ctx.PrintJson({{"type", "init"},
                   {"repository", location},
                   {"id", repo->config().id.Hex()},
                   {"cipher", AeadName(repo->config().cipher)},
                   {"key_slot", repo->unlocked_slot().Hex()}});
  }
  ctx.Print("created repository " + repo->config().id.ShortHex() + " at " + location);
  ctx.Print("keep the passphrase safe: without it the data cannot be recovered");
  return Status::Ok();
}

}  // namespace

void RegisterInit(CLI::App& app, CliContext& ctx) {
  auto args = std::make_shared<InitArgs>();
  CLI::App* cmd = app.add_subcommand("init", "create a new repository");
  cmd->add_option("--cipher", args->cipher, "aes-256-gcm or xchacha20-poly1305");
  cmd->add_option("--kdf-memory", args->kdf_memory_mib, "Argon2id memory in MiB")
      ->check(CLI::Range(8, 4096));
  cmd->add_option("--kdf-iterations", args->kdf_iterations, "Argon2id passes")
      ->check(CLI::Range(1, 100));
  cmd->add_option("--chunk-size", args->avg_chunk_kib, "average chunk size in KiB (power of two)")
      ->check(CLI::IsMember({64, 128, 256, 512, 1024, 2048, 4096}));
  cmd->add_option("--pack-size", args->pack_size_mib, "target pack size in MiB")
      ->check(CLI::Range(1, 1024));
  cmd->add_option("--label", args->label, "a label for the first key slot");
  cmd->callback([&ctx, args] { ctx.status = RunInit(ctx, *args); });
}

}  // namespace pxb::cli
