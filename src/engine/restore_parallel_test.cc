// Restore through the worker pool: bundles of small files, large files split
// over several tasks, blobs read pack by pack, hard links, sparse files,
// repeated chunks, each durability mode, damaged packs and cancellation.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/magic.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "core/unique_fd.h"
#include "engine/backup.h"
#include "engine/fs/testing/temp_dir.h"
#include "engine/restore.h"
#include "engine/testing/source_files.h"
#include "engine/tree_walker.h"
#include "format/object_names.h"
#include "storage/mem/mem_backend.h"
#include "storage/testing/status_testing.h"

namespace pxb {
namespace {

namespace fs = std::filesystem;

constexpr uint64_t kMiB = 1 << 20;
constexpr Argon2idParams kFastKdf{kArgon2idMinMemoryKib, kArgon2idMinIterations, 1};

// Everything that restore promises to bring back, per relative path: type,
// mode, mtime, size, content (or link target), and which paths share an inode.
std::map<std::string, std::string> Manifest(const std::string& root) {
  std::map<std::string, std::string> out;
  std::map<std::pair<dev_t, ino_t>, std::string> first_path;
  std::vector<std::string> paths;
  for (auto it = fs::recursive_directory_iterator(root); it != fs::recursive_directory_iterator();
       ++it) {
    paths.push_back(it->path().string());
  }
  std::sort(paths.begin(), paths.end());
  for (const std::string& path : paths) {
    struct stat st;
    if (::lstat(path.c_str(), &st) != 0) continue;
    const std::string rel = path.substr(root.size());
    std::ostringstream line;
    line << std::oct << st.st_mode << std::dec;
    if (!S_ISDIR(st.st_mode)) line << " size " << st.st_size;
    if (S_ISREG(st.st_mode)) {
      line << " mtime " << st.st_mtim.tv_sec << "." << st.st_mtim.tv_nsec;
      auto [it, first] = first_path.emplace(std::make_pair(st.st_dev, st.st_ino), rel);
      if (!first) line << " link of " << it->second;
      line << " hash " << std::hash<std::string>()(ReadFile(path));
    } else if (S_ISLNK(st.st_mode)) {
      line << " -> " << fs::read_symlink(path).string();
    }
    out[rel] = line.str();
  }
  return out;
}

std::vector<std::string> TempFilesUnder(const std::string& root) {
  std::vector<std::string> found;
  for (const auto& e : fs::recursive_directory_iterator(root)) {
    if (e.path().filename().string().starts_with(kRestoreTempPrefix)) {
      found.push_back(e.path().string());
    }
  }
  return found;
}

class RestoreParallelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    InitOptions options;
    options.kdf = kFastKdf;
    options.pack_size = 1 << 20;  // many packs
    options.chunker = ChunkerParams{64 * 1024, 256 * 1024, 1024 * 1024, 1};
    auto repo = Repository::Init(std::make_unique<MemBackend>(), "pw", options);
    ASSERT_OK(repo);
    repo_ = std::move(*repo);
    src_ = dir_.Path("src");
  }

  void Backup() {
    BackupOptions options;
    options.paths = {src_};
    Progress progress;
    auto result =
        RunBackup(*repo_, options, progress, [](const std::string& path, const Status& s) {
          ADD_FAILURE() << path << ": " << s.ToString();
        });
    ASSERT_OK(result);
    snapshot_ = result->id;
  }

  // Restores the source folder into `target`; errors are collected by path.
  StatusOr<RestoreResult> Restore(const std::string& target, RestoreOptions options = {},
                                  const std::atomic<bool>* cancel = nullptr,
                                  Progress* progress = nullptr) {
    options.target = target;
    options.subpath = src_;
    Progress own;
    return RunRestore(
        *repo_, snapshot_, options, progress ? *progress : own,
        [this](const std::string& path, const Status& s) {
          std::lock_guard lock(errors_mu_);
          errors_[path] = s;
        },
        cancel);
  }

  // The chunks of a file of the source, in file order.
  std::vector<BlobId> ChunksOf(const std::string& name) {
    std::vector<BlobId> chunks;
    auto snapshot = repo_->LoadSnapshot(snapshot_);
    EXPECT_OK(snapshot);
    auto node = FindNodeAtPath(*repo_, snapshot->tree, src_ + "/" + name);
    EXPECT_OK(node);
    for (const Extent& e : node->extents)
      chunks.insert(chunks.end(), e.chunks.begin(), e.chunks.end());
    return chunks;
  }

  // The packs that hold the chunks of a file of the source.
  std::set<std::string> PacksOf(const std::string& name) {
    std::set<std::string> packs;
    for (const BlobId& id : ChunksOf(name)) {
      packs.insert(PackObjectName(repo_->FindBlob(id)->pack.id));
    }
    return packs;
  }

  TempDir dir_;
  std::unique_ptr<Repository> repo_;
  std::string src_;
  SnapshotId snapshot_;
  std::mutex errors_mu_;
  std::map<std::string, Status> errors_;
};

// A tree with every shape the pipeline treats differently.
void WriteMixedTree(const std::string& src) {
  std::mt19937_64 rng(7);
  // Many small files in several folders: bundled, several per task.
  for (int i = 0; i < 300; ++i) {
    WriteFile(src + "/small/d" + std::to_string(i % 7) + "/f" + std::to_string(i),
              RandomBytesOf(rng, 1 + rng() % 12000));
  }
  WriteFile(src + "/empty", "");
  // Large: split over several tasks that may run at once.
  WriteFile(src + "/large", RandomBytesOf(rng, 21 * kMiB + 12345));
  // The same 1.5 MiB block four times: repeated chunks.
  const std::string block = RandomBytesOf(rng, 3 * kMiB / 2);
  WriteFile(src + "/repeated", block + block + block + block);
  // Compressible text.
  std::string text;
  while (text.size() < 3 * kMiB) text += "line " + std::to_string(text.size()) + " of a log\n";
  WriteFile(src + "/text.log", text);
  // A database: cut into chunks of two 4 KiB pages, some repeated, and
  // written back gathered in runs of consecutive chunks.
  {
    std::string db = "SQLite format 3";
    db += '\0';
    db += '\x10';  // 4 KiB pages
    db += '\0';
    db += RandomBytesOf(rng, 8192 - db.size());
    const std::string repeated_page = RandomBytesOf(rng, 8192);
    for (int page = 1; page < 400; ++page) {
      db += page % 37 == 0 ? repeated_page : "page " + RandomBytesOf(rng, 8187);
    }
    db += RandomBytesOf(rng, 4096);  // an odd page: a short last chunk
    WriteFile(src + "/chat.db", db);
  }
  // Sparse: two data islands and a trailing hole.
  {
    const std::string path = src + "/sparse";
    int fd = ::open(path.c_str(), O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0640);
    ASSERT_GE(fd, 0);
    const std::string island = RandomBytesOf(rng, 100000);
    ASSERT_EQ(::pwrite(fd, island.data(), island.size(), 3 * kMiB), 100000);
    ASSERT_EQ(::pwrite(fd, island.data(), island.size(), 17 * kMiB), 100000);
    ASSERT_EQ(::ftruncate(fd, 40 * kMiB), 0);
    ::close(fd);
  }
  // Hard links, one pair across folders.
  WriteFile(src + "/linked/a", RandomBytesOf(rng, 50000));
  ASSERT_EQ(::link((src + "/linked/a").c_str(), (src + "/linked/b").c_str()), 0);
  ASSERT_EQ(::link((src + "/linked/a").c_str(), (src + "/small/d0/c").c_str()), 0);
  ASSERT_EQ(::symlink("linked/a", (src + "/symlink").c_str()), 0);
  // Modes and times that must survive the temporary name and the rename.
  ASSERT_EQ(::chmod((src + "/text.log").c_str(), 0444), 0);
  const timespec times[2] = {{1'600'000'000, 1}, {1'500'000'000, 123'456'789}};
  ASSERT_EQ(::utimensat(AT_FDCWD, (src + "/large").c_str(), times, 0), 0);
}

class RestoreDurabilityTest : public RestoreParallelTest,
                              public ::testing::WithParamInterface<RestoreDurability> {};

TEST_P(RestoreDurabilityTest, RestoresEveryShapeExactly) {
  WriteMixedTree(src_);
  Backup();
  const std::string target = dir_.Path("out");
  RestoreOptions options;
  options.threads = 4;
  options.durability = GetParam();
  auto result = Restore(target, options);
  ASSERT_OK(result);
  EXPECT_TRUE(errors_.empty()) << errors_.begin()->first << ": "
                               << errors_.begin()->second.ToString();
  EXPECT_EQ(result->errors, 0u);
  EXPECT_EQ(Manifest(target), Manifest(src_));
  EXPECT_TRUE(TempFilesUnder(target).empty());
  struct stat st;
  ASSERT_EQ(::stat((target + "/sparse").c_str(), &st), 0);
  EXPECT_LT(st.st_blocks * 512, 1 * kMiB) << "the sparse file lost its holes";
  // 300 small + empty + large + repeated + text + database + sparse + 3
  // linked names.
  EXPECT_EQ(result->files_restored, 309u);
  // The database was cut into its pages and the short rest.
  EXPECT_EQ(ChunksOf("chat.db").size(), 401u);

  // A second run finds everything in place and writes nothing.
  auto again = Restore(target, options);
  ASSERT_OK(again);
  EXPECT_EQ(again->files_restored, 0u);
  EXPECT_EQ(again->files_unchanged, 307u);
  EXPECT_EQ(again->bytes_written, 0u);
  EXPECT_EQ(Manifest(target), Manifest(src_));
}

INSTANTIATE_TEST_SUITE_P(Modes, RestoreDurabilityTest,
                         ::testing::Values(RestoreDurability::kBatched, RestoreDurability::kPerFile,
                                           RestoreDurability::kNone),
                         [](const auto& info) {
                           std::string name(RestoreDurabilityName(info.param));
                           std::erase(name, '-');
                           return name;
                         });

// The fraction of the pages of `path` that are in the page cache.
double ResidentFraction(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  struct stat st;
  if (!fd.valid() || ::fstat(fd.get(), &st) != 0 || st.st_size == 0) {
    ADD_FAILURE() << "cannot open " << path;
    return -1;
  }
  const size_t size = static_cast<size_t>(st.st_size);
  void* map = ::mmap(nullptr, size, PROT_READ, MAP_SHARED, fd.get(), 0);
  if (map == MAP_FAILED) {
    ADD_FAILURE() << "cannot map " << path;
    return -1;
  }
  const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  std::vector<unsigned char> in_core((size + page - 1) / page);
  const bool looked = ::mincore(map, size, in_core.data()) == 0;
  ::munmap(map, size);
  EXPECT_TRUE(looked);
  const auto resident =
      std::count_if(in_core.begin(), in_core.end(), [](unsigned char c) { return c & 1; });
  return static_cast<double>(resident) / static_cast<double>(in_core.size());
}

TEST_F(RestoreParallelTest, LargeFilesAreWrittenPastThePageCache) {
  struct statfs fs;
  ASSERT_EQ(::statfs(dir_.path().c_str(), &fs), 0);
  if (fs.f_type != EXT4_SUPER_MAGIC && fs.f_type != XFS_SUPER_MAGIC) {
    GTEST_SKIP() << dir_.path() << " is on neither ext4 nor XFS";
  }
  WriteMixedTree(src_);
  Backup();
  // Without durability the restore leaves its files in the page cache: the
  // look below sees the cache.
  RestoreOptions cached;
  cached.durability = RestoreDurability::kNone;
  const std::string through_cache = dir_.Path("cached");
  auto cached_result = Restore(through_cache, cached);
  ASSERT_OK(cached_result);
  EXPECT_GT(ResidentFraction(through_cache + "/large"), 0.5);

  const std::string target = dir_.Path("out");
  auto result = Restore(target);
  ASSERT_OK(result);
  EXPECT_EQ(result->errors, 0u);
  // Only the partial blocks at the ends of its pieces (a few of its 5,000
  // pages) went through the page cache. The content is checked after this
  // look, which reads it in.
  EXPECT_LT(ResidentFraction(target + "/large"), 0.01);
  // Bytes gathered first are counted once written, as the others are.
  EXPECT_EQ(result->bytes_written, cached_result->bytes_written);
  EXPECT_EQ(Manifest(target), Manifest(src_));
}

TEST_F(RestoreParallelTest, OneThreadAndVerifyGiveTheSameTree) {
  WriteMixedTree(src_);
  Backup();
  RestoreOptions options;
  options.threads = 1;
  options.verify = true;
  const std::string target = dir_.Path("out");
  auto result = Restore(target, options);
  ASSERT_OK(result);
  EXPECT_EQ(result->errors, 0u);
  EXPECT_EQ(Manifest(target), Manifest(src_));
}

TEST_F(RestoreParallelTest, ResumeReplacesOnlyWrongFiles) {
  std::mt19937_64 rng(3);
  for (int i = 0; i < 40; ++i) {
    WriteFile(src_ + "/f" + std::to_string(i), RandomBytesOf(rng, 1000 + 50000 * (i % 4)));
  }
  WriteFile(src_ + "/large", RandomBytesOf(rng, 12 * kMiB));
  Backup();
  const std::string target = dir_.Path("out");
  ASSERT_OK(Restore(target));
  std::string changed = ReadFile(target + "/f5");
  changed[changed.size() / 2] ^= 1;
  WriteFile(target + "/f5", changed);
  std::string large = ReadFile(target + "/large");
  large[large.size() - 1] ^= 1;
  WriteFile(target + "/large", large);
  WriteFile(target + "/f6", "short");
  ASSERT_EQ(::unlink((target + "/f7").c_str()), 0);

  auto again = Restore(target);
  ASSERT_OK(again);
  EXPECT_EQ(again->files_restored, 4u);
  EXPECT_EQ(again->files_unchanged, 37u);
  EXPECT_EQ(Manifest(target), Manifest(src_));
  EXPECT_TRUE(TempFilesUnder(target).empty());
}

// Blobs of a pack are read in ranges; when a range cannot be read (here the
// pack was cut in half), each blob is read on its own: the files before the
// cut are restored, the ones after it fail and keep the version that was
// there, and no temporary file is left.
TEST_F(RestoreParallelTest, CutPackFailsOnlyItsLaterFilesAndKeepsTheOldOnes) {
  std::mt19937_64 rng(11);
  std::map<std::string, std::string> content;
  for (int i = 0; i < 30; ++i) {
    const std::string name = "f" + std::to_string(100 + i);
    content[name] = RandomBytesOf(rng, 20000);
    WriteFile(src_ + "/" + name, content[name]);
  }
  Backup();
  const std::set<std::string> packs = PacksOf("f100");
  ASSERT_EQ(packs.size(), 1u);
  const std::string pack = *packs.begin();
  ASSERT_EQ(PacksOf("f129"), packs) << "the test needs all files in one pack";
  auto whole = repo_->backend().Get(pack);
  ASSERT_OK(whole);
  ASSERT_OK(repo_->backend().Put(pack, ByteView(*whole).first(whole->size() / 2)));

  const std::string target = dir_.Path("out");
  for (const auto& [name, data] : content) WriteFile(target + "/" + name, "old " + name);
  auto result = Restore(target);
  ASSERT_OK(result);
  int restored = 0, kept = 0;
  for (const auto& [name, data] : content) {
    const std::string now = ReadFile(target + "/" + name);
    if (now == data) {
      ++restored;
      EXPECT_FALSE(errors_.contains(target + "/" + name));
    } else {
      ++kept;
      EXPECT_EQ(now, "old " + name);
      EXPECT_TRUE(errors_.contains(target + "/" + name)) << name;
    }
  }
  EXPECT_GT(restored, 5);
  EXPECT_GT(kept, 5);
  EXPECT_EQ(result->errors, static_cast<uint64_t>(kept));
  EXPECT_TRUE(TempFilesUnder(target).empty());
}

TEST_F(RestoreParallelTest, MissingPackFailsItsFilesOnly) {
  std::mt19937_64 rng(12);
  // Two backups, so that b has packs of its own: backed up together, the
  // two files' chunks may share every pack.
  WriteFile(src_ + "/a", RandomBytesOf(rng, 3 * kMiB));
  Backup();
  WriteFile(src_ + "/b", RandomBytesOf(rng, 3 * kMiB));
  Backup();
  const std::set<std::string> packs_a = PacksOf("a");
  std::string lost;
  for (const std::string& p : PacksOf("b")) {
    if (!packs_a.contains(p)) lost = p;
  }
  ASSERT_FALSE(lost.empty());
  ASSERT_OK(repo_->backend().Delete(lost));
  const std::string target = dir_.Path("out");
  WriteFile(target + "/b", "old b");
  auto result = Restore(target);
  ASSERT_OK(result);
  EXPECT_EQ(result->errors, 1u);
  ASSERT_TRUE(errors_.contains(target + "/b"));
  EXPECT_EQ(errors_[target + "/b"].code(), StatusCode::kDataLoss)
      << errors_[target + "/b"].ToString();
  EXPECT_EQ(ReadFile(target + "/b"), "old b");
  EXPECT_EQ(ReadFile(target + "/a"), ReadFile(src_ + "/a"));
  EXPECT_TRUE(TempFilesUnder(target).empty());
}

// Cancelled halfway: every file under its real name is complete, no
// temporary file is left, and a second run finishes the tree.
TEST_F(RestoreParallelTest, CancelledRestoreLeavesOnlyCompleteFiles) {
  std::mt19937_64 rng(13);
  for (int i = 0; i < 200; ++i) {
    WriteFile(src_ + "/d" + std::to_string(i % 5) + "/f" + std::to_string(i),
              RandomBytesOf(rng, 100000 + rng() % 300000));
  }
  Backup();
  const std::string target = dir_.Path("out");
  std::atomic<bool> cancel{false};
  Progress progress;
  std::thread canceller([&] {
    while (progress.bytes_done.load() < 10 * kMiB && !cancel.load()) {
      std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
    cancel = true;
  });
  RestoreOptions options;
  options.threads = 2;
  auto result = Restore(target, options, &cancel, &progress);
  cancel = true;
  canceller.join();
  ASSERT_EQ(CodeOf(result), StatusCode::kCancelled);
  EXPECT_TRUE(errors_.empty()) << errors_.begin()->second.ToString();
  EXPECT_TRUE(TempFilesUnder(target).empty());
  int complete = 0;
  for (const auto& e : fs::recursive_directory_iterator(target)) {
    if (!e.is_regular_file()) continue;
    const std::string rel = e.path().string().substr(target.size());
    EXPECT_EQ(ReadFile(e.path().string()), ReadFile(src_ + rel)) << rel;
    ++complete;
  }
  EXPECT_LT(complete, 200);

  auto finish = Restore(target);
  ASSERT_OK(finish);
  EXPECT_EQ(finish->files_unchanged, static_cast<uint64_t>(complete));
  EXPECT_EQ(Manifest(target), Manifest(src_));
}

TEST(RestoreDurabilityNames, ParseAndName) {
  for (RestoreDurability d :
       {RestoreDurability::kBatched, RestoreDurability::kPerFile, RestoreDurability::kNone}) {
    auto parsed = ParseRestoreDurability(RestoreDurabilityName(d));
    ASSERT_OK(parsed);
    EXPECT_EQ(*parsed, d);
  }
  EXPECT_EQ(CodeOf(ParseRestoreDurability("fsync")), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace pxb
