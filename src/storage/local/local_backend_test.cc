#include "storage/local/local_backend.h"

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include "storage/testing/status_testing.h"
#include "storage/testing/temp_folder.h"
#include "storage/testing/test_objects.h"

namespace pxb {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

std::vector<std::string> FilesIn(const std::string& folder) {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(folder, ec)) {
    names.push_back(entry.path().filename().string());
  }
  return names;
}

mode_t ModeOf(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return 0;
  return st.st_mode & 07777;
}

void WriteFile(const std::string& path, std::string_view content) {
  std::ofstream(path, std::ios::binary) << content;
}

class LocalBackendTest : public testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(folder_.path().empty());
    ASSERT_OK(backend_.Create(/*exclusive=*/true));
  }

  // A staged object holding `content`.
  std::unique_ptr<StagedObject> Staged(std::string_view content) {
    auto staged = backend_.Stage();
    EXPECT_OK(staged);
    if (!staged.ok() || *staged == nullptr) return nullptr;
    EXPECT_OK((*staged)->WriteAt(0, AsBytes(content)));
    return *std::move(staged);
  }
  // The object's bytes as text, or the error's message.
  std::string Stored(std::string_view name) {
    auto stored = backend_.Get(name);
    return stored.ok() ? std::string(AsChars(*stored)) : stored.status().ToString();
  }

  TempFolder folder_;
  const std::string root_ = folder_.path() + "/repo";
  LocalBackend backend_{root_};
};

TEST_F(LocalBackendTest, LocationIsTheFileUrlOfTheRoot) {
  EXPECT_EQ(backend_.root(), root_);
  EXPECT_EQ(backend_.Location(), "file://" + root_);
}

TEST_F(LocalBackendTest, ObjectsAreFilesBelowTheRoot) {
  ASSERT_OK(backend_.Put("data/ab/abcd", AsBytes("pack bytes")));
  std::ifstream file(root_ + "/data/ab/abcd", std::ios::binary);
  std::string content((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  EXPECT_EQ(content, "pack bytes");
  EXPECT_THAT(FilesIn(root_ + "/tmp"), IsEmpty());
}

TEST_F(LocalBackendTest, FilesAre0600AndFolders0700) {
  ASSERT_OK(backend_.Put("data/ab/abcd", AsBytes("x")));
  EXPECT_EQ(ModeOf(root_ + "/data/ab/abcd"), 0600u);
  for (const std::string& folder : {root_, root_ + "/tmp", root_ + "/data", root_ + "/data/ab"}) {
    EXPECT_EQ(ModeOf(folder), 0700u) << folder;
  }
}

TEST_F(LocalBackendTest, OptionsRelaxModes) {
  mode_t old_umask = ::umask(0);
  LocalBackend relaxed(folder_.path() + "/shared", {.file_mode = 0640, .folder_mode = 0750});
  Status created = relaxed.Create(/*exclusive=*/true);
  Status put = relaxed.Put("index/0001", AsBytes("x"));
  ::umask(old_umask);
  ASSERT_OK(created);
  ASSERT_OK(put);
  EXPECT_EQ(ModeOf(relaxed.root()), 0750u);
  EXPECT_EQ(ModeOf(relaxed.root() + "/index"), 0750u);
  EXPECT_EQ(ModeOf(relaxed.root() + "/index/0001"), 0640u);
}

TEST_F(LocalBackendTest, FailedPutUnderAnObjectLeavesNothing) {
  ASSERT_OK(backend_.Put("data/ab", AsBytes("an object, not a folder")));
  Status s = backend_.Put("data/ab/abcd", AsBytes("x"));
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(s.message()), HasSubstr(backend_.Location() + ": put data/ab/abcd"));
  EXPECT_THAT(FilesIn(root_ + "/tmp"), IsEmpty());
  EXPECT_EQ(CodeOf(backend_.Stat("data/ab/abcd")), StatusCode::kNotFound);
  StatusOr<Bytes> kept = backend_.Get("data/ab");
  ASSERT_OK(kept);
  EXPECT_EQ(AsChars(*kept), "an object, not a folder");
}

TEST_F(LocalBackendTest, FailedPutOntoAFolderLeavesNothing) {
  ASSERT_OK(backend_.Put("data/ab/abcd", AsBytes("x")));
  Status s = backend_.Put("data/ab", AsBytes("y"));
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(s.message()), HasSubstr("put data/ab"));
  EXPECT_THAT(FilesIn(root_ + "/tmp"), IsEmpty());
  EXPECT_EQ(CodeOf(backend_.Get("data/ab")), StatusCode::kNotFound);
  EXPECT_THAT(*ListNames(backend_, ""), ElementsAre("data/ab/abcd"));
}

// RLIMIT_FSIZE makes write() fail part-way (EFBIG), as a full disk would.
TEST_F(LocalBackendTest, FailedWriteRemovesTheTemporaryFileAndKeepsTheOldObject) {
  ASSERT_OK(backend_.Put("config", AsBytes("old")));
  const Bytes big = TestBytes(1 << 20, 1);

  struct rlimit old_limit;
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &old_limit), 0);
  struct rlimit limit = old_limit;
  limit.rlim_cur = 64 << 10;
  sighandler_t old_handler = ::signal(SIGXFSZ, SIG_IGN);
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &limit), 0);
  Status replace = backend_.Put("config", big);
  Status fresh = backend_.Put("data/00/big", big);
  ::setrlimit(RLIMIT_FSIZE, &old_limit);
  ::signal(SIGXFSZ, old_handler);

  for (const Status& s : {replace, fresh}) {
    EXPECT_FALSE(s.ok());
    EXPECT_THAT(std::string(s.message()), HasSubstr(backend_.Location() + ": put "));
    EXPECT_THAT(std::string(s.message()), HasSubstr(std::strerror(EFBIG)));
  }
  EXPECT_THAT(FilesIn(root_ + "/tmp"), IsEmpty());
  EXPECT_EQ(CodeOf(backend_.Stat("data/00/big")), StatusCode::kNotFound);
  StatusOr<Bytes> old = backend_.Get("config");
  ASSERT_OK(old);
  EXPECT_EQ(AsChars(*old), "old");
}

// Objects from 1 MiB are written past the page cache in whole 4 KiB blocks,
// the last partial block through it: every length reads back whole.
void ExpectLargeObjectsReadBackWhole(LocalBackend& backend, const std::string& root) {
  ReadBuffer buffer;
  for (size_t size : {(size_t{1} << 20) - 1, size_t{1} << 20, (size_t{1} << 20) + 1,
                      (size_t{1} << 20) + 4095, size_t{4096} * 600, size_t{3} * (1 << 20) + 123}) {
    const Bytes data = TestBytes(size, static_cast<uint64_t>(size));
    const std::string name = "data/00/o" + std::to_string(size);
    ASSERT_OK(backend.Put(name, data));
    StatusOr<Bytes> got = backend.Get(name);
    ASSERT_OK(got);
    EXPECT_TRUE(*got == data) << size;
    StatusOr<Bytes> tail = backend.Get(name, size - 5000, 5000);
    ASSERT_OK(tail);
    EXPECT_TRUE(std::equal(tail->begin(), tail->end(), data.end() - 5000)) << size;
    EXPECT_EQ(fs::file_size(root + "/" + name), size);
    // Read goes past the page cache from 1 MiB, in whole blocks around the
    // range: ranges starting and ending inside blocks, and at the end.
    for (auto [offset, length] : std::vector<std::pair<size_t, size_t>>{{0, size},
                                                                        {1, size - 1},
                                                                        {4095, size - 4095 - 1},
                                                                        {4096, size - 4096},
                                                                        {17, size / 2}}) {
      StatusOr<ByteView> read = backend.Read(name, offset, length, buffer);
      ASSERT_OK(read);
      EXPECT_TRUE(std::equal(read->begin(), read->end(), data.begin() + offset,
                             data.begin() + offset + length))
          << size << " at " << offset << " length " << length;
    }
  }
  EXPECT_THAT(FilesIn(root + "/tmp"), IsEmpty());
}

TEST_F(LocalBackendTest, LargeObjectsOfEveryAlignmentReadBackWhole) {
  ExpectLargeObjectsReadBackWhole(backend_, root_);
}

// tmpfs takes O_DIRECT since Linux 6.6 and refuses it before, when the
// objects go through the page cache: either way they read back whole.
TEST(LocalBackendOnTmpfs, LargeObjectsReadBackWhole) {
  char pattern[] = "/dev/shm/pxb-local-XXXXXX";
  if (!fs::is_directory("/dev/shm") || ::mkdtemp(pattern) == nullptr) {
    GTEST_SKIP() << "no tmpfs at /dev/shm";
  }
  const std::string root = std::string(pattern) + "/repo";
  {
    LocalBackend backend(root);
    ASSERT_OK(backend.Create(/*exclusive=*/true));
    ExpectLargeObjectsReadBackWhole(backend, root);
  }
  std::error_code ec;
  fs::remove_all(pattern, ec);
}

TEST_F(LocalBackendTest, AStagedObjectIsWrittenAtOffsetsAndStoredByItsCommit) {
  // Two aligned megabytes (past the page cache) written out of order, then
  // an unaligned tail through it.
  PageBytes blocks(2 << 20);
  for (size_t i = 0; i < blocks.size(); ++i) blocks[i] = static_cast<std::byte>(i * 7 + i / 4096);
  const std::string tail = "the header, not a whole block";
  auto staged = backend_.Stage();
  ASSERT_OK(staged);
  ASSERT_NE(*staged, nullptr);
  ASSERT_OK((*staged)->WriteAt(1 << 20, ByteView(blocks).subspan(1 << 20)));
  ASSERT_OK((*staged)->WriteAt(0, ByteView(blocks).first(1 << 20)));
  ASSERT_OK((*staged)->WriteAt(2 << 20, AsBytes(tail)));
  EXPECT_EQ(CodeOf(backend_.Stat("data/ab/abcd")), StatusCode::kNotFound);
  ASSERT_OK((*staged)->Commit("data/ab/abcd"));
  auto stored = backend_.Get("data/ab/abcd");
  ASSERT_OK(stored);
  Bytes expected(blocks.begin(), blocks.end());
  expected.insert(expected.end(), AsBytes(tail).begin(), AsBytes(tail).end());
  EXPECT_EQ(*stored, expected);
  EXPECT_EQ(ModeOf(root_ + "/data/ab/abcd"), 0600u);
  EXPECT_THAT(FilesIn(root_ + "/tmp"), IsEmpty());
  // Spent: a second commit stores nothing more.
  EXPECT_EQ((*staged)->Commit("data/ab/abce").code(), StatusCode::kFailedPrecondition);
  staged->reset();
  EXPECT_OK(backend_.Stat("data/ab/abcd"));
}

TEST_F(LocalBackendTest, AStagedObjectDroppedUncommittedLeavesNothing) {
  ASSERT_NE(Staged("half a pack"), nullptr);  // dropped at once
  EXPECT_THAT(FilesIn(root_ + "/tmp"), IsEmpty());
  auto listed = ListNames(backend_, "");
  ASSERT_OK(listed);
  EXPECT_THAT(*listed, IsEmpty());
}

TEST_F(LocalBackendTest, AStagedObjectHasNoNameAPruneCouldRemove) {
  // A slow backup's open pack may be older than prune's cutoff for stale
  // temporaries; a concurrent prune must not take it.
  auto staged = Staged("an open pack");
  ASSERT_NE(staged, nullptr);
  if (!FilesIn(root_ + "/tmp").empty()) {
    GTEST_SKIP() << "no O_TMPFILE here: staged objects are named temporaries";
  }
  auto removed = backend_.RemoveStaleTemporaries(std::numeric_limits<int64_t>::max());
  ASSERT_OK(removed);
  EXPECT_EQ(*removed, 0u);
  ASSERT_OK(staged->Commit("data/ab/abcd"));
  EXPECT_EQ(Stored("data/ab/abcd"), "an open pack");
}

TEST_F(LocalBackendTest, AStagedObjectReplacesWhatHoldsItsNameAsPutDoes) {
  // A truncated copy left under the name is replaced, not kept.
  ASSERT_OK(backend_.Put("data/ab/abcd", AsBytes("pa")));
  auto staged = Staged("pack");
  ASSERT_NE(staged, nullptr);
  ASSERT_OK(staged->Commit("data/ab/abcd"));
  EXPECT_EQ(Stored("data/ab/abcd"), "pack");
  EXPECT_THAT(FilesIn(root_ + "/tmp"), IsEmpty());
}

TEST_F(LocalBackendTest, AStagedObjectWhoseCommitFailedIsKeptForARetry) {
  ASSERT_OK(backend_.Put("data/ab", AsBytes("an object where a folder must go")));
  auto staged = Staged("pack");
  ASSERT_NE(staged, nullptr);
  EXPECT_EQ(staged->Commit("data/ab/abcd").code(), StatusCode::kFailedPrecondition);
  ASSERT_OK(backend_.Delete("data/ab"));
  ASSERT_OK(staged->Commit("data/ab/abcd"));
  EXPECT_EQ(Stored("data/ab/abcd"), "pack");
}

TEST_F(LocalBackendTest, PutWithoutRootIsFailedPrecondition) {
  const std::string missing = folder_.path() + "/missing";
  LocalBackend backend(missing);
  Status s = backend.Put("config", AsBytes("x"));
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(s.message()), HasSubstr(missing));
  EXPECT_FALSE(fs::exists(missing));
  EXPECT_EQ(CodeOf(backend.Get("config")), StatusCode::kNotFound);
  EXPECT_EQ(backend.Delete("config").code(), StatusCode::kNotFound);
  StatusOr<std::vector<std::string>> names = ListNames(backend, "");
  ASSERT_OK(names);
  EXPECT_THAT(*names, IsEmpty());
}

TEST_F(LocalBackendTest, PutRecreatesAMissingTmpFolder) {
  fs::remove(root_ + "/tmp");
  ASSERT_OK(backend_.Put("config", AsBytes("x")));
  EXPECT_EQ(ModeOf(root_ + "/tmp"), 0700u);
}

TEST_F(LocalBackendTest, TruncatedFileIsReportedWithItsRealSize) {
  const Bytes data = TestBytes(1000, 2);
  const std::string name = PackName(data);
  ASSERT_OK(backend_.Put(name, data));
  ASSERT_EQ(::truncate((root_ + "/" + name).c_str(), 10), 0);

  StatusOr<ObjectInfo> info = backend_.Stat(name);
  ASSERT_OK(info);
  EXPECT_EQ(info->size, 10u);
  StatusOr<std::vector<ObjectInfo>> listed = ListObjects(backend_, "data/");
  ASSERT_OK(listed);
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].size, 10u);
  StatusOr<Bytes> got = backend_.Get(name);
  ASSERT_OK(got);
  EXPECT_TRUE(*got == Bytes(data.begin(), data.begin() + 10));
  EXPECT_EQ(CodeOf(backend_.Get(name, 0, 1000)), StatusCode::kOutOfRange);
}

TEST_F(LocalBackendTest, ObjectsSurviveReopening) {
  const Bytes pack = TestBytes(5000, 3);
  ASSERT_OK(backend_.Put(PackName(pack), pack));
  ASSERT_OK(backend_.Put("config", AsBytes("config")));

  for (const std::string& url : {root_, "file://" + root_, root_ + "/"}) {
    StatusOr<std::unique_ptr<Backend>> reopened = OpenBackend(url);
    ASSERT_OK(reopened);
    Backend& backend = **reopened;
    EXPECT_EQ(backend.Location(), backend_.Location());
    StatusOr<Bytes> got = backend.Get(PackName(pack));
    ASSERT_OK(got);
    EXPECT_TRUE(*got == pack);
    EXPECT_THAT(*ListNames(backend, ""), ElementsAre("config", PackName(pack)));
    EXPECT_EQ(backend.Create(/*exclusive=*/true).code(), StatusCode::kAlreadyExists);
  }
}

TEST_F(LocalBackendTest, StrayFilesAreNotListed) {
  ASSERT_OK(backend_.Put("data/ab/abcd", AsBytes("x")));
  WriteFile(root_ + "/tmp/0123456789abcdef", "left by a crashed put");
  WriteFile(root_ + "/README.md", "uppercase: not an object name");
  WriteFile(root_ + "/data/ab/Thumbs.db", "");
  fs::create_directories(root_ + "/index/empty-folder");
  EXPECT_THAT(*ListNames(backend_, ""), ElementsAre("data/ab/abcd"));
  EXPECT_THAT(*ListNames(backend_, "tmp/"), IsEmpty());
}

TEST_F(LocalBackendTest, CreateExclusiveIgnoresTemporaryLeftovers) {
  WriteFile(root_ + "/tmp/0123456789abcdef", "left by a crashed put");
  LocalBackend again(root_);
  ASSERT_OK(again.Create(/*exclusive=*/true));
}

TEST_F(LocalBackendTest, CreateMakesMissingParentFolders) {
  LocalBackend nested(folder_.path() + "/a/b/c");
  ASSERT_OK(nested.Create(/*exclusive=*/true));
  EXPECT_EQ(ModeOf(folder_.path() + "/a/b/c"), 0700u);
  EXPECT_EQ(ModeOf(folder_.path() + "/a/b/c/tmp"), 0700u);
}

TEST_F(LocalBackendTest, CreateOnAFileIsFailedPrecondition) {
  WriteFile(folder_.path() + "/file", "");
  LocalBackend on_file(folder_.path() + "/file");
  EXPECT_EQ(on_file.Create(/*exclusive=*/false).code(), StatusCode::kFailedPrecondition);
}

TEST_F(LocalBackendTest, ListFollowsSymlinkedFoldersWithoutLooping) {
  // data/ on another disk, and a cycle back to the root.
  const std::string elsewhere = folder_.path() + "/elsewhere";
  fs::create_directories(elsewhere + "/ab");
  WriteFile(elsewhere + "/ab/abcd", "12345");
  fs::create_directory_symlink(elsewhere, root_ + "/data");
  fs::create_directory_symlink(root_, root_ + "/index");
  ASSERT_OK(backend_.Put("config", AsBytes("x")));

  StatusOr<std::vector<ObjectInfo>> listed = ListObjects(backend_, "");
  ASSERT_OK(listed);
  std::vector<std::string> names;
  for (const ObjectInfo& info : *listed) names.push_back(info.name);
  EXPECT_THAT(names, ElementsAre("config", "data/ab/abcd"));
  EXPECT_THAT(*ListNames(backend_, "data/"), ElementsAre("data/ab/abcd"));
  StatusOr<Bytes> got = backend_.Get("data/ab/abcd");
  ASSERT_OK(got);
  EXPECT_EQ(AsChars(*got), "12345");
}

TEST_F(LocalBackendTest, DeleteRemovesTheFile) {
  ASSERT_OK(backend_.Put("snapshots/0001", AsBytes("x")));
  ASSERT_OK(backend_.Delete("snapshots/0001"));
  EXPECT_FALSE(fs::exists(root_ + "/snapshots/0001"));
  EXPECT_TRUE(fs::is_directory(root_ + "/snapshots"));  // kept for later puts
}

}  // namespace
}  // namespace pxb

namespace pxb {
namespace {

TEST_F(LocalBackendTest, RemovesOnlyTemporaryFilesOlderThanTheCutoff) {
  WriteFile(root_ + "/tmp/old", "left by a killed put");
  WriteFile(root_ + "/tmp/young", "a put still writing");
  const timespec old_times[2] = {{1'000'000'000, 0}, {1'000'000'000, 0}};  // 2001
  ASSERT_EQ(::utimensat(AT_FDCWD, (root_ + "/tmp/old").c_str(), old_times, 0), 0);
  ASSERT_OK(backend_.Put("data/ab/abcd", AsBytes("kept")));

  auto removed = backend_.RemoveStaleTemporaries(1'500'000'000LL * 1'000'000'000);
  ASSERT_OK(removed);
  EXPECT_EQ(*removed, 1u);
  EXPECT_THAT(FilesIn(root_ + "/tmp"), testing::ElementsAre("young"));
  EXPECT_OK(backend_.Stat("data/ab/abcd"));
}

}  // namespace
}  // namespace pxb
