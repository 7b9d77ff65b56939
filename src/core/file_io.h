// Whole reads at an offset of a file descriptor, retried on EINTR and short
// reads.
//
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

}  // namespace pxb
