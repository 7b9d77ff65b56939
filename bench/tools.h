// The backup tools under test, as command lines: plexibackup and its peers
// restic and borg. Each tool owns one repository folder and one cache folder
// in the work folder and is driven only through its command-line interface.
//
//   PXB_ASSIGN_OR_RETURN(auto tool, MakeTool("restic", "/usr/bin/restic", workdir));
//   ChildSpec spec = tool->Backup(source);
//
// Thread-safety: a Tool is used by one thread.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "bench/process.h"
#include "pxb/status.h"

namespace pxb::bench {

inline constexpr std::string_view kPlexibackup = "plexibackup";
// plexibackup erasure-coded 4+2 over six local targets.
inline constexpr std::string_view kPlexibackupErasure = "plexibackup-4+2";
inline constexpr std::string_view kPassphrase = "pxb-bench passphrase";

class Tool {
 public:
  Tool(std::string name, std::filesystem::path program, const std::filesystem::path& workdir);
  virtual ~Tool() = default;

  const std::string& name() const { return name_; }
  const std::filesystem::path& program() const { return program_; }
  const std::filesystem::path& repo() const { return repo_; }
  // The tool's local state besides the repository (restic's and borg's caches).
  const std::filesystem::path& cache() const { return cache_; }

  // Deletes the repository and the cache so that Init() starts afresh.
  virtual Status Reset();

  // Commands; a tool's own log file is set by the caller.
  virtual ChildSpec Version() const = 0;
  virtual ChildSpec Init() const = 0;
  virtual ChildSpec Backup(const std::filesystem::path& source) = 0;
  // Restores the newest backup into `target`, an empty existing folder.
  virtual ChildSpec Restore(const std::filesystem::path& target) const = 0;
  // Verifies the structure and reads back every stored byte.
  virtual ChildSpec CheckReadData() const = 0;
  // Forgets all snapshots but the `keep_last` newest, whatever their paths,
  // and removes the data no remaining snapshot needs, at once.
  virtual ChildSpec ForgetAndPrune(int keep_last) const = 0;

 protected:
  ChildSpec Command(std::vector<std::string> args) const;
  // Sets the variables the tool needs and unsets those that would let the
  // caller's own setup change what is measured.
  virtual void SetEnvironment(ChildSpec& spec) const = 0;

  std::string name_;
  std::filesystem::path program_;
  std::filesystem::path repo_;
  std::filesystem::path cache_;
};

// `name` is "plexibackup", "plexibackup-4+2", "restic" or "borg";
// kInvalidArgument otherwise.
StatusOr<std::unique_ptr<Tool>> MakeTool(std::string_view name,
                                         const std::filesystem::path& program,
                                         const std::filesystem::path& workdir);

}  // namespace pxb::bench
