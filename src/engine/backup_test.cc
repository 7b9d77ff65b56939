// The backup pipeline's two ways of reading files: small and medium files
// are read and cut by the workers, each file by one, while a large file is
// read and cut by the walker and its chunks spread over the workers. Both
// must cut the same bytes into the same chunks, and a cancelled backup must
// leave a repository that checks clean and takes the next backup.
#include "engine/backup.h"

#include <gtest/gtest.h>
#include <sys/resource.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "engine/check.h"
#include "engine/fs/testing/temp_dir.h"
#include "engine/testing/source_files.h"
#include "engine/tree_walker.h"
#include "format/object_names.h"
#include "storage/mem/mem_backend.h"
#include "storage/testing/status_testing.h"

namespace pxb {
namespace {

constexpr uint64_t kMiB = 1 << 20;
constexpr Argon2idParams kFastKdf{kArgon2idMinMemoryKib, kArgon2idMinIterations, 1};

class BackupPipelineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    InitOptions options;
    options.kdf = kFastKdf;
    options.pack_size = 1 << 20;
    options.chunker = ChunkerParams{64 * 1024, 256 * 1024, 1024 * 1024, 1};
    auto repo = Repository::Init(std::make_unique<MemBackend>(), "pw", options);
    ASSERT_OK(repo);
    repo_ = std::move(*repo);
    src_ = dir_.Path("src");
  }

  StatusOr<BackupResult> Backup(Progress& progress, const std::atomic<bool>* cancel = nullptr,
                                BackupOptions options = {}) {
    options.paths = {src_};
    options.threads = 2;
    return RunBackup(
        *repo_, options, progress,
        [](const std::string& path, const Status& s) {
          ADD_FAILURE() << path << ": " << s.ToString();
        },
        cancel);
  }

  std::vector<BlobId> ChunksOf(const SnapshotId& snapshot, const std::string& name) {
    auto loaded = repo_->LoadSnapshot(snapshot);
    EXPECT_OK(loaded);
    auto node = FindNodeAtPath(*repo_, loaded->tree, src_ + "/" + name);
    EXPECT_OK(node);
    std::vector<BlobId> chunks;
    for (const Extent& extent : node->extents) {
      chunks.insert(chunks.end(), extent.chunks.begin(), extent.chunks.end());
    }
    return chunks;
  }

  TempDir dir_;
  std::unique_ptr<Repository> repo_;
  std::string src_;
};

TEST_F(BackupPipelineTest, AWorkerAndTheWalkerCutTheSameBytesIntoTheSameChunks) {
  std::mt19937_64 rng(11);
  // Above the size that one worker reads alone: the walker cuts it.
  const std::string large = RandomBytesOf(rng, 36 * kMiB + 777);
  WriteFile(src_ + "/large", large);
  // Its first 20 MiB and a tail of its own: a worker cuts it.
  WriteFile(src_ + "/medium", large.substr(0, 20 * kMiB) + RandomBytesOf(rng, 3 * kMiB));
  Progress progress;
  auto result = Backup(progress);
  ASSERT_OK(result);

  const std::vector<BlobId> walker = ChunksOf(result->id, "large");
  const std::vector<BlobId> worker = ChunksOf(result->id, "medium");
  ASSERT_GT(walker.size(), 100u);
  // Every chunk of the large file that ends within the shared bytes is a
  // chunk of the medium one too, in the same place; the next differs.
  size_t within = 0;
  uint64_t end = 0;
  for (const BlobId& id : walker) {
    auto location = repo_->FindBlob(id);
    ASSERT_TRUE(location.has_value());
    end += location->blob.raw_length;
    if (end > 20 * kMiB) break;
    ++within;
  }
  ASSERT_GT(within, 10u);
  ASSERT_GT(worker.size(), within);
  for (size_t i = 0; i < within; ++i) EXPECT_EQ(worker[i], walker[i]) << "chunk " << i;
  EXPECT_NE(worker[within], walker[within]);
}

TEST_F(BackupPipelineTest, ACancelledBackupLeavesARepositoryThatChecksCleanAndBacksUpAgain) {
  std::mt19937_64 rng(12);
  for (int i = 0; i < 400; ++i) {
    WriteFile(src_ + "/d" + std::to_string(i % 9) + "/f" + std::to_string(i),
              RandomBytesOf(rng, 20000 + rng() % 400000));
  }
  std::atomic<bool> cancel{false};
  Progress progress;
  std::thread canceller([&] {
    while (progress.bytes_done < 8 * kMiB && !cancel) std::this_thread::yield();
    cancel = true;
  });
  auto cancelled = Backup(progress, &cancel);
  cancel = true;
  canceller.join();
  ASSERT_FALSE(cancelled.ok()) << "88 MB backed up before the flag was seen";
  EXPECT_EQ(cancelled.status().code(), StatusCode::kCancelled) << cancelled.status().ToString();

  auto checked = RunCheck(*repo_, CheckOptions{.read_data = true}, progress);
  ASSERT_OK(checked);
  EXPECT_TRUE(checked->ok()) << checked->problems.front().object << ": "
                             << checked->problems.front().message;

  auto again = Backup(progress);
  ASSERT_OK(again);
  auto rechecked = RunCheck(*repo_, CheckOptions{.read_data = true}, progress);
  ASSERT_OK(rechecked);
  EXPECT_TRUE(rechecked->ok());
  for (int i = 0; i < 400; i += 37) {
    const std::string name = "d" + std::to_string(i % 9) + "/f" + std::to_string(i);
    EXPECT_FALSE(ChunksOf(again->id, name).empty()) << name;
  }
}

// A worker closes a file as soon as it has read it, not when the file's
// folder completes: a folder of many files fits a small limit of open files.
TEST_F(BackupPipelineTest, AFolderOfManyFilesStaysWithinASmallLimitOfOpenFiles) {
  std::mt19937_64 rng(14);
  for (int i = 0; i < 400; ++i) {
    WriteFile(src_ + "/many/f" + std::to_string(i), RandomBytesOf(rng, 100 + rng() % 3000));
  }
  WriteFile(src_ + "/many/empty", "");
  // Databases too small for a dictionary are read at once, not deferred
  // with their files open; larger ones are deferred only a few at a time.
  const std::string header = std::string("SQLite format 3") + '\0' + std::string("\x10\x00", 2);
  for (int i = 0; i < 100; ++i) {
    WriteFile(src_ + "/many/db" + std::to_string(i),
              header + RandomBytesOf(rng, 5 * 4096 - header.size()));
  }
  for (int i = 0; i < 6; ++i) {
    WriteFile(src_ + "/many/large" + std::to_string(i),
              header + RandomBytesOf(rng, (5 << 20) - header.size()));
  }
  struct rlimit saved;
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &saved), 0);
  struct rlimit low = saved;
  low.rlim_cur = 64;
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &low), 0);
  Progress progress;
  auto result = Backup(progress);  // an error for any file fails the test
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &saved), 0);
  ASSERT_OK(result);
  EXPECT_EQ(result->errors, 0u);
  EXPECT_EQ(progress.files_done, 507u);  // the empty one too
}

// A database is a whole number of pages: a file with a database's header
// but not of such a size is cut like any other file, and the walk reads the
// header only of files whose size fits.
TEST_F(BackupPipelineTest, OnlyFilesOfWholePagesAreCutOnPageBoundaries) {
  std::mt19937_64 rng(15);
  const std::string header = std::string("SQLite format 3") + '\0' + std::string("\x10\x00", 2);
  WriteFile(src_ + "/pages.db", header + RandomBytesOf(rng, 16 * 4096 - header.size()));
  WriteFile(src_ + "/odd.db", header + RandomBytesOf(rng, 16 * 4096 + 100 - header.size()));
  Progress progress;
  auto result = Backup(progress);
  ASSERT_OK(result);
  // Chunks of two 4 KiB pages; the other is below the chunker's minimum.
  EXPECT_EQ(ChunksOf(result->id, "pages.db").size(), 8u);
  EXPECT_EQ(ChunksOf(result->id, "odd.db").size(), 1u);
}

// A database's pages that are new are stored 64 to a frame, each still a
// blob of its own: a second backup after a few pages changed stores only
// those pages, and check reads every member back.
TEST_F(BackupPipelineTest, ADatabasesNewPagesAreStoredAsFramesOfPages) {
  std::mt19937_64 rng(16);
  const std::string header = std::string("SQLite format 3") + '\0' + std::string("\x10\x00", 2);
  auto page = [&](int n) {
    std::string text;
    while (text.size() < 4096) {
      text += "{\"message\":" + std::to_string(n) + ",\"from\":\"user-" +
              std::to_string(rng() % 50) + "\",\"body\":\"hello " + std::to_string(rng()) + "\"}";
    }
    text.resize(4096);
    return text;
  };
  std::string db = header;
  for (int n = 0; n < 300; ++n) db += page(n);
  db.resize(300 * 4096);
  WriteFile(src_ + "/chat.db", db);
  Progress progress;
  auto first = Backup(progress);
  ASSERT_OK(first);
  const std::vector<BlobId> chunks = ChunksOf(first->id, "chat.db");
  ASSERT_EQ(chunks.size(), 150u);  // chunks of two 4 KiB pages

  // Every chunk is a member of a frame of at most 64 chunks (512 KiB).
  auto members = [&] {
    std::map<BlobId, PackBlob> found;
    size_t frames = 0;
    EXPECT_OK(repo_->backend().List(kDataPrefix, [&](const ObjectInfo& info) -> Status {
      PXB_ASSIGN_OR_RETURN(Bytes pack, repo_->backend().Get(info.name));
      PXB_ASSIGN_OR_RETURN(auto entries, repo_->DecodePackBlobs(pack));
      for (const PackBlob& e : entries) {
        if (e.type == BlobType::kFrame) {
          frames++;
          EXPECT_LE(e.raw_length, 512u * 1024);
        }
        if (e.member()) found[e.id] = e;
      }
      return Status::Ok();
    }));
    return std::pair(found, frames);
  };
  auto [framed, frames] = members();
  EXPECT_EQ(frames, 3u);  // batches of 64, 64 and 22 chunks
  for (const BlobId& chunk : chunks) EXPECT_TRUE(framed.contains(chunk)) << chunk.ShortHex();

  // Pages 10 to 13 (chunks 5 and 6, in the first batch) and 200 (chunk 100,
  // alone in its batch) change: the first two chunks are framed together,
  // the other is a blob of its own, and nothing else is stored again.
  for (int n : {10, 11, 12, 13, 200}) db.replace(n * 4096 + 100, 16, "edited in place.");
  WriteFile(src_ + "/chat.db", db);
  auto second = Backup(progress);
  ASSERT_OK(second);
  const std::vector<BlobId> changed = ChunksOf(second->id, "chat.db");
  ASSERT_EQ(changed.size(), chunks.size());
  auto [after, frames_after] = members();
  EXPECT_EQ(frames_after, frames + 1);
  EXPECT_EQ(after.size(), framed.size() + 2);
  for (size_t i = 0; i < changed.size(); ++i) {
    const bool edited = i == 5 || i == 6 || i == 100;
    EXPECT_EQ(changed[i] != chunks[i], edited) << i;
  }
  EXPECT_TRUE(after.contains(changed[5]) && after.contains(changed[6]));
  auto alone = repo_->FindBlob(changed[100]);
  ASSERT_TRUE(alone.has_value());
  EXPECT_FALSE(alone->blob.member());
  auto checked = RunCheck(*repo_, CheckOptions{.read_data = true}, progress);
  ASSERT_OK(checked);
  EXPECT_TRUE(checked->ok());
}

// Folders wait for their parent while the walk goes on, and complete in
// another order than they start: the trees must not depend on it.
TEST_F(BackupPipelineTest, FoldersThatWaitForTheirParentGiveTheSameTreesAsBefore) {
  std::mt19937_64 rng(13);
  std::map<std::string, std::string> written;
  for (int a = 0; a < 6; ++a) {
    for (int b = 0; b < 5; ++b) {
      for (int f = 0; f < 3; ++f) {
        const std::string name =
            "a" + std::to_string(a) + "/b" + std::to_string(b) + "/f" + std::to_string(f);
        written[name] = RandomBytesOf(rng, 1000 + rng() % 300000);
        WriteFile(src_ + "/" + name, written[name]);
      }
    }
    WriteFile(src_ + "/a" + std::to_string(a) + "/top", RandomBytesOf(rng, 5000));
    written["a" + std::to_string(a) + "/top"] = "";
  }
  Progress progress;
  auto first = Backup(progress);
  ASSERT_OK(first);
  for (const auto& [name, content] : written) {
    if (content.empty()) continue;
    auto node = FindNodeAtPath(*repo_, first->snapshot.tree, src_ + "/" + name);
    ASSERT_OK(node);
    EXPECT_EQ(node->size, content.size()) << name;
    Bytes restored;
    for (const Extent& extent : node->extents) {
      for (const BlobId& id : extent.chunks) {
        auto chunk = repo_->LoadBlob(BlobType::kData, id);
        ASSERT_OK(chunk);
        Append(restored, *chunk);
      }
    }
    EXPECT_EQ(restored, ToBytes(content)) << name;
  }
  // Every folder lists its entries once, in name order, with its subfolders
  // complete.
  for (int a = 0; a < 6; ++a) {
    const std::string folder = src_ + "/a" + std::to_string(a);
    auto node = FindNodeAtPath(*repo_, first->snapshot.tree, folder);
    ASSERT_OK(node);
    auto tree = LoadTree(*repo_, node->subtree);
    ASSERT_OK(tree);
    std::vector<std::string> names;
    for (const Node& entry : tree->nodes) names.push_back(entry.name);
    EXPECT_EQ(names, (std::vector<std::string>{"b0", "b1", "b2", "b3", "b4", "top"})) << folder;
    for (const Node& entry : tree->nodes) {
      if (entry.type != NodeType::kDirectory) continue;
      auto sub = LoadTree(*repo_, entry.subtree);
      ASSERT_OK(sub);
      EXPECT_EQ(sub->nodes.size(), 3u) << folder << "/" << entry.name;
    }
  }
  EXPECT_EQ(progress.dirs_done, 1u + 6 + 6 * 5);
  // Nothing changed: no data is stored again.
  const uint64_t stored = progress.bytes_new;
  auto second = Backup(progress);
  ASSERT_OK(second);
  EXPECT_EQ(progress.bytes_new, stored);
}

// What a snapshot says of each path below `source`, but the access times,
// which reading a folder may change. (The folders above it, /tmp among
// them, change as other tests run.)
std::map<std::string, std::string> Described(Repository& repo, const Snapshot& snapshot,
                                             const std::string& source) {
  std::map<std::string, std::string> described;
  Status walked = WalkTree(repo, snapshot.tree, "", [&](const std::string& path, const Node& n) {
    if (!path.starts_with(source + "/")) return StatusOr<bool>(true);
    std::string chunks;
    for (const Extent& e : n.extents) {
      for (const BlobId& id : e.chunks) chunks += id.Hex() + ",";
    }
    described[path] = std::to_string(static_cast<int>(n.type)) + " " + std::to_string(n.size) +
                      " " + std::to_string(n.mtime_ns) + " " + std::to_string(n.inode) + " " +
                      std::to_string(n.mode) + " " + n.link_target + " " + chunks;
    return StatusOr<bool>(true);
  });
  EXPECT_OK(walked);
  return described;
}

TEST_F(BackupPipelineTest, FoldersReadAheadGiveTheSameSnapshotAsTheWalkAlone) {
  std::mt19937_64 rng(17);
  for (int a = 0; a < 4; ++a) {
    for (int b = 0; b < 4; ++b) {
      for (int f = 0; f < 3; ++f) {
        WriteFile(
            src_ + "/a" + std::to_string(a) + "/b" + std::to_string(b) + "/f" + std::to_string(f),
            RandomBytesOf(rng, 100 + rng() % 200000));
      }
    }
  }
  std::filesystem::create_symlink("a0/b0/f0", src_ + "/link");
  std::filesystem::create_directories(src_ + "/empty");
  Progress progress;
  BackupOptions full;
  full.type = BackupType::kFull;
  auto alone = Backup(progress, nullptr, full);
  ASSERT_OK(alone);
  const auto want = Described(*repo_, alone->snapshot, src_);
  // The source's folders, files, link and empty folder.
  ASSERT_EQ(want.size(), 4u + 4 * 4 + 4 * 4 * 3 + 2);
  // Read ahead with room for all, and with room for 7 entries, so that the
  // read-ahead waits for the walk to take folders.
  for (size_t room : {size_t{8192}, size_t{7}}) {
    BackupOptions options = full;
    auto ahead = std::make_unique<MetadataPrefetch>(
        MetadataPrefetchOptions{.roots = {src_}, .max_entries = room});
    options.prefetch = ahead.get();
    auto read_ahead = Backup(progress, nullptr, options);
    ASSERT_OK(read_ahead);
    EXPECT_EQ(Described(*repo_, read_ahead->snapshot, src_), want) << "room for " << room;
  }
  // The same through StartMetadataPrefetch, with an exclusion.
  BackupOptions options = full;
  options.paths = {src_};
  ASSERT_OK(options.excludes.AddPattern("b2"));
  std::unique_ptr<MetadataPrefetch> ahead = StartMetadataPrefetch(options);
  ASSERT_NE(ahead, nullptr);
  options.prefetch = ahead.get();
  auto excluded = Backup(progress, nullptr, options);
  ASSERT_OK(excluded);
  auto without_b2 = want;
  std::erase_if(without_b2,
                [](const auto& entry) { return entry.first.find("/b2") != std::string::npos; });
  EXPECT_EQ(Described(*repo_, excluded->snapshot, src_), without_b2);
}

TEST_F(BackupPipelineTest, EntriesGoneSinceTheyWereReadAheadAreLeftOutWithoutAnError) {
  std::mt19937_64 rng(19);
  WriteFile(src_ + "/kept", RandomBytesOf(rng, 5000));
  WriteFile(src_ + "/gone", RandomBytesOf(rng, 5000));
  WriteFile(src_ + "/folder/inside", RandomBytesOf(rng, 5000));
  BackupOptions options;
  options.paths = {src_};
  std::unique_ptr<MetadataPrefetch> ahead = StartMetadataPrefetch(options);
  ASSERT_NE(ahead, nullptr);
  options.prefetch = ahead.get();
  // Time for the read-ahead to list them (if it has not, they are simply
  // never listed, and the backup must not mind either).
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  std::filesystem::remove(src_ + "/gone");
  std::filesystem::remove_all(src_ + "/folder");
  Progress progress;
  auto backup = Backup(progress, nullptr, options);  // any error fails the test
  ASSERT_OK(backup);
  EXPECT_EQ(backup->errors, 0u);
  EXPECT_FALSE(backup->snapshot.partial);
  auto described = Described(*repo_, backup->snapshot, src_);
  EXPECT_TRUE(described.contains(src_ + "/kept"));
  EXPECT_FALSE(described.contains(src_ + "/gone"));
  EXPECT_FALSE(described.contains(src_ + "/folder"));
}

}  // namespace
}  // namespace pxb
