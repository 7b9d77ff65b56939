#include "storage/s3/curl_library.h"

#include "core/shared_library.h"

namespace pxb {
namespace {

StatusOr<CurlLibrary> Load() {
  PXB_ASSIGN_OR_RETURN(SharedLibrary lib, SharedLibrary::Open("libcurl.so.4", "libcurl4"));
  CurlLibrary curl;
  PXB_RETURN_IF_ERROR(lib.Bind(curl.global_init, "curl_global_init"));
  PXB_RETURN_IF_ERROR(lib.Bind(curl.easy_init, "curl_easy_init"));
  PXB_RETURN_IF_ERROR(lib.Bind(curl.easy_cleanup, "curl_easy_cleanup"));
  PXB_RETURN_IF_ERROR(lib.Bind(curl.easy_reset, "curl_easy_reset"));
  PXB_RETURN_IF_ERROR(lib.Bind(curl.easy_setopt, "curl_easy_setopt"));
  PXB_RETURN_IF_ERROR(lib.Bind(curl.easy_perform, "curl_easy_perform"));
  PXB_RETURN_IF_ERROR(lib.Bind(curl.easy_getinfo, "curl_easy_getinfo"));
  PXB_RETURN_IF_ERROR(lib.Bind(curl.easy_strerror, "curl_easy_strerror"));
  PXB_RETURN_IF_ERROR(lib.Bind(curl.share_init, "curl_share_init"));
  PXB_RETURN_IF_ERROR(lib.Bind(curl.share_setopt, "curl_share_setopt"));
  PXB_RETURN_IF_ERROR(lib.Bind(curl.share_cleanup, "curl_share_cleanup"));
  PXB_RETURN_IF_ERROR(lib.Bind(curl.slist_append, "curl_slist_append"));
  PXB_RETURN_IF_ERROR(lib.Bind(curl.slist_free_all, "curl_slist_free_all"));
  // curl_global_init is not thread-safe; here it runs once, before any handle.
  const CURLcode code = curl.global_init(CURL_GLOBAL_DEFAULT);
  if (code != CURLE_OK) {
    return FailedPreconditionError(std::string("curl_global_init failed: ") +
                                   curl.easy_strerror(code));
  }
  return curl;
}

}  // namespace

StatusOr<const CurlLibrary*> CurlLibrary::Get() { return LoadOnce<CurlLibrary, Load>(); }

}  // namespace pxb
