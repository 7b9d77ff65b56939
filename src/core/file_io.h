// Whole reads at an offset of a file descriptor, retried on EINTR and short
// reads, and hints that start reads before they are needed.
//
//   ReadAhead(fd, 0, ReadAheadSchedule::FirstWindow(size));
//   PXB_RETURN_IF_ERROR(ReadExactly(fd, buffer, offset, path));
//
// Thread-safety: safe to call concurrently (pread does not move the offset).
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
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

// `x` rounded down or up to a multiple of `alignment` (the block of a read
// or write past the page cache, say).
constexpr uint64_t AlignDown(uint64_t x, uint64_t alignment) { return x / alignment * alignment; }
constexpr uint64_t AlignUp(uint64_t x, uint64_t alignment) {
  return AlignDown(x + alignment - 1, alignment);
}

// How far ahead of what it has read a reader asks the kernel for a file's
// bytes: the opener of a file may ask for the first window at once.
inline constexpr uint64_t kReadAheadWindow = 8 << 20;

// What one reader of [offset, offset + length) asks for, and when: the first
// window unless the opener asked for it, then half a window whenever half a
// window or less of what was asked is left ahead of the bytes read, so that
// the disk works while the reader does, never more than a window ahead and
// never past the range.
//
//   ReadAheadSchedule ahead(offset, length, /*asked=*/0);
//   while (done < length) {
//     if (auto next = ahead.Before(done)) ReadAhead(fd, next->offset, next->length);
//     ... read at offset + done ...
//   }
class ReadAheadSchedule {
 public:
  struct Range {
    uint64_t offset;
    uint64_t length;
  };

  // `asked`: bytes at the start of the range asked for already, by an
  // opener that asked for the first window or nothing.
  ReadAheadSchedule(uint64_t offset, uint64_t length, uint64_t asked)
      : offset_(offset), length_(length), asked_(asked) {}

  // The first window of a range of `length` bytes: what a reader asks for
  // before its first read, or its opener for it.
  static uint64_t FirstWindow(uint64_t length) { return std::min(length, kReadAheadWindow); }

  // What to ask for before reading at offset + done, if anything.
  std::optional<Range> Before(uint64_t done);

 private:
  uint64_t offset_;
  uint64_t length_;
  uint64_t asked_;
};

}  // namespace pxb
