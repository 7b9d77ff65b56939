// ArchiveLibrary: the functions of libarchive that `dump` calls to write a
// tar stream, bound at run time (core/shared_library.h says why: every other
// command starts without libarchive and the libraries it brings, ICU's
// among them).
//
//   PXB_ASSIGN_OR_RETURN(const ArchiveLibrary* lib, ArchiveLibrary::Get());
//   archive* a = lib->write_new();
//
// Get loads libarchive.so.13 once per process; every later call returns the
// same result, a failure included.
//
// Thread-safety: Get may be called from any thread; the functions are
// libarchive's, with its rules (one thread per archive object at a time).
#pragma once

#include <archive.h>
#include <archive_entry.h>

#include "pxb/status.h"

namespace pxb::cli {

struct ArchiveLibrary {
  [[nodiscard]] static StatusOr<const ArchiveLibrary*> Get();

  decltype(&::archive_write_new) write_new = nullptr;
  decltype(&::archive_write_set_format_pax_restricted) write_set_format_pax_restricted = nullptr;
  decltype(&::archive_write_open_fd) write_open_fd = nullptr;
  decltype(&::archive_write_header) write_header = nullptr;
  decltype(&::archive_write_data) write_data = nullptr;
  decltype(&::archive_write_close) write_close = nullptr;
  decltype(&::archive_write_free) write_free = nullptr;
  decltype(&::archive_error_string) error_string = nullptr;
  decltype(&::archive_entry_new) entry_new = nullptr;
  decltype(&::archive_entry_free) entry_free = nullptr;
  decltype(&::archive_entry_copy_pathname) entry_copy_pathname = nullptr;
  decltype(&::archive_entry_copy_symlink) entry_copy_symlink = nullptr;
  decltype(&::archive_entry_copy_uname) entry_copy_uname = nullptr;
  decltype(&::archive_entry_copy_gname) entry_copy_gname = nullptr;
  decltype(&::archive_entry_set_filetype) entry_set_filetype = nullptr;
  decltype(&::archive_entry_set_mode) entry_set_mode = nullptr;
  decltype(&::archive_entry_set_uid) entry_set_uid = nullptr;
  decltype(&::archive_entry_set_gid) entry_set_gid = nullptr;
  decltype(&::archive_entry_set_mtime) entry_set_mtime = nullptr;
  decltype(&::archive_entry_set_rdev) entry_set_rdev = nullptr;
  decltype(&::archive_entry_set_size) entry_set_size = nullptr;
  decltype(&::archive_entry_xattr_add_entry) entry_xattr_add_entry = nullptr;
};

}  // namespace pxb::cli
