// MemBackend: a Backend that keeps objects in memory, for tests and as the
// reference for the semantics every backend shares.
//
// Objects live in a store that the backend shares with every MemBackend
// opened by OpenShared with the same name, so a test can "reopen" a
// repository; an unnamed MemBackend has a private store.
//
//   MemBackend backend;
//   PXB_RETURN_IF_ERROR(backend.Put("config", bytes));
//
// Thread-safety: safe for concurrent use; one mutex guards the store, and
// List calls its callback without holding it.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "storage/backend.h"

namespace pxb {
namespace internal {
struct MemStore;
}  // namespace internal

class MemBackend final : public Backend {
 public:
  // A backend with a private, empty store; Location() is "mem:<private>".
  MemBackend();

  // A backend over the process-wide store called `name`, created empty on
  // first use and kept until ForgetShared(name) or process exit; Location()
  // is "mem:NAME".
  static std::unique_ptr<MemBackend> OpenShared(const std::string& name);

  // Drops the process-wide store `name` (backends still open keep using it).
  static void ForgetShared(const std::string& name);

  std::string Location() const override;
  Status Create(bool exclusive) override;
  Status Put(std::string_view name, ByteView data) override;
  StatusOr<Bytes> Get(std::string_view name, uint64_t offset = 0,
                      uint64_t length = kWholeObject) override;
  StatusOr<ObjectInfo> Stat(std::string_view name) override;
  Status List(std::string_view prefix, const std::function<Status(const ObjectInfo&)>& fn) override;
  Status Delete(std::string_view name) override;

 private:
  MemBackend(std::string name, std::shared_ptr<internal::MemStore> store);

  const std::string name_;
  const std::shared_ptr<internal::MemStore> store_;
};

}  // namespace pxb
