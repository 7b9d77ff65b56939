#include "core/file_io.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <string>

namespace pxb {
namespace {

// A file of `size` bytes counting 0, 1, ..., 255, 0, ... in a temporary
// folder, removed with the object.
class CountingFile {
 public:
  explicit CountingFile(size_t size) {
    path_ = ::testing::TempDir() + "/pxb_file_io_XXXXXX";
    fd_ = ::mkstemp(path_.data());
    EXPECT_GE(fd_, 0);
    std::string bytes(size, '\0');
    for (size_t i = 0; i < size; ++i) bytes[i] = static_cast<char>(i & 0xff);
    EXPECT_EQ(::write(fd_, bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
  }
  ~CountingFile() {
    ::close(fd_);
    ::unlink(path_.c_str());
  }
  int fd() const { return fd_; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  int fd_ = -1;
};

TEST(ReadExactlyTest, ReadsAtAnOffset) {
  CountingFile file(10000);
  Bytes out(300);
  ASSERT_TRUE(ReadExactly(file.fd(), out, 5000, file.path()).ok());
  for (size_t i = 0; i < out.size(); ++i) EXPECT_EQ(out[i], std::byte((5000 + i) & 0xff)) << i;
}

TEST(ReadExactlyTest, AFileThatEndsFirstIsDataLossNamingIt) {
  CountingFile file(100);
  Bytes out(50);
  Status read = ReadExactly(file.fd(), out, 80, file.path());
  EXPECT_EQ(read.code(), StatusCode::kDataLoss);
  EXPECT_NE(read.message().find(file.path()), std::string::npos) << read.ToString();
}

// A hint changes nothing that reads return, whatever it is asked for: past
// the end, on a pipe, on a closed descriptor.
TEST(ReadAheadTest, IsAHintThatChangesNoRead) {
  CountingFile file(3 << 20);
  ReadAhead(file.fd(), 0, 1 << 20);
  ReadAhead(file.fd(), 2 << 20, 8 << 20);
  ReadAhead(file.fd(), 100 << 20, 1);
  ReadAhead(file.fd(), 0, 0);
  Bytes out(1 << 20);
  ASSERT_TRUE(ReadExactly(file.fd(), out, 2 << 20, file.path()).ok());
  for (size_t i = 0; i < out.size(); i += 4093) EXPECT_EQ(out[i], std::byte(i & 0xff)) << i;

  int pipe_fds[2];
  ASSERT_EQ(::pipe(pipe_fds), 0);
  ReadAhead(pipe_fds[0], 0, 4096);
  ::close(pipe_fds[0]);
  ::close(pipe_fds[1]);
  ReadAhead(pipe_fds[0], 0, 4096);
}

TEST(AlignTest, RoundsToMultiples) {
  static_assert(AlignDown(0, 4096) == 0 && AlignUp(0, 4096) == 0);
  EXPECT_EQ(AlignDown(4095, 4096), 0u);
  EXPECT_EQ(AlignUp(4095, 4096), 4096u);
  EXPECT_EQ(AlignDown(8192, 4096), 8192u);
  EXPECT_EQ(AlignUp(8192, 4096), 8192u);
  EXPECT_EQ(AlignUp(8193, 65536), 65536u);
  EXPECT_EQ(AlignDown((uint64_t{5} << 32) + 1, 512), uint64_t{5} << 32);
}

// A reader of pieces of up to 1 MiB: every byte is asked for before it is
// read, once, never past the range, and never more than a window ahead.
TEST(ReadAheadScheduleTest, AsksForEveryByteOnceBeforeItIsReadAndNeverFarAhead) {
  constexpr uint64_t kOffset = 12345;
  constexpr uint64_t kPiece = 1 << 20;
  for (uint64_t length : {uint64_t{0}, uint64_t{1}, uint64_t{4} << 20, kReadAheadWindow,
                          kReadAheadWindow + 1, (uint64_t{37} << 20) + 123}) {
    for (bool opener_asked : {false, true}) {
      const uint64_t first = opener_asked ? std::min(length, kReadAheadWindow) : 0;
      ReadAheadSchedule ahead(kOffset, length, first);
      uint64_t asked_end = kOffset + first;  // asked so far: [kOffset, asked_end)
      for (uint64_t done = 0; done < length;) {
        if (auto next = ahead.Before(done)) {
          EXPECT_EQ(next->offset, asked_end) << length << " at " << done;  // no gap, no overlap
          EXPECT_GT(next->length, 0u);
          asked_end = next->offset + next->length;
        }
        const uint64_t piece = std::min(kPiece, length - done);
        EXPECT_GE(asked_end, kOffset + done + piece) << length << " at " << done;
        EXPECT_LE(asked_end, kOffset + length) << length;
        EXPECT_LE(asked_end - (kOffset + done), kReadAheadWindow) << length << " at " << done;
        done += piece;
      }
      EXPECT_EQ(asked_end, kOffset + length) << length;
      EXPECT_FALSE(ahead.Before(length).has_value());
    }
  }
}

// A stream of unknown length (0) asks for nothing.
TEST(ReadAheadScheduleTest, AnEmptyRangeAsksForNothing) {
  ReadAheadSchedule ahead(0, 0, 0);
  EXPECT_FALSE(ahead.Before(0).has_value());
  EXPECT_FALSE(ahead.Before(5 << 20).has_value());
}

}  // namespace
}  // namespace pxb
