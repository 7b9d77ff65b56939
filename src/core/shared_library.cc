#include "core/shared_library.h"

#include <dlfcn.h>

namespace pxb {
namespace {

std::string LoaderError() {
  const char* reason = ::dlerror();
  return reason != nullptr ? reason : "unknown reason";
}

}  // namespace

StatusOr<SharedLibrary> SharedLibrary::Open(std::string soname, std::string package) {
  void* handle = ::dlopen(soname.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    return FailedPreconditionError("cannot load " + soname + " (" + LoaderError() +
                                   "); install Debian's package " + package + " (apt install " +
                                   package + ")");
  }
  return SharedLibrary(handle, std::move(soname), std::move(package));
}

StatusOr<void*> SharedLibrary::Address(const char* symbol) const {
  ::dlerror();  // clear a stale error: a symbol may legitimately be null
  void* address = ::dlsym(handle_, symbol);
  if (address == nullptr) {
    return FailedPreconditionError(soname_ + " has no function " + symbol + " (" + LoaderError() +
                                   "); install a current version of Debian's package " + package_);
  }
  return address;
}

}  // namespace pxb
