#include "core/file_io.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

namespace pxb {

Status ReadExactly(int fd, MutableByteView out, uint64_t offset, const std::string& path) {
  while (!out.empty()) {
    ssize_t n = ::pread(fd, out.data(), out.size(), static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoError(errno, "reading " + path);
    }
    if (n == 0) return DataLossError(path + " is shorter than expected");
    out = out.subspan(static_cast<size_t>(n));
    offset += static_cast<uint64_t>(n);
  }
  return Status::Ok();
}

void ReadAhead(int fd, uint64_t offset, uint64_t length) {
  if (length == 0) return;
  (void)::posix_fadvise(fd, static_cast<off_t>(offset), static_cast<off_t>(length),
                        POSIX_FADV_WILLNEED);
}

std::optional<ReadAheadSchedule::Range> ReadAheadSchedule::Before(uint64_t done) {
  if (asked_ >= length_) return std::nullopt;
  uint64_t more;
  if (asked_ == 0) {
    more = FirstWindow(length_);
  } else if (asked_ - std::min(done, asked_) <= kReadAheadWindow / 2) {
    more = std::min(length_ - asked_, kReadAheadWindow / 2);
  } else {
    return std::nullopt;
  }
  const Range next{offset_ + asked_, more};
  asked_ += more;
  return next;
}

}  // namespace pxb
