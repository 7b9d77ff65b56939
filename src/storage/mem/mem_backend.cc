#include "storage/mem/mem_backend.h"

#include <map>
#include <mutex>
#include <utility>
#include <vector>

namespace pxb {
namespace internal {

struct MemStore {
  std::mutex mu;
  // Objects are immutable once stored, so readers share them.
  std::map<std::string, std::shared_ptr<const Bytes>, std::less<>> objects;
};

}  // namespace internal
namespace {

using internal::MemStore;

struct SharedStores {
  std::mutex mu;
  std::map<std::string, std::shared_ptr<MemStore>> stores;
};

SharedStores& Shared() {
  static auto* shared = new SharedStores();  // never destroyed: no exit-order issues
  return *shared;
}

}  // namespace

MemBackend::MemBackend() : MemBackend("<private>", std::make_shared<MemStore>()) {}

MemBackend::MemBackend(std::string name, std::shared_ptr<MemStore> store)
    : name_(std::move(name)), store_(std::move(store)) {}

std::unique_ptr<MemBackend> MemBackend::OpenShared(const std::string& name) {
  SharedStores& shared = Shared();
  std::lock_guard<std::mutex> lock(shared.mu);
  std::shared_ptr<MemStore>& store = shared.stores[name];
  if (store == nullptr) store = std::make_shared<MemStore>();
  return std::unique_ptr<MemBackend>(new MemBackend(name, store));
}

void MemBackend::ForgetShared(const std::string& name) {
  SharedStores& shared = Shared();
  std::lock_guard<std::mutex> lock(shared.mu);
  shared.stores.erase(name);
}

std::string MemBackend::Location() const { return "mem:" + name_; }

Status MemBackend::Create(bool exclusive) {
  std::lock_guard<std::mutex> lock(store_->mu);
  if (exclusive && !store_->objects.empty()) {
    return AlreadyExistsError(Context("create", "") + ": objects exist already");
  }
  return Status::Ok();
}

Status MemBackend::Put(std::string_view name, ByteView data) {
  PXB_RETURN_IF_ERROR_CTX(ValidateObjectName(name), Context("put", name));
  auto object = std::make_shared<const Bytes>(data.begin(), data.end());
  std::lock_guard<std::mutex> lock(store_->mu);
  store_->objects.insert_or_assign(std::string(name), std::move(object));
  return Status::Ok();
}

StatusOr<Bytes> MemBackend::Get(std::string_view name, uint64_t offset, uint64_t length) {
  PXB_RETURN_IF_ERROR_CTX(ValidateObjectName(name), Context("get", name));
  std::shared_ptr<const Bytes> object;
  {
    std::lock_guard<std::mutex> lock(store_->mu);
    auto it = store_->objects.find(name);
    if (it == store_->objects.end()) return NotFoundError(Context("get", name) + ": not found");
    object = it->second;
  }
  uint64_t size = object->size();
  if (offset > size || (length != kWholeObject && length > size - offset)) {
    return OutOfRangeError(Context("get", name) + ": range at " + std::to_string(offset) +
                           (length == kWholeObject ? "" : " length " + std::to_string(length)) +
                           " exceeds size " + std::to_string(size));
  }
  uint64_t n = length == kWholeObject ? size - offset : length;
  return Bytes(object->begin() + offset, object->begin() + offset + n);
}

StatusOr<ObjectInfo> MemBackend::Stat(std::string_view name) {
  PXB_RETURN_IF_ERROR_CTX(ValidateObjectName(name), Context("stat", name));
  std::lock_guard<std::mutex> lock(store_->mu);
  auto it = store_->objects.find(name);
  if (it == store_->objects.end()) return NotFoundError(Context("stat", name) + ": not found");
  return ObjectInfo{it->first, it->second->size()};
}

Status MemBackend::List(std::string_view prefix,
                        const std::function<Status(const ObjectInfo&)>& fn) {
  PXB_RETURN_IF_ERROR_CTX(ValidateObjectPrefix(prefix), Context("list", prefix));
  // Copied out so that fn runs unlocked and may call back into the backend.
  std::vector<ObjectInfo> found;
  {
    std::lock_guard<std::mutex> lock(store_->mu);
    for (auto it = store_->objects.lower_bound(prefix);
         it != store_->objects.end() && it->first.starts_with(prefix); ++it) {
      found.push_back(ObjectInfo{it->first, it->second->size()});
    }
  }
  for (const ObjectInfo& info : found) PXB_RETURN_IF_ERROR(fn(info));
  return Status::Ok();
}

Status MemBackend::Delete(std::string_view name) {
  PXB_RETURN_IF_ERROR_CTX(ValidateObjectName(name), Context("delete", name));
  std::lock_guard<std::mutex> lock(store_->mu);
  auto it = store_->objects.find(name);
  if (it == store_->objects.end()) return NotFoundError(Context("delete", name) + ": not found");
  store_->objects.erase(it);
  return Status::Ok();
}

}  // namespace pxb
