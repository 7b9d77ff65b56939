// CurlLibrary: the functions of libcurl that HttpClient calls, bound at run
// time (core/shared_library.h says why: only commands that reach an S3
// target load libcurl and the 20 libraries it brings).
//
//   PXB_ASSIGN_OR_RETURN(const CurlLibrary* curl, CurlLibrary::Get());
//   CURL* handle = curl->easy_init();
//
// Get loads libcurl.so.4 and runs curl_global_init once per process; every
// later call returns the same result, a failure included. curl_global_cleanup
// is never called: handles may live until exit.
//
// Thread-safety: Get may be called from any thread; the functions are
// libcurl's, with its rules (one thread per easy handle at a time).
#pragma once

#include <curl/curl.h>

#include "pxb/status.h"

namespace pxb {

struct CurlLibrary {
  [[nodiscard]] static StatusOr<const CurlLibrary*> Get();

  decltype(&::curl_global_init) global_init = nullptr;
  decltype(&::curl_easy_init) easy_init = nullptr;
  decltype(&::curl_easy_cleanup) easy_cleanup = nullptr;
  decltype(&::curl_easy_reset) easy_reset = nullptr;
  decltype(&::curl_easy_setopt) easy_setopt = nullptr;
  decltype(&::curl_easy_perform) easy_perform = nullptr;
  decltype(&::curl_easy_getinfo) easy_getinfo = nullptr;
  decltype(&::curl_easy_strerror) easy_strerror = nullptr;
  decltype(&::curl_share_init) share_init = nullptr;
  decltype(&::curl_share_setopt) share_setopt = nullptr;
  decltype(&::curl_share_cleanup) share_cleanup = nullptr;
  decltype(&::curl_slist_append) slist_append = nullptr;
  decltype(&::curl_slist_free_all) slist_free_all = nullptr;
};

}  // namespace pxb
