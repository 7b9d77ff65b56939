// Whole reads at an offset of a file descriptor, retried on EINTR and short
// reads, and hints that start reads before they are needed.
//
//   ReadAhead(fd, 0, std::min<uint64_t>(size, kWindow));
//   PXB_RETURN_IF_ERROR(ReadExactly(fd, buffer, offset, path));
//
// Thread-safety: safe to call concurrently (pread does not move the offset).
#pragma once

#include <cstdint>
#include <string>

#include "pxb/bytes.h"
#include "pxb/status.h"

namespace pxb {

// Fills `out` from `offset` of fd. kDataLoss naming `path` if the file ends
// first; the errno's code otherwise.
Status ReadExactly(int fd, MutableByteView out, uint64_t offset, const std::string& path);

// Asks the kernel to start reading [offset, offset + length) of fd into the
// page cache and returns without waiting (POSIX_FADV_WILLNEED). A hint: a
// file system that cannot is no error. The kernel's own read-ahead starts
// only when a read misses the cache, so a reader that hints what comes next
// keeps the disk busy while it works on what it has.
void ReadAhead(int fd, uint64_t offset, uint64_t length);

}  // namespace pxb
