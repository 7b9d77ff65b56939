#include "storage/faulty/faulty_backend.h"

#include <algorithm>
#include <optional>
#include <utility>

namespace pxb {

FaultyBackend::FaultyBackend(std::unique_ptr<Backend> inner) : inner_(std::move(inner)) {}

void FaultyBackend::FailNth(Method m, int n, Status status) {
  std::lock_guard<std::mutex> lock(mu_);
  int call = calls_[static_cast<size_t>(m)] + n;
  fail_rules_.push_back(FailRule{m, FailRule::Kind::kNth, call, "", std::move(status)});
}

void FaultyBackend::FailAll(Method m, Status status) {
  std::lock_guard<std::mutex> lock(mu_);
  fail_rules_.push_back(FailRule{m, FailRule::Kind::kAll, 0, "", std::move(status)});
}

void FaultyBackend::FailNamesMatching(Method m, std::string prefix, Status status) {
  std::lock_guard<std::mutex> lock(mu_);
  fail_rules_.push_back(
      FailRule{m, FailRule::Kind::kNamePrefix, 0, std::move(prefix), std::move(status)});
}

void FaultyBackend::CorruptReads(std::string prefix) {
  std::lock_guard<std::mutex> lock(mu_);
  corrupt_prefixes_.push_back(std::move(prefix));
}

void FaultyBackend::TruncateWrites(std::string prefix, size_t keep) {
  std::lock_guard<std::mutex> lock(mu_);
  truncations_.emplace_back(std::move(prefix), keep);
}

void FaultyBackend::ClearFaults() {
  std::lock_guard<std::mutex> lock(mu_);
  fail_rules_.clear();
  corrupt_prefixes_.clear();
  truncations_.clear();
}

int FaultyBackend::Calls(Method m) const {
  std::lock_guard<std::mutex> lock(mu_);
  return calls_[static_cast<size_t>(m)];
}

Status FaultyBackend::Enter(Method m, std::string_view op, std::string_view name) {
  Status injected;
  {
    std::lock_guard<std::mutex> lock(mu_);
    int call = ++calls_[static_cast<size_t>(m)];
    for (const FailRule& rule : fail_rules_) {
      if (rule.method != m) continue;
      bool fails = false;
      switch (rule.kind) {
        case FailRule::Kind::kNth:
          fails = rule.call == call;
          break;
        case FailRule::Kind::kAll:
          fails = true;
          break;
        case FailRule::Kind::kNamePrefix:
          fails = name.starts_with(rule.prefix);
          break;
      }
      if (fails) {
        injected = rule.status;
        break;
      }
    }
  }
  if (injected.ok()) return injected;
  std::string context = Location() + ": " + std::string(op);
  if (!name.empty()) context += " " + std::string(name);
  return injected.WithContext(context);
}

std::string FaultyBackend::Location() const { return inner_->Location(); }

Status FaultyBackend::Create(bool exclusive) {
  PXB_RETURN_IF_ERROR(Enter(Method::kCreate, "create", ""));
  return inner_->Create(exclusive);
}

Status FaultyBackend::Put(std::string_view name, ByteView data) {
  PXB_RETURN_IF_ERROR(Enter(Method::kPut, "put", name));
  std::optional<size_t> keep;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [prefix, n] : truncations_) {
      if (name.starts_with(prefix)) {
        keep = n;
        break;
      }
    }
  }
  if (keep.has_value()) data = data.first(std::min(*keep, data.size()));
  return inner_->Put(name, data);
}

StatusOr<Bytes> FaultyBackend::Get(std::string_view name, uint64_t offset, uint64_t length) {
  PXB_RETURN_IF_ERROR(Enter(Method::kGet, "get", name));
  PXB_ASSIGN_OR_RETURN(Bytes data, inner_->Get(name, offset, length));
  bool corrupt = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    corrupt = std::any_of(corrupt_prefixes_.begin(), corrupt_prefixes_.end(),
                          [&](const std::string& prefix) { return name.starts_with(prefix); });
  }
  if (corrupt && !data.empty()) data[data.size() / 2] ^= std::byte{0xff};
  return data;
}

StatusOr<ObjectInfo> FaultyBackend::Stat(std::string_view name) {
  PXB_RETURN_IF_ERROR(Enter(Method::kStat, "stat", name));
  return inner_->Stat(name);
}

Status FaultyBackend::List(std::string_view prefix,
                           const std::function<Status(const ObjectInfo&)>& fn) {
  PXB_RETURN_IF_ERROR(Enter(Method::kList, "list", prefix));
  return inner_->List(prefix, fn);
}

Status FaultyBackend::Delete(std::string_view name) {
  PXB_RETURN_IF_ERROR(Enter(Method::kDelete, "delete", name));
  return inner_->Delete(name);
}

class FaultyBackend::Staged final : public StagedObject {
 public:
  Staged(FaultyBackend& owner, std::unique_ptr<StagedObject> inner)
      : owner_(owner), inner_(std::move(inner)) {}

  Status WriteAt(uint64_t offset, ByteView bytes) override {
    PXB_RETURN_IF_ERROR(owner_.Enter(Method::kStagedWrite, "write", "staged object"));
    return inner_->WriteAt(offset, bytes);
  }

  Status Commit(std::string_view name) override {
    PXB_RETURN_IF_ERROR(owner_.Enter(Method::kPut, "put", name));
    return inner_->Commit(name);
  }

 private:
  FaultyBackend& owner_;
  const std::unique_ptr<StagedObject> inner_;
};

StatusOr<std::unique_ptr<StagedObject>> FaultyBackend::Stage() {
  PXB_RETURN_IF_ERROR(Enter(Method::kStage, "stage", ""));
  PXB_ASSIGN_OR_RETURN(std::unique_ptr<StagedObject> inner, inner_->Stage());
  if (inner == nullptr) return inner;  // the inner backend builds objects in memory
  return std::unique_ptr<StagedObject>(std::make_unique<Staged>(*this, std::move(inner)));
}

}  // namespace pxb
