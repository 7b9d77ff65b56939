#include "cli/archive_library.h"

#include "core/shared_library.h"

namespace pxb::cli {
namespace {

StatusOr<ArchiveLibrary> Load() {
  PXB_ASSIGN_OR_RETURN(SharedLibrary lib, SharedLibrary::Open("libarchive.so.13", "libarchive13"));
  ArchiveLibrary a;
  PXB_RETURN_IF_ERROR(lib.Bind(a.write_new, "archive_write_new"));
  PXB_RETURN_IF_ERROR(
      lib.Bind(a.write_set_format_pax_restricted, "archive_write_set_format_pax_restricted"));
  PXB_RETURN_IF_ERROR(lib.Bind(a.write_open_fd, "archive_write_open_fd"));
  PXB_RETURN_IF_ERROR(lib.Bind(a.write_header, "archive_write_header"));
  PXB_RETURN_IF_ERROR(lib.Bind(a.write_data, "archive_write_data"));
  PXB_RETURN_IF_ERROR(lib.Bind(a.write_close, "archive_write_close"));
  PXB_RETURN_IF_ERROR(lib.Bind(a.write_free, "archive_write_free"));
  PXB_RETURN_IF_ERROR(lib.Bind(a.error_string, "archive_error_string"));
  PXB_RETURN_IF_ERROR(lib.Bind(a.entry_new, "archive_entry_new"));
  PXB_RETURN_IF_ERROR(lib.Bind(a.entry_free, "archive_entry_free"));
  PXB_RETURN_IF_ERROR(lib.Bind(a.entry_copy_pathname, "archive_entry_copy_pathname"));
  PXB_RETURN_IF_ERROR(lib.Bind(a.entry_copy_symlink, "archive_entry_copy_symlink"));
  PXB_RETURN_IF_ERROR(lib.Bind(a.entry_copy_uname, "archive_entry_copy_uname"));
  PXB_RETURN_IF_ERROR(lib.Bind(a.entry_copy_gname, "archive_entry_copy_gname"));
  PXB_RETURN_IF_ERROR(lib.Bind(a.entry_set_filetype, "archive_entry_set_filetype"));
  PXB_RETURN_IF_ERROR(lib.Bind(a.entry_set_mode, "archive_entry_set_mode"));
  PXB_RETURN_IF_ERROR(lib.Bind(a.entry_set_uid, "archive_entry_set_uid"));
  PXB_RETURN_IF_ERROR(lib.Bind(a.entry_set_gid, "archive_entry_set_gid"));
  PXB_RETURN_IF_ERROR(lib.Bind(a.entry_set_mtime, "archive_entry_set_mtime"));
  PXB_RETURN_IF_ERROR(lib.Bind(a.entry_set_rdev, "archive_entry_set_rdev"));
  PXB_RETURN_IF_ERROR(lib.Bind(a.entry_set_size, "archive_entry_set_size"));
  PXB_RETURN_IF_ERROR(lib.Bind(a.entry_xattr_add_entry, "archive_entry_xattr_add_entry"));
  return a;
}

}  // namespace

StatusOr<const ArchiveLibrary*> ArchiveLibrary::Get() { return LoadOnce<ArchiveLibrary, Load>(); }

}  // namespace pxb::cli
