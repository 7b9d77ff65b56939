// UniqueFd: owns a file descriptor and closes it when destroyed.
//
//   UniqueFd fd(::open(path, O_RDONLY | O_CLOEXEC));
//   if (!fd.valid()) return ErrnoError(errno, "open " + path);
//   ::read(fd.get(), buffer, size);
//
// Thread-safety: like an int; one owner.
#pragma once

#include <unistd.h>

#include <cerrno>
#include <utility>

namespace pxb {

class UniqueFd {
 public:
  explicit UniqueFd(int fd = -1) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    std::swap(fd_, other.fd_);
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() {
    if (fd_ >= 0) ::close(fd_);
  }

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }

  // Closes now and returns 0 or the errno of close, which can report a
  // delayed write error on some file systems.
  int Close() {
    const int fd = std::exchange(fd_, -1);
    if (fd < 0) return 0;
    // On Linux the descriptor is released even when close reports EINTR.
    if (::close(fd) != 0 && errno != EINTR) return errno;
    return 0;
  }

 private:
  int fd_;
};

}  // namespace pxb
