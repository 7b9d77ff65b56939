#include "engine/prune.h"

#include <gtest/gtest.h>

#include <random>

#include "engine/check.h"
#include "engine/forget.h"
#include "format/object_names.h"
#include "format/tree_format.h"
#include "storage/mem/mem_backend.h"
#include "storage/testing/status_testing.h"

namespace pxb {
namespace {

constexpr std::string_view kPassphrase = "prune test";
constexpr int64_t kHour = 3600'000'000'000;

class PruneTest : public testing::Test {
 protected:
  void SetUp() override {
    name_ =
        std::string("prune-test-") + testing::UnitTest::GetInstance()->current_test_info()->name();
    MemBackend::ForgetShared(name_);
    InitOptions options;
    options.kdf = {kArgon2idMinMemoryKib, kArgon2idMinIterations, 1};
    options.pack_size = 1 << 20;
    ASSERT_OK(Repository::Init(MemBackend::OpenShared(name_), kPassphrase, options));
  }
  void TearDown() override { MemBackend::ForgetShared(name_); }

  // A process: its own Repository with a running session and a loaded index.
  std::unique_ptr<Repository> Process(const std::string& command) {
    auto repo = Repository::Open(MemBackend::OpenShared(name_), kPassphrase);
    EXPECT_OK(repo);
    EXPECT_OK((*repo)->StartSession(command, kHour));
    EXPECT_OK((*repo)->LoadIndex());
    return std::move(*repo);
  }

  // Stores `content` as one chunk and a snapshot of one file holding it.
  SnapshotId Backup(Repository& repo, const Bytes& content) {
    auto chunk = repo.SaveBlob(BlobType::kData, content, CompressionLevel::kDefault);
    EXPECT_OK(chunk);
    return SnapshotOfChunk(repo, chunk->id, content.size(), "/data");
  }

  // A snapshot of `path` whose one file is `chunk`; flushes first.
  SnapshotId SnapshotOfChunk(Repository& repo, const BlobId& chunk, uint64_t size,
                             const std::string& path) {
    return SnapshotOfChunks(repo, {chunk}, size, path);
  }
  SnapshotId SnapshotOfChunks(Repository& repo, const std::vector<BlobId>& chunks, uint64_t size,
                              const std::string& path) {
    Tree tree;
    Node file;
    file.name = "file";
    file.size = size;
    file.extents.push_back(Extent{0, chunks});
    tree.nodes.push_back(file);
    auto encoded = EncodeTree(tree);
    EXPECT_OK(encoded);
    auto root = repo.SaveBlob(BlobType::kTree, *encoded, CompressionLevel::kDefault);
    EXPECT_OK(root);
    EXPECT_OK(repo.Flush());
    Snapshot s;
    s.time_ns = ++clock_;
    s.host = "host";
    s.paths = {path};
    s.source = SourceHash(s.host, s.paths);
    s.tree = root->id;
    auto id = repo.SaveSnapshot(s);
    EXPECT_OK(id);
    return *id;
  }

  PruneReport Prune(int64_t grace_ns = 0) {
    PruneOptions options;
    options.grace_ns = grace_ns;
    return Prune(options);
  }
  PruneReport Prune(const PruneOptions& options) {
    auto repo = Process("prune");
    Progress progress;
    auto report = RunPrune(*repo, options, progress);
    EXPECT_OK(report);
    return report.ok() ? *report : PruneReport{};
  }

  void Forget(const SnapshotId& id) {
    auto repo = Process("forget");
    ForgetOptions options;
    options.ids = {id};
    EXPECT_OK(RunForget(*repo, options));
  }

  void ExpectCheckPasses() {
    auto repo = Process("check");
    Progress progress;
    CheckOptions options;
    options.read_data = true;
    auto report = RunCheck(*repo, options, progress);
    ASSERT_OK(report);
    for (const CheckProblem& p : report->problems) ADD_FAILURE() << p.object << ": " << p.message;
  }

  size_t Count(std::string_view prefix) {
    size_t n = 0;
    EXPECT_OK(MemBackend::OpenShared(name_)->List(prefix, [&](const ObjectInfo&) {
      ++n;
      return Status::Ok();
    }));
    return n;
  }

  std::string name_;
  int64_t clock_ = 1'700'000'000'000'000'000;
};

Bytes Content(char fill, size_t size = 50000) { return Bytes(size, std::byte(fill)); }

// Incompressible, so that stored sizes are known.
Bytes RandomContent(uint64_t seed, size_t size) {
  std::mt19937_64 rng(seed);
  Bytes out(size);
  for (std::byte& b : out) b = static_cast<std::byte>(rng());
  return out;
}

TEST_F(PruneTest, RemovesWhatNoSnapshotNeedsAndKeepsTheRest) {
  SnapshotId old_snapshot, kept;
  {
    auto writer = Process("backup");
    old_snapshot = Backup(*writer, Content('a'));
    kept = Backup(*writer, Content('b'));
  }
  const size_t packs = Count(kDataPrefix);
  Forget(old_snapshot);
  PruneReport report = Prune();
  EXPECT_EQ(report.packs_deleted, 2u);  // the data and tree packs of the first backup
  EXPECT_TRUE(report.waiting.empty());
  EXPECT_EQ(Count(kDataPrefix), packs - 2);
  EXPECT_EQ(Count(kDeletionsPrefix), 0u);
  EXPECT_EQ(Count(kSessionsPrefix), 0u);
  ExpectCheckPasses();
  auto reader = Process("restore");
  auto snapshot = reader->LoadSnapshot(kept);
  ASSERT_OK(snapshot);
}

TEST_F(PruneTest, APackAConcurrentWriterReusedIsRescued) {
  SnapshotId first;
  {
    auto writer = Process("backup");
    first = Backup(*writer, Content('x'));
  }
  // A backup starts and loads the index while the snapshot still exists.
  auto concurrent = Process("backup");
  ASSERT_TRUE(concurrent->HasReusableBlob(concurrent->ComputeBlobId(Content('x'))));

  Forget(first);
  PruneReport marked = Prune();
  EXPECT_EQ(marked.packs_condemned, 2u);
  EXPECT_EQ(marked.packs_deleted, 0u);  // the plan waits for the running backup
  ASSERT_EQ(marked.waiting.size(), 1u);
  EXPECT_NE(marked.waiting[0].find("1 running sessions"), std::string::npos) << marked.waiting[0];
  PruneReport again = Prune();
  EXPECT_EQ(again.packs_deleted, 0u);  // still waiting, and says for whom
  ASSERT_FALSE(again.waiting.empty());
  EXPECT_NE(again.waiting[0].find("waits for backup"), std::string::npos) << again.waiting[0];

  // The backup deduplicates its chunk and tree against the condemned packs
  // and commits.
  const SnapshotId second = Backup(*concurrent, Content('x'));
  EXPECT_EQ(concurrent->write_stats().blobs_added.load(), 0u);
  concurrent.reset();  // ends its session

  PruneReport swept = Prune();
  EXPECT_EQ(swept.packs_rescued, 2u);
  EXPECT_EQ(swept.packs_deleted, 0u);
  EXPECT_EQ(Count(kDeletionsPrefix), 0u);
  ExpectCheckPasses();
  auto reader = Process("restore");
  auto data = reader->LoadBlob(BlobType::kData, reader->ComputeBlobId(Content('x')));
  ASSERT_OK(data);
  EXPECT_EQ(*data, Content('x'));
  EXPECT_OK(reader->LoadSnapshot(second).status());
}

TEST_F(PruneTest, AWriterThatStartsAfterThePlanStoresCondemnedDataAgain) {
  SnapshotId first;
  {
    auto writer = Process("backup");
    first = Backup(*writer, Content('y'));
  }
  Forget(first);
  PruneReport marked = Prune(kHour);  // the grace period keeps the plan waiting
  EXPECT_EQ(marked.packs_condemned, 2u);
  ASSERT_EQ(marked.waiting.size(), 1u);

  auto writer = Process("backup");
  EXPECT_TRUE(writer->HasBlob(writer->ComputeBlobId(Content('y'))));
  EXPECT_FALSE(writer->HasReusableBlob(writer->ComputeBlobId(Content('y'))));
  Backup(*writer, Content('y'));
  EXPECT_EQ(writer->write_stats().blobs_added.load(), 2u);  // the chunk again, and its tree
  writer.reset();
  ExpectCheckPasses();
}

TEST_F(PruneTest, RepacksMostlyUnusedPacks) {
  SnapshotId old_snapshot;
  {
    auto writer = Process("backup");
    // Both chunks share a pack; only the second stays needed.
    auto a = writer->SaveBlob(BlobType::kData, Content('p', 300000), CompressionLevel::kOff);
    ASSERT_OK(a);
    old_snapshot = Backup(*writer, Content('q', 100000));
    Tree tree;
    Node file;
    file.name = "big";
    file.extents.push_back(Extent{0, {a->id}});
    tree.nodes.push_back(file);
    auto encoded = EncodeTree(tree);
    ASSERT_OK(encoded);
    auto root = writer->SaveBlob(BlobType::kTree, *encoded, CompressionLevel::kDefault);
    ASSERT_OK(root);
    ASSERT_OK(writer->Flush());
    Snapshot s;
    s.host = "host";
    s.paths = {"/other"};
    s.source = SourceHash(s.host, s.paths);
    s.tree = root->id;
    s.time_ns = ++clock_;
    ASSERT_OK(writer->SaveSnapshot(s));
  }
  Forget(old_snapshot);
  PruneReport report = Prune();
  EXPECT_EQ(report.packs_repacked, 0u);  // the unused 'q' chunk is 1/4 of the pack: below 30 %
  EXPECT_GT(report.bytes_unused_kept, 0u);
  ExpectCheckPasses();
}

// Pages of a table: compressible, different in every page.
Bytes TextPage(uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string page;
  while (page.size() < 8192) {
    page += "{\"sender\":\"user-" + std::to_string(rng() % 300) + "\",\"body\":\"message " +
            std::to_string(rng() % 100000) + "\"}";
  }
  page.resize(8192);
  return Bytes(reinterpret_cast<const std::byte*>(page.data()),
               reinterpret_cast<const std::byte*>(page.data()) + page.size());
}

// A frame whose members are mostly dead is repacked: its live members go
// into a new frame together, the dead ones are gone, and everything checks.
TEST_F(PruneTest, TheLiveMembersOfARepackedFrameStayOneFrame) {
  std::vector<Bytes> pages;
  for (uint64_t i = 0; i < 8; ++i) pages.push_back(TextPage(40 + i));
  std::vector<BlobId> ids;
  SnapshotId all;
  {
    auto writer = Process("backup");
    const std::vector<ByteView> batch(pages.begin(), pages.end());
    auto saved = writer->SaveFramed(BlobType::kData, batch, CompressionLevel::kDefault);
    ASSERT_OK(saved);
    for (const SaveBlobResult& r : *saved) ids.push_back(r.id);
    all = SnapshotOfChunks(*writer, ids, 8 * 8192, "/all");
    SnapshotOfChunks(*writer, {ids[1], ids[2], ids[5]}, 3 * 8192, "/some");
  }
  Forget(all);
  PruneReport report = Prune();
  EXPECT_GE(report.packs_repacked, 1u);  // the frame's pack (and the trees')
  EXPECT_GT(report.bytes_repacked, 0u);

  auto repo = Process("look");
  size_t frames = 0;
  std::vector<BlobId> members;
  for (const PackRecord& pack : repo->IndexedPacks()) {
    auto bytes = repo->backend().Get(PackObjectName(pack.id));
    ASSERT_OK(bytes);
    auto entries = repo->DecodePackBlobs(*bytes);
    ASSERT_OK(entries);
    for (const PackBlob& e : *entries) {
      frames += e.type == BlobType::kFrame ? 1 : 0;
      if (e.member()) members.push_back(e.id);
    }
  }
  EXPECT_EQ(frames, 1u);
  EXPECT_EQ(members, (std::vector<BlobId>{ids[1], ids[2], ids[5]}));
  for (size_t i = 0; i < pages.size(); ++i) {
    const bool live = i == 1 || i == 2 || i == 5;
    EXPECT_EQ(repo->FindBlob(ids[i]).has_value(), live) << i;
    if (!live) continue;
    auto loaded = repo->LoadBlob(BlobType::kData, ids[i]);
    ASSERT_OK(loaded);
    EXPECT_EQ(*loaded, pages[i]);
  }
  ExpectCheckPasses();
}

// Below the per-pack threshold, a repository-wide limit still repacks the
// most unused packs until what is left unused fits under it.
TEST_F(PruneTest, TheUnusedLimitRepacksTheMostUnusedPacksFirst) {
  std::vector<SnapshotId> forget;
  {
    auto writer = Process("backup");
    // Three packs, each holding a chunk that stays needed and one that only
    // a forgotten snapshot needs: 10 % to 21 % unused, below the default
    // threshold of 30 %.
    for (int p = 0; p < 3; ++p) {
      const size_t dead = 100000 + 50000 * static_cast<size_t>(p);
      auto live = writer->SaveBlob(BlobType::kData, RandomContent(p, 950000 - dead),
                                   CompressionLevel::kOff);
      ASSERT_OK(live);
      forget.push_back(Backup(*writer, RandomContent(10 + p, dead)));  // flushes the pack
      SnapshotOfChunk(*writer, live->id, 950000 - dead, "/kept/" + std::to_string(p));
    }
  }
  for (const SnapshotId& id : forget) Forget(id);
  PruneOptions options;
  options.dry_run = true;
  EXPECT_EQ(Prune(options).packs_repacked, 0u);
  // 450 kB unused beside 2.4 MB live: a limit of 10 % repacks the two most
  // unused packs (200 kB and 150 kB unused), which leaves 100 kB, 4 %.
  options.max_unused = 0.10;
  EXPECT_EQ(Prune(options).packs_repacked, 2u);
  options.dry_run = false;
  PruneReport limited = Prune(options);
  EXPECT_EQ(limited.packs_repacked, 2u);
  EXPECT_EQ(limited.bytes_unused_kept, 100000u + 16u);  // the chunk and its tag
  ExpectCheckPasses();
}

TEST_F(PruneTest, RefusesToPruneWhenASnapshotsTreeIsMissing) {
  {
    auto writer = Process("backup");
    Backup(*writer, Content('z'));
  }
  // Lose the index and every pack: the snapshot's tree cannot be read.
  auto store = MemBackend::OpenShared(name_);
  std::vector<std::string> names;
  ASSERT_OK(store->List("", [&](const ObjectInfo& info) {
    if (info.name.starts_with(kDataPrefix) || info.name.starts_with(kIndexPrefix)) {
      names.push_back(info.name);
    }
    return Status::Ok();
  }));
  for (const std::string& n : names) ASSERT_OK(store->Delete(n));
  auto repo = Process("prune");
  Progress progress;
  EXPECT_EQ(CodeOf(RunPrune(*repo, PruneOptions{}, progress)), StatusCode::kDataLoss);
  PruneOptions bad;
  bad.repack_threshold = 2;
  EXPECT_EQ(CodeOf(RunPrune(*repo, bad, progress)), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace pxb
