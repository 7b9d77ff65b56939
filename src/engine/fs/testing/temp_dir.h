// A fresh directory under /tmp for one test, removed with everything in it
// when the object goes away, plus an open fd to it for the *at calls.
//
//   TempDir dir;
//   int fd = openat(dir.fd(), "a", O_CREAT | O_WRONLY, 0644);
//
// Thread-safety: not thread-safe; one per test.
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string>
#include <system_error>

namespace pxb {

class TempDir {
 public:
  TempDir() {
    char pattern[] = "/tmp/pxb-fs-XXXXXX";
    if (mkdtemp(pattern) == nullptr) {
      ADD_FAILURE() << "mkdtemp: " << std::strerror(errno);
      return;
    }
    path_ = pattern;
    fd_ = open(pattern, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd_ < 0) ADD_FAILURE() << "open " << path_ << ": " << std::strerror(errno);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    if (fd_ >= 0) close(fd_);
    if (!path_.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(path_, ec);
      if (ec) ADD_FAILURE() << "remove " << path_ << ": " << ec.message();
    }
  }

  const std::string& path() const { return path_; }
  int fd() const { return fd_; }
  std::string Path(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
  int fd_ = -1;
};

}  // namespace pxb
