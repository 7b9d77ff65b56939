#include "engine/metadata_prefetch.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "core/unique_fd.h"
#include "engine/fs/testing/temp_dir.h"

namespace pxb {
namespace {

class MetadataPrefetchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = dir_.Path("src");
    std::filesystem::create_directories(root_ + "/b/d");
    std::filesystem::create_directories(root_ + "/z");
    Write("a.txt", "alpha");
    Write("b/c.txt", "charlie!");
    Write("b/d/e", "");
    std::filesystem::create_symlink("a.txt", root_ + "/link");
  }

  void Write(const std::string& name, const std::string& content) {
    std::ofstream(root_ + "/" + name, std::ios::binary) << content;
  }

  static std::vector<std::string> NamesOf(const std::optional<PrefetchedFolder>& folder) {
    return folder ? folder->Names() : std::vector<std::string>{"(not read ahead)"};
  }

  TempDir dir_;
  std::string root_;
};

TEST_F(MetadataPrefetchTest, FoldersComeInTheWalksOrderWithTheNodesReadNodeGives) {
  MetadataPrefetch ahead({.roots = {root_}});
  std::optional<PrefetchedFolder> top = ahead.Take(root_);
  ASSERT_EQ(NamesOf(top), (std::vector<std::string>{"a.txt", "b", "link", "z"}));
  OwnerNames names;
  UniqueFd fd(::open(root_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  for (const std::string& name : top->Names()) {
    StatusOr<Node>* got = top->Find(name);
    ASSERT_NE(got, nullptr) << name;
    ASSERT_TRUE(got->ok()) << got->status().ToString();
    StatusOr<Node> want = ReadNode(fd.get(), name, root_ + "/" + name, names, {});
    ASSERT_TRUE(want.ok()) << want.status().ToString();
    EXPECT_EQ((*got)->name, name);
    EXPECT_EQ((*got)->type, want->type) << name;
    EXPECT_EQ((*got)->size, want->size) << name;
    EXPECT_EQ((*got)->inode, want->inode) << name;
    EXPECT_EQ((*got)->mtime_ns, want->mtime_ns) << name;
    EXPECT_EQ((*got)->link_target, want->link_target) << name;
  }
  EXPECT_EQ(top->Find("a.txt")->value().size, 5u);
  EXPECT_EQ(top->Find("missing"), nullptr);
  EXPECT_EQ(NamesOf(ahead.Take(root_ + "/b")), (std::vector<std::string>{"c.txt", "d"}));
  EXPECT_EQ(NamesOf(ahead.Take(root_ + "/b/d")), (std::vector<std::string>{"e"}));
  EXPECT_EQ(NamesOf(ahead.Take(root_ + "/z")), std::vector<std::string>{});
  // A folder that was never a source's is not waited for.
  EXPECT_FALSE(ahead.Take(dir_.path()));
}

TEST_F(MetadataPrefetchTest, ExcludedFoldersAreNotReadAndStopTheReadAhead) {
  MetadataPrefetchOptions options{.roots = {root_}};
  ASSERT_TRUE(options.excludes.AddPattern("b").ok());
  MetadataPrefetch ahead(std::move(options));
  EXPECT_EQ(NamesOf(ahead.Take(root_)), (std::vector<std::string>{"a.txt", "b", "link", "z"}));
  EXPECT_FALSE(ahead.Take(root_ + "/b"));
  EXPECT_FALSE(ahead.Take(root_ + "/b/d"));
}

TEST_F(MetadataPrefetchTest, FoldersHoldingAMarkerAreNotReadAndTakeNoRoom) {
  Write("b/.nobackup", "");
  Write("z/1", "1");
  Write("z/2", "2");
  // Read, "b" (3 entries) and "b/d" (1) would fill the room that "z" needs
  // after the walk, which skips "b" as the backup does, took the top folder.
  MetadataPrefetch ahead({.roots = {root_}, .exclude_if_present = {".nobackup"}, .max_entries = 4});
  EXPECT_EQ(NamesOf(ahead.Take(root_)), (std::vector<std::string>{"a.txt", "b", "link", "z"}));
  EXPECT_EQ(NamesOf(ahead.Take(root_ + "/z")), (std::vector<std::string>{"1", "2"}));
}

TEST_F(MetadataPrefetchTest, RootsThatAreNotFoldersAreSkipped) {
  MetadataPrefetch ahead({.roots = {root_ + "/a.txt", root_ + "/b/d", root_ + "/link"}});
  EXPECT_EQ(NamesOf(ahead.Take(root_ + "/b/d")), (std::vector<std::string>{"e"}));
  EXPECT_FALSE(ahead.Take(root_ + "/a.txt"));
  EXPECT_FALSE(ahead.Take(root_ + "/link"));
}

TEST_F(MetadataPrefetchTest, WaitsForTheWalkWhenFullAndGoesOnAsItTakes) {
  // Four entries wait at most: the top folder (4) fills it, so "b" is read
  // only once the walk took the top folder, and so on.
  MetadataPrefetch ahead({.roots = {root_}, .max_entries = 4});
  EXPECT_EQ(NamesOf(ahead.Take(root_)), (std::vector<std::string>{"a.txt", "b", "link", "z"}));
  EXPECT_EQ(NamesOf(ahead.Take(root_ + "/b")), (std::vector<std::string>{"c.txt", "d"}));
  EXPECT_EQ(NamesOf(ahead.Take(root_ + "/b/d")), (std::vector<std::string>{"e"}));
  EXPECT_EQ(NamesOf(ahead.Take(root_ + "/z")), std::vector<std::string>{});
}

TEST_F(MetadataPrefetchTest, AWalkThatSkipsFoldersStopsAFullReadAheadInsteadOfWaitingForever) {
  Write("z/1", "1");
  Write("z/2", "2");
  MetadataPrefetch ahead({.roots = {root_}, .max_entries = 4});
  EXPECT_TRUE(ahead.Take(root_));
  // "b" and "b/d" (3 entries) wait; "z" (2) needs room that the walk, which
  // skipped "b", never makes.
  const auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(ahead.Take(root_ + "/z"));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
}

TEST_F(MetadataPrefetchTest, AFolderLargerThanTheLimitEndsTheReadAhead) {
  for (int i = 0; i < 6; ++i) Write("z/f" + std::to_string(i), "x");
  MetadataPrefetch ahead({.roots = {root_}, .max_entries = 5});
  EXPECT_TRUE(ahead.Take(root_));
  EXPECT_TRUE(ahead.Take(root_ + "/b"));
  EXPECT_TRUE(ahead.Take(root_ + "/b/d"));
  EXPECT_FALSE(ahead.Take(root_ + "/z"));
}

TEST_F(MetadataPrefetchTest, StopsPromptlyWhenNothingIsTaken) {
  for (int i = 0; i < 50; ++i)
    std::filesystem::create_directories(root_ + "/many/" + std::to_string(i));
  const auto start = std::chrono::steady_clock::now();
  { MetadataPrefetch ahead({.roots = {root_}, .max_entries = 5}); }
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
}

}  // namespace
}  // namespace pxb
