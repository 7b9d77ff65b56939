// FaultyBackend: a decorator that injects faults into another backend, per
// method and per call, for fault-injection and corruption tests.
//
// Without rules it forwards every call unchanged. Rules fail calls with a
// given status, corrupt the bytes Get returns, or store truncated objects
// while reporting success (a lying disk). Every call is counted, injected or
// not. Objects the inner backend stages (Backend::Stage) are wrapped too:
// each of their writes is a kStagedWrite call, and their Commit a kPut of
// the committed name (not subject to TruncateWrites).
//
//   FaultyBackend backend(std::make_unique<MemBackend>());
//   backend.FailNth(FaultyBackend::Method::kPut, 3, UnavailableError("flaky"));
//
// Thread-safety: safe for concurrent use, including changing rules while
// other threads call the backend; the inner backend must be as well.
#pragma once

#include <array>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "storage/backend.h"

namespace pxb {

class FaultyBackend final : public Backend {
 public:
  enum class Method { kCreate, kPut, kGet, kStat, kList, kDelete, kStage, kStagedWrite };
  static constexpr size_t kMethodCount = 8;

  explicit FaultyBackend(std::unique_ptr<Backend> inner);

  // The inner backend, e.g. to inspect what a lying Put stored.
  Backend& inner() { return *inner_; }

  // Fails the nth call of `m` made after this rule is added (n = 1 is the
  // next call) with `status`; the call does not reach the inner backend.
  void FailNth(Method m, int n, Status status);
  // Fails every call of `m` until ClearFaults.
  void FailAll(Method m, Status status);
  // Fails every call of `m` whose name starts with `prefix`. For List the
  // listed prefix is the name; Create has the name "".
  void FailNamesMatching(Method m, std::string prefix, Status status);
  // Flips every bit of the middle byte of what Get returns for names that
  // start with `prefix` (empty results are returned unchanged).
  void CorruptReads(std::string prefix);
  // Puts of names that start with `prefix` store only the first `keep`
  // bytes but report the inner backend's success.
  void TruncateWrites(std::string prefix, size_t keep);
  // Removes every rule; counters keep counting.
  void ClearFaults();

  // The number of calls of `m` so far, including failed ones.
  int Calls(Method m) const;

  // Injected failures carry the rule's code and message, with the location,
  // operation and name prepended like a real backend's.
  std::string Location() const override;
  Status Create(bool exclusive) override;
  Status Put(std::string_view name, ByteView data) override;
  StatusOr<Bytes> Get(std::string_view name, uint64_t offset = 0,
                      uint64_t length = kWholeObject) override;
  StatusOr<ObjectInfo> Stat(std::string_view name) override;
  Status List(std::string_view prefix, const std::function<Status(const ObjectInfo&)>& fn) override;
  Status Delete(std::string_view name) override;
  StatusOr<std::unique_ptr<StagedObject>> Stage() override;

 private:
  class Staged;

  struct FailRule {
    Method method;
    enum class Kind { kNth, kAll, kNamePrefix } kind;
    int call = 0;  // for kNth: the absolute call number that fails
    std::string prefix;
    Status status;
  };

  // Counts a call and returns the status of the first rule that fails it,
  // or OK, with context added.
  Status Enter(Method m, std::string_view op, std::string_view name);

  const std::unique_ptr<Backend> inner_;
  mutable std::mutex mu_;
  std::array<int, kMethodCount> calls_{};                    // guarded by mu_
  std::vector<FailRule> fail_rules_;                         // guarded by mu_
  std::vector<std::string> corrupt_prefixes_;                // guarded by mu_
  std::vector<std::pair<std::string, size_t>> truncations_;  // guarded by mu_
};

}  // namespace pxb
