// SharedLibrary: a shared library opened when first needed instead of linked.
//
// libcurl (S3 targets) and libarchive (tar output) bring 35 more libraries
// between them (GnuTLS, Kerberos, LDAP, ICU and others). Linked, the loader
// maps and relocates every one of them before main, for every command,
// whether it talks to S3 or not: 18 ms and 6 MiB of each run on the 2-core
// machine of doc/performance.md. Opened on first use, only the commands that
// need them pay.
//
//   PXB_ASSIGN_OR_RETURN(SharedLibrary lib, SharedLibrary::Open("libcurl.so.4", "libcurl4"));
//   decltype(&curl_easy_init) easy_init = nullptr;
//   PXB_RETURN_IF_ERROR(lib.Bind(easy_init, "curl_easy_init"));
//
// A library stays loaded until the process exits: functions bound from it
// may run until then, and neither libcurl nor libarchive supports being
// unloaded.
//
// Thread-safety: Open may run concurrently (the loader serialises it); Bind
// is const.
#pragma once

#include <string>

#include "pxb/status.h"

namespace pxb {

class SharedLibrary {
 public:
  // Loads the library `soname` (with the loader's search path). When it is
  // missing or cannot be loaded: kFailedPrecondition naming the library, the
  // loader's reason and the Debian package `package` that provides it.
  [[nodiscard]] static StatusOr<SharedLibrary> Open(std::string soname, std::string package);

  // Sets `fn` to the function `symbol` of the library; kFailedPrecondition
  // naming both when it has none (a version too old).
  template <typename Fn>
  [[nodiscard]] Status Bind(Fn*& fn, const char* symbol) const {
    PXB_ASSIGN_OR_RETURN(void* address, Address(symbol));
    fn = reinterpret_cast<Fn*>(address);
    return Status::Ok();
  }

  const std::string& soname() const { return soname_; }

 private:
  SharedLibrary(void* handle, std::string soname, std::string package)
      : handle_(handle), soname_(std::move(soname)), package_(std::move(package)) {}
  StatusOr<void*> Address(const char* symbol) const;

  void* handle_;
  std::string soname_;
  std::string package_;
};

// The table of functions `load` binds (a struct of pointers), loaded on the
// first call from any thread; every later call returns the same table, or
// the same failure.
template <typename Functions, StatusOr<Functions> (*load)()>
StatusOr<const Functions*> LoadOnce() {
  static const StatusOr<Functions> loaded = load();
  if (!loaded.ok()) return loaded.status();
  return &*loaded;
}

}  // namespace pxb
