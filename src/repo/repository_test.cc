#include "repo/repository.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <map>
#include <mutex>
#include <random>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "core/coding.h"
#include "core/crypto/sha256.h"
#include "format/object_names.h"
#include "format/testing/format_testing.h"
#include "storage/faulty/faulty_backend.h"
#include "storage/local/local_backend.h"
#include "storage/mem/mem_backend.h"
#include "storage/testing/status_testing.h"
#include "storage/testing/temp_folder.h"

namespace pxb {
namespace {

using ::testing::HasSubstr;
using M = FaultyBackend::Method;

constexpr std::string_view kPassphrase = "correct horse battery staple";
// The smallest Argon2id parameters, so that opening is instant.
constexpr Argon2idParams kFastKdf{kArgon2idMinMemoryKib, kArgon2idMinIterations, 1};

InitOptions FastOptions(AeadAlgorithm cipher = AeadAlgorithm::kAes256Gcm) {
  InitOptions options;
  options.cipher = cipher;
  options.kdf = kFastKdf;
  options.pack_size = 1 << 20;  // the smallest allowed, for many packs
  options.key_label = "test";
  return options;
}

// `size` bytes, different for every seed; `compressible` repeats a short
// pattern after the seed.
Bytes Content(size_t size, uint64_t seed, bool compressible = false) {
  std::mt19937_64 rng(seed);
  Bytes out(size);
  for (size_t i = 0; i < size; ++i) {
    out[i] =
        compressible ? static_cast<std::byte>("pattern-"[i % 8]) : static_cast<std::byte>(rng());
  }
  for (size_t i = 0; i < 8 && i < size; ++i) out[i] = static_cast<std::byte>(seed >> (8 * i));
  return out;
}

class RepositoryTest : public testing::Test {
 protected:
  void SetUp() override {
    name_ = std::string("repository-test-") +
            testing::UnitTest::GetInstance()->current_test_info()->name();
    MemBackend::ForgetShared(name_);
  }
  void TearDown() override { MemBackend::ForgetShared(name_); }

  std::unique_ptr<MemBackend> Store() { return MemBackend::OpenShared(name_); }

  std::unique_ptr<Repository> Init(const InitOptions& options = FastOptions()) {
    auto repo = Repository::Init(Store(), kPassphrase, options);
    EXPECT_OK(repo);
    return repo.ok() ? std::move(*repo) : nullptr;
  }

  // A repository over a FaultyBackend; `faulty` stays owned by the repository.
  std::unique_ptr<Repository> InitFaulty(FaultyBackend** faulty,
                                         const InitOptions& options = FastOptions()) {
    auto backend = std::make_unique<FaultyBackend>(Store());
    *faulty = backend.get();
    auto repo = Repository::Init(std::move(backend), kPassphrase, options);
    EXPECT_OK(repo);
    return repo.ok() ? std::move(*repo) : nullptr;
  }

  std::unique_ptr<Repository> Reopen() {
    auto repo = Repository::Open(Store(), kPassphrase);
    EXPECT_OK(repo);
    if (!repo.ok()) return nullptr;
    EXPECT_OK((*repo)->LoadIndex());
    return std::move(*repo);
  }

  // Every blob id in every pack header, with how many packs hold it.
  std::map<BlobId, int> BlobsInPacks(Repository& repo) {
    std::map<BlobId, int> count;
    auto store = Store();
    EXPECT_OK(store->List(kDataPrefix, [&](const ObjectInfo& info) -> Status {
      PXB_ASSIGN_OR_RETURN(Bytes pack, store->Get(info.name));
      PXB_ASSIGN_OR_RETURN(auto blobs, repo.DecodePackBlobs(pack));
      for (const PackBlob& b : blobs) count[b.id]++;
      return Status::Ok();
    }));
    return count;
  }

  // Every one of `blobs` loads back whole after the repository is reopened.
  void ExpectBlobsReadBack(const std::vector<Bytes>& blobs) {
    auto reopened = Reopen();
    ASSERT_NE(reopened, nullptr);
    for (const Bytes& data : blobs) {
      auto loaded = reopened->LoadBlob(BlobType::kData, reopened->ComputeBlobId(data));
      ASSERT_OK(loaded);
      EXPECT_EQ(*loaded, data);
    }
  }

  size_t CountObjects(std::string_view prefix) {
    size_t n = 0;
    EXPECT_OK(Store()->List(prefix, [&](const ObjectInfo&) {
      ++n;
      return Status::Ok();
    }));
    return n;
  }

  // Copies every blob of the repository's only pack into a new pack, as
  // prune does (dictionaries and frames are refused: they are no blobs),
  // then deletes the old pack and the index that names it.
  void CopyEveryBlobOutOfTheOnlyPack(Repository& repo) {
    ASSERT_EQ(repo.IndexedPacks().size(), 1u);
    const PackRecord old_pack = repo.IndexedPacks().front();
    auto bytes = repo.backend().Get(PackObjectName(old_pack.id));
    ASSERT_OK(bytes);
    auto entries = repo.DecodePackBlobs(*bytes);
    ASSERT_OK(entries);
    for (const PackBlob& e : *entries) {
      auto copied = repo.CopyBlob(old_pack, e, ByteView(*bytes).subspan(e.offset, e.stored_length));
      if (e.type == BlobType::kDictionary || e.type == BlobType::kFrame) {
        EXPECT_EQ(CodeOf(copied), StatusCode::kInvalidArgument);
      } else {
        ASSERT_OK(copied);
        EXPECT_TRUE(*copied);
      }
    }
    ASSERT_OK(repo.Flush());
    ASSERT_OK(repo.backend().Delete(PackObjectName(old_pack.id)));
    std::vector<std::string> indexes;
    ASSERT_OK(repo.backend().List(kIndexPrefix, [&](const ObjectInfo& info) {
      indexes.push_back(info.name);
      return Status::Ok();
    }));
    // Only the new pack's index stays: the old one named the deleted pack.
    for (const std::string& name : indexes) {
      auto file = repo.ReadIndexFile(*IdFromObjectName<IndexId>(name, kIndexPrefix));
      ASSERT_OK(file);
      if (file->packs.front().id == old_pack.id) {
        ASSERT_OK(repo.backend().Delete(name));
      }
    }
  }

  std::string name_;
};

// --- Init and Open ---

TEST_F(RepositoryTest, InitThenOpenWithEitherCipher) {
  for (AeadAlgorithm cipher : {AeadAlgorithm::kAes256Gcm, AeadAlgorithm::kXChaCha20Poly1305}) {
    MemBackend::ForgetShared(name_);
    InitOptions options = FastOptions(cipher);
    options.chunker = ChunkerParams{64 * 1024, 256 * 1024, 1024 * 1024, 1};
    auto created = Init(options);
    ASSERT_NE(created, nullptr);
    auto opened = Repository::Open(Store(), kPassphrase);
    ASSERT_OK(opened);
    const RepositoryConfig& c = (*opened)->config();
    EXPECT_EQ(c.id, created->config().id);
    EXPECT_EQ(c.cipher, cipher);
    EXPECT_EQ(c.pack_size, 1u << 20);
    EXPECT_EQ(c.chunker.avg_size, 256u * 1024);
    EXPECT_EQ(c.chunker.normalization, 1u);
    EXPECT_EQ((*opened)->unlocked_slot(), created->unlocked_slot());
    // The same keys: ids and chunk boundaries agree.
    const Bytes data = Content(1000, 1);
    EXPECT_EQ((*opened)->ComputeBlobId(data), created->ComputeBlobId(data));
    EXPECT_EQ(CountObjects(kKeysPrefix), 1u);
  }
}

TEST_F(RepositoryTest, OpenWithWrongPassphraseIsUnauthenticated) {
  ASSERT_NE(Init(), nullptr);
  auto opened = Repository::Open(Store(), "wrong");
  EXPECT_EQ(CodeOf(opened), StatusCode::kUnauthenticated);
  EXPECT_THAT(std::string(opened.status().message()), HasSubstr("passphrase"));
}

TEST_F(RepositoryTest, OpenOnAnEmptyBackendIsNotFound) {
  EXPECT_EQ(CodeOf(Repository::Open(Store(), kPassphrase)), StatusCode::kNotFound);
}

TEST_F(RepositoryTest, InitTwiceIsAlreadyExists) {
  ASSERT_NE(Init(), nullptr);
  EXPECT_EQ(CodeOf(Repository::Init(Store(), kPassphrase, FastOptions())),
            StatusCode::kAlreadyExists);
  // A non-empty location without a config is refused too.
  auto backend = std::make_unique<MemBackend>();
  ASSERT_OK(backend->Put("unrelated", AsBytes("x")));
  EXPECT_EQ(CodeOf(Repository::Init(std::move(backend), kPassphrase, FastOptions())),
            StatusCode::kAlreadyExists);
}

TEST_F(RepositoryTest, InitRefusesBadArguments) {
  EXPECT_EQ(CodeOf(Repository::Init(Store(), "", FastOptions())), StatusCode::kInvalidArgument);
  InitOptions bad = FastOptions();
  bad.chunker.avg_size = 300000;
  EXPECT_EQ(CodeOf(Repository::Init(Store(), kPassphrase, bad)), StatusCode::kInvalidArgument);
  EXPECT_EQ(CountObjects(""), 0u);
}

TEST_F(RepositoryTest, OpenRefusesANewerFormat) {
  ASSERT_NE(Init(), nullptr);
  auto store = Store();
  auto config = store->Get(kConfigObjectName);
  ASSERT_OK(config);
  StoreLe32(config->data() + 8, kFormatVersion + 1);
  ASSERT_OK(store->Put(kConfigObjectName, *config));
  EXPECT_EQ(CodeOf(Repository::Open(Store(), kPassphrase)), StatusCode::kFailedPrecondition);
}

TEST_F(RepositoryTest, OpenReportsADamagedConfigAsDataLoss) {
  ASSERT_NE(Init(), nullptr);
  auto store = Store();
  auto config = store->Get(kConfigObjectName);
  ASSERT_OK(config);
  config->back() ^= std::byte{1};
  ASSERT_OK(store->Put(kConfigObjectName, *config));
  EXPECT_EQ(CodeOf(Repository::Open(Store(), kPassphrase)), StatusCode::kDataLoss);
}

// --- Blobs ---

TEST_F(RepositoryTest, SaveBlobDeduplicates) {
  auto repo = Init();
  const Bytes data = Content(5000, 1);
  auto first = repo->SaveBlob(BlobType::kData, data, CompressionLevel::kDefault);
  ASSERT_OK(first);
  EXPECT_TRUE(first->added);
  EXPECT_EQ(first->id, repo->ComputeBlobId(data));
  EXPECT_GT(first->stored_length, 0u);
  auto second = repo->SaveBlob(BlobType::kData, data, CompressionLevel::kDefault);
  ASSERT_OK(second);
  EXPECT_FALSE(second->added);
  EXPECT_EQ(second->id, first->id);
  EXPECT_EQ(second->stored_length, 0u);
  ASSERT_OK(repo->Flush());
  auto third = repo->SaveBlob(BlobType::kData, data, CompressionLevel::kOff);
  ASSERT_OK(third);
  EXPECT_FALSE(third->added);
  EXPECT_EQ(repo->write_stats().blobs_added.load(), 1u);
  EXPECT_EQ(CountObjects(kDataPrefix), 1u);
  EXPECT_EQ(CountObjects(kIndexPrefix), 1u);
}

TEST_F(RepositoryTest, BlobsSurviveFlushReopenAndLoadIndex) {
  std::vector<std::pair<BlobType, Bytes>> saved;
  {
    auto repo = Init();
    for (uint64_t i = 0; i < 200; ++i) {
      BlobType type = i % 5 == 0 ? BlobType::kTree : BlobType::kData;
      Bytes data = Content(1000 + i * 97, i, /*compressible=*/i % 2 == 0);
      auto r = repo->SaveBlob(type, data, CompressionLevel::kDefault);
      ASSERT_OK(r);
      ASSERT_TRUE(r->added);
      saved.emplace_back(type, std::move(data));
    }
    // Incompressible blobs big enough to fill several 1 MiB packs.
    for (uint64_t i = 0; i < 12; ++i) {
      Bytes data = Content(300 * 1024, 1000 + i);
      ASSERT_OK(repo->SaveBlob(BlobType::kData, data, CompressionLevel::kDefault));
      saved.emplace_back(BlobType::kData, std::move(data));
    }
    saved.emplace_back(BlobType::kData, Bytes());
    ASSERT_OK(repo->SaveBlob(BlobType::kData, Bytes(), CompressionLevel::kDefault));
    ASSERT_OK(repo->Flush());
    EXPECT_GE(repo->write_stats().packs_written.load(), 4u);
  }
  EXPECT_GE(CountObjects(kDataPrefix), 4u);
  auto repo = Reopen();
  ASSERT_NE(repo, nullptr);
  EXPECT_EQ(repo->IndexedBlobCount(), saved.size());
  EXPECT_EQ(repo->damaged_index_files(), 0u);
  for (const auto& [type, data] : saved) {
    const BlobId id = repo->ComputeBlobId(data);
    auto loaded = repo->LoadBlob(type, id);
    ASSERT_OK(loaded);
    EXPECT_EQ(*loaded, data);
    auto loc = repo->FindBlob(id);
    ASSERT_TRUE(loc.has_value());
    EXPECT_EQ(loc->blob.type, type);
    EXPECT_EQ(loc->blob.raw_length, data.size());
  }
  // Asking for a blob as the other type is refused.
  const auto& [type, data] = saved[0];
  EXPECT_EQ(CodeOf(repo->LoadBlob(BlobType::kData, repo->ComputeBlobId(data))),
            StatusCode::kDataLoss);
  EXPECT_EQ(CodeOf(repo->LoadBlob(BlobType::kData, TestId("never saved"))), StatusCode::kNotFound);
}

TEST_F(RepositoryTest, SaveBlobRefusesBlobsAboveTheLimit) {
  auto repo = Init();
  Bytes big(kMaxBlobRawLength + 1);
  EXPECT_EQ(CodeOf(repo->SaveBlob(BlobType::kData, big, CompressionLevel::kOff)),
            StatusCode::kInvalidArgument);
}

TEST_F(RepositoryTest, LoadIndexKeepsPacksNotYetIndexed) {
  auto repo = Init();
  // Enough to write full packs, which are stored but not yet in an index object.
  std::vector<Bytes> saved;
  for (uint64_t i = 0; i < 8; ++i) {
    saved.push_back(Content(300 * 1024, i));
    ASSERT_OK(repo->SaveBlob(BlobType::kData, saved.back(), CompressionLevel::kOff));
  }
  ASSERT_GE(repo->write_stats().packs_written.load(), 1u);
  ASSERT_EQ(CountObjects(kIndexPrefix), 0u);
  const size_t indexed = repo->IndexedBlobCount();
  ASSERT_GT(indexed, 0u);
  ASSERT_OK(repo->LoadIndex());
  EXPECT_EQ(repo->IndexedBlobCount(), indexed);
  auto again = repo->SaveBlob(BlobType::kData, saved[0], CompressionLevel::kOff);
  ASSERT_OK(again);
  EXPECT_FALSE(again->added);
  ASSERT_OK(repo->Flush());
  for (const Bytes& data : saved) {
    auto loaded = repo->LoadBlob(BlobType::kData, repo->ComputeBlobId(data));
    ASSERT_OK(loaded);
    EXPECT_EQ(*loaded, data);
  }
  EXPECT_EQ(BlobsInPacks(*repo).size(), saved.size());
}

TEST_F(RepositoryTest, DecodesManyBlobsOfAPackWithItsCipher) {
  auto repo = Init();
  std::vector<Bytes> saved;
  for (uint64_t i = 0; i < 12; ++i) {
    saved.push_back(Content(3000 + 1000 * i, i));
    ASSERT_OK(repo->SaveBlob(BlobType::kData, saved.back(), CompressionLevel::kDefault));
  }
  // A pack of its own, so that its cipher is another pack's.
  const Bytes elsewhere = Content(300 * 1024 * 20, 99);
  ASSERT_OK(repo->Flush());
  ASSERT_OK(repo->SaveBlob(BlobType::kData, elsewhere, CompressionLevel::kOff));
  ASSERT_OK(repo->Flush());
  const auto first = repo->FindBlob(repo->ComputeBlobId(saved[0]));
  const auto other = repo->FindBlob(repo->ComputeBlobId(elsewhere));
  ASSERT_TRUE(first.has_value() && other.has_value());
  ASSERT_NE(first->pack.id, other->pack.id);
  auto pack = repo->backend().Get(PackObjectName(first->pack.id));
  ASSERT_OK(pack);
  auto cipher = repo->PackCipher(first->pack);
  ASSERT_OK(cipher);
  auto wrong = repo->PackCipher(other->pack);
  ASSERT_OK(wrong);
  PageBytes payload, plain;
  for (const Bytes& data : saved) {
    const auto loc = repo->FindBlob(repo->ComputeBlobId(data));
    ASSERT_TRUE(loc.has_value());
    ASSERT_EQ(loc->pack.id, first->pack.id);
    const ByteView stored = ByteView(*pack).subspan(loc->blob.offset, loc->blob.stored_length);
    auto decoded = repo->DecodeBlob(loc->pack, loc->blob, stored, payload, plain, cipher->get());
    ASSERT_OK(decoded);
    EXPECT_EQ(ToBytes(*decoded), data);
    // Another pack's cipher opens nothing.
    EXPECT_EQ(CodeOf(repo->DecodeBlob(loc->pack, loc->blob, stored, payload, plain, wrong->get())),
              StatusCode::kDataLoss);
  }
}

TEST_F(RepositoryTest, DecodesABlobStraightIntoTheCallersMemory) {
  auto repo = Init();
  const Bytes compressible = Content(50000, 1, /*compressible=*/true);
  const Bytes random = Content(70000, 2);
  ASSERT_OK(repo->SaveBlob(BlobType::kData, compressible, CompressionLevel::kDefault));
  ASSERT_OK(repo->SaveBlob(BlobType::kData, random, CompressionLevel::kDefault));
  ASSERT_OK(repo->Flush());
  bool saw_compressed = false, saw_stored = false;
  for (const Bytes& data : {compressible, random}) {
    const auto loc = repo->FindBlob(repo->ComputeBlobId(data));
    ASSERT_TRUE(loc.has_value());
    (loc->blob.compressed ? saw_compressed : saw_stored) = true;
    auto read = repo->backend().Get(PackObjectName(loc->pack.id), loc->blob.offset,
                                    loc->blob.stored_length);
    ASSERT_OK(read);
    Bytes stored = *std::move(read);
    PageBytes scratch;
    Bytes out(data.size());
    auto decoded = repo->DecodeBlobInto(loc->pack, loc->blob, stored, out, scratch);
    ASSERT_OK(decoded);
    EXPECT_EQ(decoded->data(), out.data());
    EXPECT_EQ(out, data);
    // Memory of another size is refused before anything is written.
    Bytes short_out(data.size() - 1);
    EXPECT_EQ(CodeOf(repo->DecodeBlobInto(loc->pack, loc->blob, stored, short_out, scratch)),
              StatusCode::kInvalidArgument);
    // A damaged byte fails authentication.
    stored[stored.size() / 2] ^= std::byte{1};
    EXPECT_EQ(CodeOf(repo->DecodeBlobInto(loc->pack, loc->blob, stored, out, scratch)),
              StatusCode::kDataLoss);
  }
  EXPECT_TRUE(saw_compressed && saw_stored);
}

TEST_F(RepositoryTest, DamagedPackIsDataLossNamingBlobAndPack) {
  {
    auto repo = Init();
    ASSERT_OK(repo->SaveBlob(BlobType::kData, Content(4000, 1), CompressionLevel::kDefault));
    ASSERT_OK(repo->SaveBlob(BlobType::kData, Content(4000, 2), CompressionLevel::kDefault));
    ASSERT_OK(repo->Flush());
  }
  auto repo = Reopen();
  ASSERT_NE(repo, nullptr);
  const BlobId id = repo->ComputeBlobId(Content(4000, 2));
  auto loc = repo->FindBlob(id);
  ASSERT_TRUE(loc.has_value());
  auto store = Store();
  const std::string pack_name = PackObjectName(loc->pack.id);
  auto pack = store->Get(pack_name);
  ASSERT_OK(pack);
  const Bytes original = *pack;
  for (uint32_t at : {loc->blob.offset, loc->blob.offset + loc->blob.stored_length / 2,
                      loc->blob.offset + loc->blob.stored_length - 1}) {
    Bytes damaged = original;
    damaged[at] ^= std::byte{0x20};
    ASSERT_OK(store->Put(pack_name, damaged));
    auto loaded = repo->LoadBlob(BlobType::kData, id);
    EXPECT_EQ(CodeOf(loaded), StatusCode::kDataLoss) << at;
    EXPECT_THAT(std::string(loaded.status().message()), HasSubstr(id.ShortHex()));
    EXPECT_THAT(std::string(loaded.status().message()), HasSubstr(loc->pack.id.ShortHex()));
  }
  ASSERT_OK(store->Put(pack_name, original));
  EXPECT_OK(repo->LoadBlob(BlobType::kData, id));
  ASSERT_OK(store->Delete(pack_name));
  EXPECT_EQ(CodeOf(repo->LoadBlob(BlobType::kData, id)), StatusCode::kDataLoss);
}

TEST_F(RepositoryTest, CorruptReadsAreDataLoss) {
  FaultyBackend* faulty = nullptr;
  auto repo = InitFaulty(&faulty);
  const Bytes data = Content(10000, 3, /*compressible=*/true);
  auto saved = repo->SaveBlob(BlobType::kTree, data, CompressionLevel::kDefault);
  ASSERT_OK(saved);
  ASSERT_OK(repo->Flush());
  ASSERT_OK(repo->LoadBlob(BlobType::kTree, saved->id));
  faulty->CorruptReads(std::string(kDataPrefix));
  auto loaded = repo->LoadBlob(BlobType::kTree, saved->id);
  EXPECT_EQ(CodeOf(loaded), StatusCode::kDataLoss);
  EXPECT_THAT(std::string(loaded.status().message()), HasSubstr(saved->id.ShortHex()));
  faulty->ClearFaults();
  EXPECT_OK(repo->LoadBlob(BlobType::kTree, saved->id));
}

// Blobs swapped between two packs at the same offset decrypt under neither.
TEST_F(RepositoryTest, PackSwappedUnderAnotherNameIsDataLoss) {
  auto repo = Init();
  auto a = repo->SaveBlob(BlobType::kData, Content(100, 1), CompressionLevel::kOff);
  ASSERT_OK(a);
  ASSERT_OK(repo->Flush());
  auto b = repo->SaveBlob(BlobType::kData, Content(100, 2), CompressionLevel::kOff);
  ASSERT_OK(b);
  ASSERT_OK(repo->Flush());
  auto loc_a = repo->FindBlob(a->id);
  auto loc_b = repo->FindBlob(b->id);
  ASSERT_TRUE(loc_a && loc_b);
  ASSERT_NE(loc_a->pack.id, loc_b->pack.id);
  auto store = Store();
  auto pack_b = store->Get(PackObjectName(loc_b->pack.id));
  ASSERT_OK(pack_b);
  ASSERT_OK(store->Put(PackObjectName(loc_a->pack.id), *pack_b));
  EXPECT_EQ(CodeOf(repo->LoadBlob(BlobType::kData, a->id)), StatusCode::kDataLoss);
}

TEST_F(RepositoryTest, ConcurrentSavesStoreEachBlobOnce) {
  auto repo = Init();
  constexpr int kThreads = 4;
  constexpr uint64_t kBlobs = 1500;
  std::atomic<uint64_t> added{0};
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      // Every thread saves all blobs, starting at a different place.
      for (uint64_t k = 0; k < kBlobs; ++k) {
        const uint64_t i = (k + t * kBlobs / kThreads) % kBlobs;
        Bytes data = Content(2048 + i % 64, i, /*compressible=*/i % 3 == 0);
        auto r = repo->SaveBlob(i % 4 == 0 ? BlobType::kTree : BlobType::kData, data,
                                CompressionLevel::kFastest);
        if (!r.ok()) {
          failures++;
        } else if (r->added) {
          added++;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(added.load(), kBlobs);
  ASSERT_OK(repo->Flush());
  std::map<BlobId, int> in_packs = BlobsInPacks(*repo);
  EXPECT_EQ(in_packs.size(), kBlobs);
  for (const auto& [id, count] : in_packs) EXPECT_EQ(count, 1) << id.Hex();
  EXPECT_GE(CountObjects(kDataPrefix), 3u);

  auto reopened = Reopen();
  ASSERT_NE(reopened, nullptr);
  EXPECT_EQ(reopened->IndexedBlobCount(), kBlobs);
  for (uint64_t i = 0; i < kBlobs; i += 97) {
    Bytes data = Content(2048 + i % 64, i, i % 3 == 0);
    auto loaded = reopened->LoadBlob(i % 4 == 0 ? BlobType::kTree : BlobType::kData,
                                     reopened->ComputeBlobId(data));
    ASSERT_OK(loaded);
    EXPECT_EQ(*loaded, data);
  }
}

// --- Index damage and write failures ---

TEST_F(RepositoryTest, DamagedIndexIsSkippedAndItsPacksRecovered) {
  std::vector<Bytes> saved;
  {
    auto repo = Init();
    for (uint64_t i = 0; i < 10; ++i) {
      saved.push_back(Content(3000, i));
      ASSERT_OK(repo->SaveBlob(BlobType::kData, saved.back(), CompressionLevel::kDefault));
    }
    ASSERT_OK(repo->Flush());
    for (uint64_t i = 10; i < 20; ++i) {
      saved.push_back(Content(3000, i));
      ASSERT_OK(repo->SaveBlob(BlobType::kData, saved.back(), CompressionLevel::kDefault));
    }
    ASSERT_OK(repo->Flush());
  }
  ASSERT_EQ(CountObjects(kIndexPrefix), 2u);
  std::vector<std::string> index_names;
  auto store = Store();
  ASSERT_OK(store->List(kIndexPrefix, [&](const ObjectInfo& info) {
    index_names.push_back(info.name);
    return Status::Ok();
  }));
  auto index = store->Get(index_names[0]);
  ASSERT_OK(index);
  (*index)[index->size() / 2] ^= std::byte{1};
  ASSERT_OK(store->Put(index_names[0], *index));

  auto repo = Reopen();
  ASSERT_NE(repo, nullptr);
  EXPECT_EQ(repo->damaged_index_files(), 1u);
  EXPECT_EQ(repo->IndexedBlobCount(), saved.size());
  for (const Bytes& data : saved) {
    auto loaded = repo->LoadBlob(BlobType::kData, repo->ComputeBlobId(data));
    ASSERT_OK(loaded);
    EXPECT_EQ(*loaded, data);
  }
}

TEST_F(RepositoryTest, IndexThatDoesNotDecryptIsSkipped) {
  std::vector<Bytes> saved;
  {
    auto repo = Init();
    for (uint64_t i = 0; i < 5; ++i) {
      saved.push_back(Content(3000, i));
      ASSERT_OK(repo->SaveBlob(BlobType::kData, saved.back(), CompressionLevel::kDefault));
    }
    ASSERT_OK(repo->Flush());
  }
  // An object under its own hash, so only decryption can tell.
  const Bytes junk = Content(500, 99);
  auto store = Store();
  ASSERT_OK(store->Put(IndexObjectName(IndexId(ByteView(Sha256(junk)))), junk));
  auto repo = Reopen();
  ASSERT_NE(repo, nullptr);
  EXPECT_EQ(repo->damaged_index_files(), 1u);
  EXPECT_EQ(repo->IndexedBlobCount(), saved.size());
  for (const Bytes& data : saved)
    EXPECT_OK(repo->LoadBlob(BlobType::kData, repo->ComputeBlobId(data)));
}

TEST_F(RepositoryTest, LoadIndexFailsOnTransientErrors) {
  FaultyBackend* faulty = nullptr;
  auto repo = InitFaulty(&faulty);
  ASSERT_OK(repo->SaveBlob(BlobType::kData, Content(100, 1), CompressionLevel::kDefault));
  ASSERT_OK(repo->Flush());
  faulty->FailNamesMatching(M::kGet, std::string(kIndexPrefix), UnavailableError("flaky"));
  EXPECT_EQ(repo->LoadIndex().code(), StatusCode::kUnavailable);
  faulty->ClearFaults();
  EXPECT_OK(repo->LoadIndex());
  EXPECT_EQ(repo->damaged_index_files(), 0u);
}

TEST_F(RepositoryTest, FlushRetriesAPackWhosePutFailed) {
  FaultyBackend* faulty = nullptr;
  auto repo = InitFaulty(&faulty);
  std::vector<Bytes> saved;
  for (uint64_t i = 0; i < 5; ++i) {
    saved.push_back(Content(3000, i));
    ASSERT_OK(repo->SaveBlob(BlobType::kData, saved.back(), CompressionLevel::kDefault));
  }
  faulty->FailNth(M::kPut, 1, UnavailableError("connection reset"));
  Status failed = repo->Flush();
  EXPECT_EQ(failed.code(), StatusCode::kUnavailable);
  EXPECT_THAT(std::string(failed.message()), HasSubstr("pack"));
  EXPECT_EQ(CountObjects(kDataPrefix), 0u);
  // The blobs are still pending: saving them again adds nothing.
  auto again = repo->SaveBlob(BlobType::kData, saved[0], CompressionLevel::kDefault);
  ASSERT_OK(again);
  EXPECT_FALSE(again->added);

  ASSERT_OK(repo->Flush());
  EXPECT_EQ(CountObjects(kDataPrefix), 1u);
  EXPECT_EQ(CountObjects(kIndexPrefix), 1u);
  ExpectBlobsReadBack(saved);
}

TEST_F(RepositoryTest, FlushRetriesAnIndexWhosePutFailed) {
  FaultyBackend* faulty = nullptr;
  auto repo = InitFaulty(&faulty);
  const Bytes data = Content(3000, 1);
  ASSERT_OK(repo->SaveBlob(BlobType::kTree, data, CompressionLevel::kDefault));
  faulty->FailNth(M::kPut, 2, UnavailableError("connection reset"));  // pack, then index
  EXPECT_EQ(repo->Flush().code(), StatusCode::kUnavailable);
  EXPECT_EQ(CountObjects(kDataPrefix), 1u);
  EXPECT_EQ(CountObjects(kIndexPrefix), 0u);
  ASSERT_OK(repo->Flush());
  EXPECT_EQ(CountObjects(kDataPrefix), 1u);
  EXPECT_EQ(CountObjects(kIndexPrefix), 1u);
  auto reopened = Reopen();
  ASSERT_NE(reopened, nullptr);
  EXPECT_EQ(reopened->damaged_index_files(), 0u);
  auto loaded = reopened->LoadBlob(BlobType::kTree, reopened->ComputeBlobId(data));
  ASSERT_OK(loaded);
  EXPECT_EQ(*loaded, data);
}

// A pack that fills up inside SaveBlob and fails to store is not lost.
// A backend whose pack writes wait at a gate until it opens.
class GatedBackend final : public Backend {
 public:
  explicit GatedBackend(std::unique_ptr<Backend> inner) : inner_(std::move(inner)) {}
  void Close() { Set(false); }
  void Open() { Set(true); }
  std::string Location() const override { return inner_->Location(); }
  Status Create(bool exclusive) override { return inner_->Create(exclusive); }
  Status Put(std::string_view name, ByteView data) override {
    if (name.starts_with(kDataPrefix)) Wait();
    return inner_->Put(name, data);
  }
  StatusOr<Bytes> Get(std::string_view name, uint64_t offset, uint64_t length) override {
    return inner_->Get(name, offset, length);
  }
  StatusOr<ObjectInfo> Stat(std::string_view name) override { return inner_->Stat(name); }
  Status List(std::string_view prefix,
              const std::function<Status(const ObjectInfo&)>& fn) override {
    return inner_->List(prefix, fn);
  }
  Status Delete(std::string_view name) override { return inner_->Delete(name); }
  // A staged pack's commit waits at the gate too.
  StatusOr<std::unique_ptr<StagedObject>> Stage() override {
    PXB_ASSIGN_OR_RETURN(std::unique_ptr<StagedObject> inner, inner_->Stage());
    if (inner == nullptr) return inner;
    return std::unique_ptr<StagedObject>(std::make_unique<GatedStaged>(*this, std::move(inner)));
  }

 private:
  class GatedStaged final : public StagedObject {
   public:
    GatedStaged(GatedBackend& gate, std::unique_ptr<StagedObject> inner)
        : gate_(gate), inner_(std::move(inner)) {}
    Status WriteAt(uint64_t offset, ByteView bytes) override {
      return inner_->WriteAt(offset, bytes);
    }
    Status Commit(std::string_view name) override {
      gate_.Wait();
      return inner_->Commit(name);
    }

   private:
    GatedBackend& gate_;
    std::unique_ptr<StagedObject> inner_;
  };
  void Wait() {
    std::unique_lock lock(mu_);
    opened_.wait(lock, [&] { return open_; });
  }
  void Set(bool open) {
    std::lock_guard lock(mu_);
    open_ = open;
    opened_.notify_all();
  }
  std::unique_ptr<Backend> inner_;
  std::mutex mu_;
  std::condition_variable opened_;
  bool open_ = true;
};

// One pack is written while the next fills; once that one is full too, the
// blob that would open a third waits for the write instead, so that no more
// than two packs' worth of memory is held.
// A repository over `gate`, closed.
std::unique_ptr<Repository> InitClosedGate(std::unique_ptr<GatedBackend> gated,
                                           GatedBackend*& gate) {
  gate = gated.get();
  gate->Close();
  auto opened = Repository::Init(std::move(gated), kPassphrase, FastOptions());
  EXPECT_OK(opened);
  return opened.ok() ? std::move(*opened) : nullptr;
}

// Blobs of 300 KiB: in packs of 1 MiB (FastOptions) every fourth fills one.
std::vector<Bytes> PackFillingBlobs(size_t count, uint64_t seed) {
  std::vector<Bytes> blobs;
  for (uint64_t i = 0; i < count; ++i) blobs.push_back(Content(300 * 1024, seed + i));
  return blobs;
}

Status SaveUncompressed(Repository& repo, std::span<const Bytes> blobs) {
  for (const Bytes& blob : blobs) {
    PXB_RETURN_IF_ERROR(repo.SaveBlob(BlobType::kData, blob, CompressionLevel::kOff).status());
  }
  return Status::Ok();
}

TEST_F(RepositoryTest, NoThirdPackOpensWhileOneIsWrittenAndTheNextIsFull) {
  GatedBackend* gate = nullptr;
  auto opened = InitClosedGate(std::make_unique<GatedBackend>(Store()), gate);
  ASSERT_NE(opened, nullptr);
  Repository& repo = *opened;
  const std::vector<Bytes> blobs = PackFillingBlobs(9, 100);
  auto save = [&](size_t begin, size_t end) {
    return SaveUncompressed(repo, std::span(blobs).subspan(begin, end - begin));
  };
  // The first pack waits at the gate; the second fills, and the thread that
  // filled it waits for room to queue it.
  auto first_two = std::async(std::launch::async, save, 0, 8);
  ASSERT_EQ(first_two.wait_for(std::chrono::seconds(1)), std::future_status::timeout);
  auto third = std::async(std::launch::async, save, 8, 9);
  EXPECT_EQ(third.wait_for(std::chrono::milliseconds(500)), std::future_status::timeout)
      << "a third pack was opened while two were full";
  gate->Open();
  EXPECT_OK(first_two.get());
  EXPECT_OK(third.get());
  ASSERT_OK(repo.Flush());
  ExpectBlobsReadBack(blobs);
}

// A staged pack holds its ring only until it is finished: the packs after
// it fill while finished ones wait to be committed, up to
// kStagedPacksCommitting of them; the pack after those waits.
TEST_F(RepositoryTest, StagedPacksWaitingForTheirCommitHoldSavesBackOnlyPastTheLimit) {
  TempFolder folder;
  GatedBackend* gate = nullptr;
  auto opened = InitClosedGate(
      std::make_unique<GatedBackend>(std::make_unique<LocalBackend>(folder.path())), gate);
  ASSERT_NE(opened, nullptr);
  Repository& repo = *opened;
  constexpr size_t kFull = Repository::kStagedPacksCommitting;
  const std::vector<Bytes> blobs = PackFillingBlobs(4 * kFull + 1, 200);
  const std::span<const Bytes> filling = std::span(blobs).first(4 * kFull);
  auto saves = std::async(std::launch::async, [&] { return SaveUncompressed(repo, filling); });
  const bool saved_while_closed =
      saves.wait_for(std::chrono::seconds(30)) == std::future_status::ready;
  auto one_more = std::async(std::launch::async,
                             [&] { return SaveUncompressed(repo, std::span(blobs).last(1)); });
  const bool next_waited =
      one_more.wait_for(std::chrono::milliseconds(500)) == std::future_status::timeout;
  gate->Open();
  EXPECT_TRUE(saved_while_closed) << "saves waited for the commits of staged packs";
  EXPECT_TRUE(next_waited) << "a pack opened past kStagedPacksCommitting waiting commits";
  EXPECT_OK(saves.get());
  EXPECT_OK(one_more.get());
  ASSERT_OK(repo.Flush());
  EXPECT_EQ(repo.write_stats().packs_written, kFull + 1);
  auto reopened = Repository::Open(std::make_unique<LocalBackend>(folder.path()), kPassphrase);
  ASSERT_OK(reopened);
  ASSERT_OK((*reopened)->LoadIndex());
  for (const Bytes& blob : blobs) {
    auto loaded = (*reopened)->LoadBlob(BlobType::kData, (*reopened)->ComputeBlobId(blob));
    ASSERT_OK(loaded);
    EXPECT_EQ(*loaded, blob);
  }
}

// The finisher of a full staged pack cannot write its last bytes:
// the blobs already accepted are lost, so Flush and every later save fail
// (no snapshot may name them), and nothing waits forever.
TEST_F(RepositoryTest, AStagedPackThatCannotBeFinishedFailsFlushAndLaterSaves) {
  TempFolder folder;
  auto backend = std::make_unique<FaultyBackend>(std::make_unique<LocalBackend>(folder.path()));
  FaultyBackend* faulty = backend.get();
  auto opened = Repository::Init(std::move(backend), kPassphrase, FastOptions());
  ASSERT_OK(opened);
  Repository& repo = **opened;
  // The ring's first segment (1 MiB) is the first write; finishing the
  // pack writes the rest.
  faulty->FailNth(M::kStagedWrite, 2, UnavailableError("disk gone"));
  // The save that filled the pack may already see the failure.
  const Status saved = SaveUncompressed(repo, PackFillingBlobs(4, 300));
  EXPECT_TRUE(saved.ok() || saved.code() == StatusCode::kUnavailable) << saved.message();
  const Status flushed = repo.Flush();
  EXPECT_EQ(flushed.code(), StatusCode::kUnavailable);
  EXPECT_THAT(std::string(flushed.message()), HasSubstr("disk gone"));
  EXPECT_EQ(faulty->Calls(M::kStagedWrite), 2);
  auto later = repo.SaveBlob(BlobType::kData, Content(1000, 400), CompressionLevel::kOff);
  EXPECT_EQ(CodeOf(later), StatusCode::kUnavailable);
  EXPECT_EQ(repo.Flush().code(), StatusCode::kUnavailable);
  size_t packs = 0;
  LocalBackend store(folder.path());
  ASSERT_OK(store.List(kDataPrefix, [&](const ObjectInfo&) {
    ++packs;
    return Status::Ok();
  }));
  EXPECT_EQ(packs, 0u);
}

TEST_F(RepositoryTest, FullPackWhosePutFailedIsStoredByFlush) {
  FaultyBackend* faulty = nullptr;
  auto repo = InitFaulty(&faulty);
  faulty->FailNth(M::kPut, 1, UnavailableError("connection reset"));
  std::vector<Bytes> saved;
  // The pack is written in the background: its error reaches a later
  // SaveBlob, at the latest once the in-flight limit makes SaveBlob wait.
  bool saw_error = false;
  for (uint64_t i = 0; i < 200 && !saw_error; ++i) {
    saved.push_back(Content(300 * 1024, i));
    auto r = repo->SaveBlob(BlobType::kData, saved.back(), CompressionLevel::kOff);
    if (!r.ok()) {
      EXPECT_EQ(CodeOf(r), StatusCode::kUnavailable);
      saw_error = true;
    }
  }
  ASSERT_TRUE(saw_error);
  ASSERT_OK(repo->Flush());
  ExpectBlobsReadBack(saved);
}

// --- Snapshots ---

Snapshot MakeSnapshot(int64_t time_ns, const BlobId& tree) {
  Snapshot s;
  s.time_ns = time_ns;
  s.host = "host";
  s.paths = {"/data"};
  s.type = BackupType::kFull;
  s.tree = tree;
  s.source = SourceHash(s.host, s.paths);
  s.program = "test";
  return s;
}

TEST_F(RepositoryTest, SnapshotsSaveListLoadAndDelete) {
  auto repo = Init();
  auto latest_empty = repo->ResolveSnapshot("latest");
  EXPECT_EQ(CodeOf(latest_empty), StatusCode::kNotFound);
  std::vector<SnapshotId> ids;
  // Saved out of time order: listing sorts by time.
  for (int64_t t : {2000, 1000, 3000}) {
    auto id = repo->SaveSnapshot(MakeSnapshot(t, TestId(std::to_string(t))));
    ASSERT_OK(id);
    ids.push_back(*id);
  }
  auto list = repo->ListSnapshots();
  ASSERT_OK(list);
  ASSERT_EQ(list->size(), 3u);
  EXPECT_EQ((*list)[0].id, ids[1]);
  EXPECT_EQ((*list)[1].id, ids[0]);
  EXPECT_EQ((*list)[2].id, ids[2]);
  EXPECT_EQ((*list)[0].snapshot, MakeSnapshot(1000, TestId("1000")));

  auto loaded = repo->LoadSnapshot(ids[0]);
  ASSERT_OK(loaded);
  EXPECT_EQ(*loaded, MakeSnapshot(2000, TestId("2000")));

  ASSERT_OK(repo->DeleteSnapshot(ids[2]));
  EXPECT_EQ(CodeOf(repo->LoadSnapshot(ids[2])), StatusCode::kNotFound);
  auto latest = repo->ResolveSnapshot("latest");
  ASSERT_OK(latest);
  EXPECT_EQ(*latest, ids[0]);
}

TEST_F(RepositoryTest, ResolveSnapshotByIdAndPrefix) {
  auto repo = Init();
  auto a = repo->SaveSnapshot(MakeSnapshot(1, TestId("a")));
  auto b = repo->SaveSnapshot(MakeSnapshot(2, TestId("b")));
  ASSERT_OK(a);
  ASSERT_OK(b);
  auto latest = repo->ResolveSnapshot("latest");
  ASSERT_OK(latest);
  EXPECT_EQ(*latest, *b);
  for (size_t digits : {64, 12, 8}) {
    auto resolved = repo->ResolveSnapshot(a->Hex().substr(0, digits));
    ASSERT_OK(resolved) << digits;
    EXPECT_EQ(*resolved, *a);
  }
  // A prefix that no id has.
  std::string missing = a->Hex().substr(0, 8);
  for (char c : std::string_view("0123456789abcdef")) {
    missing[0] = c;
    if (!a->Hex().starts_with(missing) && !b->Hex().starts_with(missing)) break;
  }
  EXPECT_EQ(CodeOf(repo->ResolveSnapshot(missing)), StatusCode::kNotFound);
  for (std::string_view bad :
       {"abc", "", "ABCDEF12", "latest1", "xyz0", "0123-567",
        "00000000000000000000000000000000000000000000000000000000000000000"}) {
    EXPECT_EQ(CodeOf(repo->ResolveSnapshot(bad)), StatusCode::kInvalidArgument) << bad;
  }
  // Another object whose name shares a's first 63 digits makes the prefix ambiguous.
  std::string twin = a->Hex();
  twin.back() = twin.back() == '0' ? '1' : '0';
  ASSERT_OK(Store()->Put(std::string(kSnapshotsPrefix) + twin, AsBytes("x")));
  auto ambiguous = repo->ResolveSnapshot(a->Hex().substr(0, 8));
  EXPECT_EQ(CodeOf(ambiguous), StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(ambiguous.status().message()), HasSubstr("2 snapshots"));
  auto full = repo->ResolveSnapshot(a->Hex());
  ASSERT_OK(full);
  EXPECT_EQ(*full, *a);
}

TEST_F(RepositoryTest, SnapshotUnderAnotherNameIsDataLoss) {
  auto repo = Init();
  auto a = repo->SaveSnapshot(MakeSnapshot(1, TestId("a")));
  ASSERT_OK(a);
  auto store = Store();
  auto bytes = store->Get(SnapshotObjectName(*a));
  ASSERT_OK(bytes);
  const SnapshotId other = TestId<SnapshotId>("other");
  ASSERT_OK(store->Put(SnapshotObjectName(other), *bytes));
  EXPECT_EQ(CodeOf(repo->LoadSnapshot(other)), StatusCode::kDataLoss);
  // The damaged object is left out of the listing, which still shows the good one.
  auto listed = repo->ListSnapshots();
  ASSERT_OK(listed);
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].id, *a);
  EXPECT_EQ(repo->damaged_snapshots(), 1u);
}

// --- Key slots ---

TEST_F(RepositoryTest, KeySlotsAddListAndRemove) {
  auto repo = Init();
  const KeySlotId first = repo->unlocked_slot();
  auto second = repo->AddPassphraseSlot("second secret", kFastKdf, "laptop");
  ASSERT_OK(second);
  EXPECT_EQ(CodeOf(repo->AddPassphraseSlot("", kFastKdf, "empty")), StatusCode::kInvalidArgument);
  auto slots = repo->ListKeySlots();
  ASSERT_OK(slots);
  ASSERT_EQ(slots->size(), 2u);
  std::vector<std::string> labels;
  for (const auto& s : *slots) labels.push_back(s.slot.label);
  EXPECT_THAT(labels, testing::UnorderedElementsAre("test", "laptop"));

  auto with_second = Repository::Open(Store(), "second secret");
  ASSERT_OK(with_second);
  EXPECT_EQ((*with_second)->unlocked_slot(), *second);
  EXPECT_EQ((*with_second)->config().id, repo->config().id);

  ASSERT_OK(repo->RemoveKeySlot(first));
  EXPECT_EQ(CodeOf(Repository::Open(Store(), kPassphrase)), StatusCode::kUnauthenticated);
  EXPECT_OK(Repository::Open(Store(), "second secret"));
  EXPECT_EQ(repo->RemoveKeySlot(first).code(), StatusCode::kNotFound);
  EXPECT_EQ(repo->RemoveKeySlot(*second).code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(CountObjects(kKeysPrefix), 1u);
}

// A slot this program cannot use (here parallelism 2, which Argon2id here
// refuses) must not stop another slot from opening the repository.
TEST_F(RepositoryTest, UnusableSlotDoesNotBlockTheOthers) {
  auto repo = Init();
  auto slots = repo->ListKeySlots();
  ASSERT_OK(slots);
  ASSERT_EQ(slots->size(), 1u);
  const std::string good_name = KeySlotObjectName((*slots)[0].id);
  KeySlot bad = (*slots)[0].slot;
  bad.kdf.parallelism = 2;
  // Store it under a name listed before the good slot.
  std::string bad_name;
  for (int i = 0; bad_name.empty() || bad_name > good_name; ++i) {
    bad.label = "unusable " + std::to_string(i);
    Bytes bytes = EncodeKeySlot(bad);
    bad_name = KeySlotObjectName(KeySlotId(ByteView(Sha256(bytes))));
    if (bad_name < good_name) {
      ASSERT_OK(Store()->Put(bad_name, bytes));
    }
  }
  auto opened = Repository::Open(Store(), kPassphrase);
  ASSERT_OK(opened);
  EXPECT_EQ((*opened)->unlocked_slot(), (*slots)[0].id);
  EXPECT_EQ(CodeOf(Repository::Open(Store(), "wrong")), StatusCode::kUnauthenticated);

  // With only the unusable slot left, its own error is reported.
  ASSERT_OK(Store()->Delete(good_name));
  auto only_bad = Repository::Open(Store(), kPassphrase);
  EXPECT_EQ(CodeOf(only_bad), StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(only_bad.status().message()), HasSubstr("key slot"));
}

TEST_F(RepositoryTest, DamagedAndForeignSlotsAreIgnoredByOpen) {
  auto repo = Init();
  auto slots = repo->ListKeySlots();
  ASSERT_OK(slots);
  const Bytes junk = ToBytes("{not json");
  ASSERT_OK(Store()->Put(KeySlotObjectName(KeySlotId(ByteView(Sha256(junk)))), junk));
  KeySlot foreign = (*slots)[0].slot;
  foreign.repository = TestId<RepositoryId>("another repository");
  Bytes foreign_bytes = EncodeKeySlot(foreign);
  ASSERT_OK(
      Store()->Put(KeySlotObjectName(KeySlotId(ByteView(Sha256(foreign_bytes)))), foreign_bytes));
  EXPECT_OK(Repository::Open(Store(), kPassphrase));
}

}  // namespace
}  // namespace pxb

namespace pxb {
namespace {

// --- Lifecycle (doc/design.md section 15) ---

TEST_F(RepositoryTest, ABlobOnlyInACondemnedPackIsReadableButNotReusable) {
  const Bytes data = Content(5000, 7);
  BlobId id;
  PackId first_pack;
  {
    auto repo = Init();
    auto saved = repo->SaveBlob(BlobType::kData, data, CompressionLevel::kDefault);
    ASSERT_OK(saved);
    id = saved->id;
    ASSERT_OK(repo->Flush());
    first_pack = repo->FindBlob(id)->pack.id;
    DeletionPlan plan;
    plan.created_ns = 1;
    plan.packs = {first_pack};
    plan.sessions_listed = true;
    ASSERT_OK(repo->SaveDeletionPlan(plan));
  }
  auto repo = Reopen();
  EXPECT_TRUE(repo->IsCondemned(first_pack));
  EXPECT_EQ(repo->deletion_plans().size(), 1u);
  EXPECT_TRUE(repo->HasBlob(id));
  EXPECT_FALSE(repo->HasReusableBlob(id));
  auto loaded = repo->LoadBlob(BlobType::kData, id);
  ASSERT_OK(loaded);
  EXPECT_EQ(*loaded, data);

  // A writer stores it again, and from then on finds the new copy.
  auto again = repo->SaveBlob(BlobType::kData, data, CompressionLevel::kDefault);
  ASSERT_OK(again);
  EXPECT_TRUE(again->added);
  ASSERT_OK(repo->Flush());
  EXPECT_TRUE(repo->HasReusableBlob(id));
  EXPECT_NE(repo->FindBlob(id)->pack.id, first_pack);
  auto third = repo->SaveBlob(BlobType::kData, data, CompressionLevel::kDefault);
  ASSERT_OK(third);
  EXPECT_FALSE(third->added);

  // After reopening, the copy outside the condemned pack is preferred.
  repo = Reopen();
  EXPECT_TRUE(repo->HasReusableBlob(id));
  EXPECT_NE(repo->FindBlob(id)->pack.id, first_pack);
}

TEST_F(RepositoryTest, CondemnedPacksAreNotAdoptedAgain) {
  PackId pack;
  {
    auto repo = Init();
    ASSERT_OK(repo->SaveBlob(BlobType::kData, Content(3000, 1), CompressionLevel::kDefault));
    ASSERT_OK(repo->Flush());
    pack = repo->IndexedPacks().front().id;
    DeletionPlan plan;
    plan.packs = {pack};
    ASSERT_OK(repo->SaveDeletionPlan(plan));
  }
  // The index that named the pack is gone, as after an interrupted sweep.
  auto store = Store();
  std::vector<std::string> indexes;
  ASSERT_OK(store->List(kIndexPrefix, [&](const ObjectInfo& info) {
    indexes.push_back(info.name);
    return Status::Ok();
  }));
  for (const std::string& name : indexes) ASSERT_OK(store->Delete(name));
  auto repo = Reopen();
  auto adopted = repo->AdoptUnindexedPacks();
  ASSERT_OK(adopted);
  EXPECT_EQ(*adopted, 0u);
  EXPECT_FALSE(repo->HasBlob(repo->ComputeBlobId(Content(3000, 1))));
}

TEST_F(RepositoryTest, CopyBlobMovesAVerifiedBlobIntoANewPack) {
  auto repo = Init();
  const Bytes compressible = Content(20000, 3, /*compressible=*/true);
  const Bytes random = Content(20000, 4);
  for (const Bytes* b : {&compressible, &random}) {
    ASSERT_OK(repo->SaveBlob(BlobType::kData, *b, CompressionLevel::kDefault));
  }
  ASSERT_OK(repo->Flush());
  const PackRecord old_pack = repo->IndexedPacks().front();
  auto bytes = repo->backend().Get(PackObjectName(old_pack.id));
  ASSERT_OK(bytes);
  auto blobs = repo->DecodePackBlobs(*bytes);
  ASSERT_OK(blobs);
  for (const PackBlob& b : *blobs) {
    auto copied = repo->CopyBlob(old_pack, b, ByteView(*bytes).subspan(b.offset, b.stored_length));
    ASSERT_OK(copied);
    EXPECT_TRUE(*copied);
    auto twice = repo->CopyBlob(old_pack, b, ByteView(*bytes).subspan(b.offset, b.stored_length));
    ASSERT_OK(twice);
    EXPECT_FALSE(*twice);  // already pending in this process
  }
  ASSERT_OK(repo->Flush());
  // What a sweep does: the old pack and the index naming it go.
  std::vector<std::string> old_indexes;
  ASSERT_OK(repo->backend().List(kIndexPrefix, [&](const ObjectInfo& info) -> Status {
    auto id = IdFromObjectName<IndexId>(info.name, kIndexPrefix);
    PXB_ASSIGN_OR_RETURN(IndexFile file, repo->ReadIndexFile(*id));
    for (const IndexedPack& p : file.packs) {
      if (p.id == old_pack.id) old_indexes.push_back(info.name);
    }
    return Status::Ok();
  }));
  ASSERT_EQ(old_indexes.size(), 1u);
  ASSERT_OK(repo->backend().Delete(old_indexes.front()));
  ASSERT_OK(repo->backend().Delete(PackObjectName(old_pack.id)));
  repo = Reopen();
  for (const Bytes* b : {&compressible, &random}) {
    auto loaded = repo->LoadBlob(BlobType::kData, repo->ComputeBlobId(*b));
    ASSERT_OK(loaded);
    EXPECT_EQ(*loaded, *b);
  }

  // A damaged blob is refused instead of copied.
  Bytes damaged = *bytes;
  const PackBlob& b = blobs->front();
  damaged[b.offset + 3] ^= std::byte{1};
  EXPECT_EQ(
      CodeOf(repo->CopyBlob(old_pack, b, ByteView(damaged).subspan(b.offset, b.stored_length))),
      StatusCode::kDataLoss);
}

TEST_F(RepositoryTest, SupersedingIndexReplacesTheIndexesItNames) {
  auto repo = Init();
  ASSERT_OK(repo->SaveBlob(BlobType::kData, Content(3000, 1), CompressionLevel::kDefault));
  ASSERT_OK(repo->Flush());
  ASSERT_OK(repo->SaveBlob(BlobType::kData, Content(3000, 2), CompressionLevel::kDefault));
  ASSERT_OK(repo->Flush());
  std::vector<IndexId> old;
  ASSERT_OK(repo->backend().List(kIndexPrefix, [&](const ObjectInfo& info) {
    old.push_back(*IdFromObjectName<IndexId>(info.name, kIndexPrefix));
    return Status::Ok();
  }));
  ASSERT_EQ(old.size(), 2u);
  // Keep only the first blob's pack.
  auto first = repo->ReadIndexFile(old[0]);
  ASSERT_OK(first);
  ASSERT_OK(repo->WriteSupersedingIndex(first->packs, old));
  repo = Reopen();
  EXPECT_EQ(repo->IndexedPacks().size(), 1u);
}

TEST_F(RepositoryTest, SessionsAreListedWhileRunningAndRemovedAtTheEnd) {
  {
    auto repo = Init();
    ASSERT_OK(repo->StartSession("backup", 60'000'000'000));
    EXPECT_EQ(CodeOf(repo->StartSession("backup")), StatusCode::kFailedPrecondition);
    auto sessions = repo->ListSessions();
    ASSERT_OK(sessions);
    ASSERT_EQ(sessions->size(), 1u);
    const SessionRecord& s = sessions->front().value;
    EXPECT_EQ(s.session, repo->session_id());
    EXPECT_EQ(s.command, "backup");
    EXPECT_EQ(s.pid, static_cast<uint64_t>(getpid()));
    EXPECT_EQ(s.expires_ns - s.renewed_ns, 60'000'000'000);
    EXPECT_OK(repo->CheckSession());
  }
  EXPECT_EQ(CountObjects(kSessionsPrefix), 0u);
}

TEST_F(RepositoryTest, SessionsAreRenewedAndALapsedOneRefusesToCommit) {
  FaultyBackend* faulty = nullptr;
  auto repo = InitFaulty(&faulty);
  ASSERT_OK(repo->StartSession("backup", 2'000'000'000));  // renewed every 500 ms
  std::this_thread::sleep_for(std::chrono::milliseconds(2600));
  EXPECT_OK(repo->CheckSession());  // renewed past the first lease
  // Each renewal deletes the object it replaces (two exist only briefly).
  EXPECT_LE(CountObjects(kSessionsPrefix), 2u);

  faulty->FailNamesMatching(M::kPut, std::string(kSessionsPrefix),
                            UnavailableError("session store down"));
  std::this_thread::sleep_for(std::chrono::milliseconds(2600));
  EXPECT_EQ(CodeOf(repo->CheckSession()), StatusCode::kFailedPrecondition);
  Snapshot snapshot;
  snapshot.host = "h";
  EXPECT_EQ(CodeOf(repo->SaveSnapshot(snapshot)), StatusCode::kFailedPrecondition);
  EXPECT_EQ(CountObjects(kSnapshotsPrefix), 0u);
  faulty->ClearFaults();
}

TEST_F(RepositoryTest, HoldsAndForgetRecordsRoundTrip) {
  auto repo = Init();
  Hold hold{TestId<SnapshotId>("s"), HoldKind::kLegalHold, 0, "case 12", 5, "h", "u"};
  auto hold_id = repo->SaveHold(hold);
  ASSERT_OK(hold_id);
  ForgetRecord record{9, {{TestId<SnapshotId>("gone"), TestId<ObjectHash>("src"), 3, {}}}};
  ASSERT_OK(repo->SaveForgetRecord(record));
  auto holds = repo->ListHolds();
  ASSERT_OK(holds);
  ASSERT_EQ(holds->size(), 1u);
  EXPECT_EQ(holds->front().value, hold);
  auto records = repo->ListForgetRecords();
  ASSERT_OK(records);
  ASSERT_EQ(records->size(), 1u);
  EXPECT_EQ(records->front().value, record);
  ASSERT_OK(repo->DeleteHold(*hold_id));
  EXPECT_EQ(CountObjects(kHoldsPrefix), 0u);

  // A damaged object is skipped and counted, not fatal.
  ASSERT_OK(repo->backend().Put(std::string(kHoldsPrefix) + std::string(64, 'a'), AsBytes("junk")));
  holds = repo->ListHolds();
  ASSERT_OK(holds);
  EXPECT_TRUE(holds->empty());
  EXPECT_EQ(repo->damaged_lifecycle_objects(), 1u);
}

// --- Dictionaries ---

// Pages of a table: records of the same shape, different in every page.
Bytes RecordPage(uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string page;
  while (page.size() < 8192) {
    page += "{\"conversation\":" + std::to_string(rng() % 1000) + ",\"sender\":\"user-" +
            std::to_string(rng() % 300) + "\",\"body\":\"see you at " + std::to_string(rng() % 24) +
            " o'clock\"}";
  }
  page.resize(8192);
  return ToBytes(page);
}

std::shared_ptr<const ZstdDictionary> TrainedDictionary(uint64_t seed) {
  Bytes samples;
  std::vector<size_t> sizes;
  for (uint64_t i = 0; i < 64; ++i) {
    Append(samples, RecordPage(seed * 1000 + i));
    sizes.push_back(8192);
  }
  auto trained = ZstdDictionary::Train(samples, sizes, 16 * 1024);
  EXPECT_OK(trained);
  return trained.ok() ? *trained : nullptr;
}

// The pack entries of every stored pack.
std::vector<std::vector<PackBlob>> PackEntries(Repository& repo) {
  std::vector<std::vector<PackBlob>> packs;
  EXPECT_OK(repo.backend().List(kDataPrefix, [&](const ObjectInfo& info) -> Status {
    PXB_ASSIGN_OR_RETURN(Bytes pack, repo.backend().Get(info.name));
    PXB_ASSIGN_OR_RETURN(auto entries, repo.DecodePackBlobs(pack));
    packs.push_back(std::move(entries));
    return Status::Ok();
  }));
  return packs;
}

TEST_F(RepositoryTest, BlobsCompressedWithADictionaryCarryItIntoTheirPack) {
  auto repo = Init();
  const BlobDictionary dictionary = repo->MakeBlobDictionary(TrainedDictionary(1));
  uint64_t with = 0, without = 0;
  for (uint64_t i = 0; i < 20; ++i) {
    auto saved = repo->SaveBlob(BlobType::kData, RecordPage(100 + i), CompressionLevel::kDefault,
                                &dictionary);
    ASSERT_OK(saved);
    with += saved->stored_length;
    auto plain = repo->SaveBlob(BlobType::kData, RecordPage(200 + i), CompressionLevel::kDefault);
    ASSERT_OK(plain);
    without += plain->stored_length;
  }
  EXPECT_LT(with, without);
  ASSERT_OK(repo->Flush());

  const auto packs = PackEntries(*repo);
  ASSERT_EQ(packs.size(), 1u);
  int dictionaries = 0, naming = 0;
  for (const PackBlob& entry : packs[0]) {
    if (entry.type == BlobType::kDictionary) {
      dictionaries++;
      EXPECT_EQ(entry.id, dictionary.id);
      // Stored as a zstd frame of itself: about half its size.
      EXPECT_TRUE(entry.compressed);
      EXPECT_EQ(entry.raw_length, dictionary.zstd->bytes().size());
      EXPECT_LT(entry.payload_length(), entry.raw_length * 3 / 4);
    }
    naming += entry.dictionary == 1 ? 1 : 0;
  }
  EXPECT_EQ(dictionaries, 1);
  EXPECT_EQ(naming, 20);

  repo = Reopen();
  EXPECT_EQ(repo->IndexedBlobCount(), 40u);  // the dictionary is not a blob
  EXPECT_FALSE(repo->FindBlob(dictionary.id).has_value());
  for (uint64_t i = 0; i < 20; ++i) {
    const Bytes page = RecordPage(100 + i);
    auto loaded = repo->LoadBlob(BlobType::kData, repo->ComputeBlobId(page));
    ASSERT_OK(loaded);
    EXPECT_EQ(*loaded, page);
  }
  auto location = repo->FindBlob(repo->ComputeBlobId(RecordPage(100)));
  ASSERT_TRUE(location.has_value());
  auto found = repo->DictionaryOf(*location);
  ASSERT_OK(found);
  ASSERT_NE(*found, nullptr);
  EXPECT_EQ((*found)->id, dictionary.id);
  auto none = repo->DictionaryOf(*repo->FindBlob(repo->ComputeBlobId(RecordPage(200))));
  ASSERT_OK(none);
  EXPECT_EQ(*none, nullptr);
}

TEST_F(RepositoryTest, AFourthDictionaryStartsANewPack) {
  auto repo = Init();
  std::vector<BlobDictionary> dictionaries;
  for (uint64_t d = 1; d <= 4; ++d) {
    dictionaries.push_back(repo->MakeBlobDictionary(TrainedDictionary(d)));
  }
  for (uint64_t i = 0; i < 8; ++i) {
    ASSERT_OK(repo->SaveBlob(BlobType::kData, RecordPage(300 + i), CompressionLevel::kDefault,
                             &dictionaries[i % 4]));
  }
  ASSERT_OK(repo->Flush());
  const auto packs = PackEntries(*repo);
  EXPECT_GE(packs.size(), 2u);
  for (const auto& entries : packs) {
    EXPECT_LE(std::count_if(entries.begin(), entries.end(),
                            [](const PackBlob& e) { return e.type == BlobType::kDictionary; }),
              kMaxPackDictionaries);
  }
  repo = Reopen();
  for (uint64_t i = 0; i < 8; ++i) {
    const Bytes page = RecordPage(300 + i);
    auto loaded = repo->LoadBlob(BlobType::kData, repo->ComputeBlobId(page));
    ASSERT_OK(loaded);
    EXPECT_EQ(*loaded, page);
  }
}

// A pack that ends because a blob needs a fourth dictionary, and is then
// dropped because that blob cannot be stored, took blobs other calls were
// told are saved: from then on nothing of this Repository may succeed, or
// a snapshot could name blobs that were never written.
TEST_F(RepositoryTest, ADroppedPackFailsEveryLaterSaveAndFlush) {
  auto repo = Init();
  std::vector<BlobDictionary> dictionaries;
  for (uint64_t d = 1; d <= 3; ++d) {
    dictionaries.push_back(repo->MakeBlobDictionary(TrainedDictionary(d)));
    ASSERT_OK(repo->SaveBlob(BlobType::kData, RecordPage(400 + d), CompressionLevel::kDefault,
                             &dictionaries.back()));
  }
  // A valid dictionary too large for any pack: its content runs past 1 MiB.
  const auto trained = TrainedDictionary(4);
  Bytes oversized(trained->bytes().begin(), trained->bytes().end());
  while (oversized.size() <= kMaxDictionaryLength) Append(oversized, RecordPage(oversized.size()));
  auto zstd = ZstdDictionary::FromBytes(oversized);
  ASSERT_OK(zstd);
  const BlobDictionary too_large = repo->MakeBlobDictionary(*zstd);
  EXPECT_EQ(CodeOf(repo->SaveBlob(BlobType::kData, RecordPage(500), CompressionLevel::kDefault,
                                  &too_large)),
            StatusCode::kInvalidArgument);

  EXPECT_FALSE(repo->SaveBlob(BlobType::kData, RecordPage(501), CompressionLevel::kDefault).ok());
  const Status flushed = repo->Flush();
  EXPECT_FALSE(flushed.ok());
  EXPECT_NE(flushed.message().find("dropped"), std::string::npos) << flushed.message();
  EXPECT_FALSE(repo->Flush().ok());

  repo = Reopen();
  EXPECT_FALSE(repo->FindBlob(repo->ComputeBlobId(RecordPage(401))).has_value());
  EXPECT_TRUE(PackEntries(*repo).empty());
}

// Repacking copies the frame as it is, so its dictionary goes along.
TEST_F(RepositoryTest, CopyBlobTakesTheDictionaryAlong) {
  auto repo = Init();
  const BlobDictionary dictionary = repo->MakeBlobDictionary(TrainedDictionary(5));
  const Bytes page = RecordPage(400);
  ASSERT_OK(repo->SaveBlob(BlobType::kData, page, CompressionLevel::kDefault, &dictionary));
  ASSERT_OK(repo->Flush());
  CopyEveryBlobOutOfTheOnlyPack(*repo);
  repo = Reopen();
  auto loaded = repo->LoadBlob(BlobType::kData, repo->ComputeBlobId(page));
  ASSERT_OK(loaded);
  EXPECT_EQ(*loaded, page);
}

TEST_F(RepositoryTest, ADamagedDictionaryIsDataLossForTheBlobsThatNeedIt) {
  auto repo = Init();
  const BlobDictionary dictionary = repo->MakeBlobDictionary(TrainedDictionary(6));
  const Bytes page = RecordPage(500);
  ASSERT_OK(repo->SaveBlob(BlobType::kData, page, CompressionLevel::kDefault, &dictionary));
  ASSERT_OK(repo->Flush());
  const PackRecord pack = repo->IndexedPacks().front();
  auto bytes = repo->backend().Get(PackObjectName(pack.id));
  ASSERT_OK(bytes);
  auto entries = repo->DecodePackBlobs(*bytes);
  ASSERT_OK(entries);
  const PackBlob& entry = entries->front();
  ASSERT_EQ(entry.type, BlobType::kDictionary);
  Bytes damaged = *bytes;
  damaged[entry.offset + 100] ^= std::byte{1};
  ASSERT_OK(repo->backend().Put(PackObjectName(pack.id), damaged));
  repo = Reopen();
  auto loaded = repo->LoadBlob(BlobType::kData, repo->ComputeBlobId(page));
  EXPECT_EQ(CodeOf(loaded), StatusCode::kDataLoss);
  EXPECT_THAT(std::string(loaded.status().message()), HasSubstr("dictionary 1 of pack"));
}

// --- Frames ---

// Blobs read together are stored, those not stored yet, as one frame: one
// sealed payload compressed as a whole, each member found and read back on
// its own.
TEST_F(RepositoryTest, SaveFramedStoresTheNewBlobsOfABatchAsOneFrame) {
  auto repo = Init();
  const BlobDictionary dictionary = repo->MakeBlobDictionary(TrainedDictionary(7));
  std::vector<Bytes> pages;
  for (uint64_t i = 0; i < 10; ++i) pages.push_back(RecordPage(700 + i));
  ASSERT_OK(repo->SaveBlob(BlobType::kData, pages[3], CompressionLevel::kDefault, &dictionary));
  std::vector<ByteView> batch(pages.begin(), pages.end());
  batch.push_back(pages[5]);  // twice in one batch: stored once
  auto saved = repo->SaveFramed(BlobType::kData, batch, CompressionLevel::kDefault, &dictionary);
  ASSERT_OK(saved);
  ASSERT_EQ(saved->size(), batch.size());
  uint64_t shares = 0;
  for (size_t i = 0; i < batch.size(); ++i) {
    EXPECT_EQ((*saved)[i].id, repo->ComputeBlobId(batch[i]));
    EXPECT_EQ((*saved)[i].added, i != 3 && i != 10) << i;
    shares += (*saved)[i].stored_length;
  }
  // Compressed together, the frame is smaller than the pages one by one.
  uint64_t alone = 0;
  for (uint64_t i = 0; i < 9; ++i) {
    auto single = repo->SaveBlob(BlobType::kData, RecordPage(800 + i), CompressionLevel::kDefault,
                                 &dictionary);
    ASSERT_OK(single);
    alone += single->stored_length;
  }
  EXPECT_LT(shares, alone);
  ASSERT_OK(repo->Flush());

  const auto packs = PackEntries(*repo);
  ASSERT_EQ(packs.size(), 1u);
  size_t frames = 0, members = 0;
  for (const PackBlob& entry : packs[0]) {
    if (entry.type == BlobType::kFrame) {
      frames++;
      EXPECT_TRUE(entry.compressed);
      EXPECT_EQ(entry.dictionary, 1);
      EXPECT_EQ(entry.raw_length, 9u * 8192);
      EXPECT_LE(entry.stored_length - shares, 9u);  // shares are rounded down
    }
    members += entry.member() ? 1 : 0;
  }
  EXPECT_EQ(frames, 1u);
  EXPECT_EQ(members, 9u);

  repo = Reopen();
  EXPECT_EQ(repo->IndexedBlobCount(), 19u);
  for (const Bytes& page : pages) {
    auto loaded = repo->LoadBlob(BlobType::kData, repo->ComputeBlobId(page));
    ASSERT_OK(loaded);
    EXPECT_EQ(*loaded, page);
  }
  // Into the caller's memory, and from the pack's bytes with its cipher.
  auto location = repo->FindBlob(repo->ComputeBlobId(pages[7]));
  ASSERT_TRUE(location.has_value());
  ASSERT_TRUE(location->blob.member());
  auto bytes = repo->backend().Get(PackObjectName(location->pack.id));
  ASSERT_OK(bytes);
  const ByteView stored =
      ByteView(*bytes).subspan(location->blob.offset, location->blob.stored_length);
  Bytes out(8192);
  PageBytes scratch, payload, plain;
  auto into = repo->DecodeBlobInto(location->pack, location->blob, stored, out, scratch);
  ASSERT_OK(into);
  EXPECT_EQ(out, pages[7]);
  auto cipher = repo->PackCipher(location->pack);
  ASSERT_OK(cipher);
  for (size_t i : {0, 9, 7}) {
    auto other = repo->FindBlob(repo->ComputeBlobId(pages[i]));
    ASSERT_TRUE(other.has_value());
    auto view = repo->DecodeBlob(other->pack, other->blob, stored, payload, plain, cipher->get());
    ASSERT_OK(view);
    EXPECT_EQ(ToBytes(*view), pages[i]);
  }
}

// Members loaded one after the other fetch and decode their frame once.
TEST_F(RepositoryTest, LoadBlobFetchesAFrameOnceForItsMembersInARow) {
  FaultyBackend* faulty = nullptr;
  auto repo = InitFaulty(&faulty);
  std::vector<Bytes> pages;
  for (uint64_t i = 0; i < 8; ++i) pages.push_back(RecordPage(960 + i));
  const std::vector<ByteView> batch(pages.begin(), pages.end());
  ASSERT_OK(repo->SaveFramed(BlobType::kData, batch, CompressionLevel::kDefault));
  ASSERT_OK(repo->Flush());
  const int gets = faulty->Calls(FaultyBackend::Method::kGet);
  for (const Bytes& page : pages) {
    auto loaded = repo->LoadBlob(BlobType::kData, repo->ComputeBlobId(page));
    ASSERT_OK(loaded);
    EXPECT_EQ(*loaded, page);
  }
  EXPECT_EQ(faulty->Calls(FaultyBackend::Method::kGet) - gets, 1);
}

// One new blob goes as a blob of its own, and without compression nothing
// is framed: a frame would save only tags.
TEST_F(RepositoryTest, SaveFramedFramesOnlyTwoNewBlobsOrMoreThatAreCompressed) {
  auto repo = Init();
  const Bytes a = RecordPage(900), b = RecordPage(901), c = RecordPage(902), d = RecordPage(903);
  ASSERT_OK(repo->SaveBlob(BlobType::kData, a, CompressionLevel::kDefault));
  const std::vector<ByteView> one_new = {a, b};
  ASSERT_OK(repo->SaveFramed(BlobType::kData, one_new, CompressionLevel::kDefault));
  const std::vector<ByteView> uncompressed = {c, d};
  ASSERT_OK(repo->SaveFramed(BlobType::kData, uncompressed, CompressionLevel::kOff));
  const std::vector<ByteView> empty_member = {c, ByteView()};
  EXPECT_EQ(CodeOf(repo->SaveFramed(BlobType::kData, empty_member, CompressionLevel::kDefault)),
            StatusCode::kInvalidArgument);
  ASSERT_OK(repo->Flush());
  for (const auto& pack : PackEntries(*repo)) {
    for (const PackBlob& entry : pack) {
      EXPECT_NE(entry.type, BlobType::kFrame);
      EXPECT_FALSE(entry.member());
    }
  }
  ExpectBlobsReadBack({a, b, c, d});
}

// Damage to a frame is damage to each member; a member is checked against
// the bytes it is given, not against a frame decoded before from others.
TEST_F(RepositoryTest, ADamagedFrameIsDataLossForEachMember) {
  auto repo = Init();
  std::vector<Bytes> pages;
  for (uint64_t i = 0; i < 4; ++i) pages.push_back(RecordPage(950 + i));
  const std::vector<ByteView> batch(pages.begin(), pages.end());
  ASSERT_OK(repo->SaveFramed(BlobType::kData, batch, CompressionLevel::kDefault));
  ASSERT_OK(repo->Flush());
  repo = Reopen();
  auto first = repo->FindBlob(repo->ComputeBlobId(pages[0]));
  ASSERT_TRUE(first.has_value());
  auto bytes = repo->backend().Get(PackObjectName(first->pack.id));
  ASSERT_OK(bytes);
  Bytes damaged = *bytes;
  damaged[first->blob.offset + 20] ^= std::byte{1};
  const ByteView good = ByteView(*bytes).subspan(first->blob.offset, first->blob.stored_length);
  const ByteView bad = ByteView(damaged).subspan(first->blob.offset, first->blob.stored_length);
  ASSERT_OK(repo->DecodeBlob(first->pack, first->blob, good));
  for (const Bytes& page : pages) {
    auto loc = repo->FindBlob(repo->ComputeBlobId(page));
    ASSERT_TRUE(loc.has_value());
    auto decoded = repo->DecodeBlob(loc->pack, loc->blob, bad);
    EXPECT_EQ(CodeOf(decoded), StatusCode::kDataLoss);
    EXPECT_THAT(std::string(decoded.status().message()), HasSubstr("in the frame at"));
  }
  ASSERT_OK(repo->backend().Put(PackObjectName(first->pack.id), damaged));
  repo = Reopen();
  for (const Bytes& page : pages) {
    EXPECT_EQ(CodeOf(repo->LoadBlob(BlobType::kData, repo->ComputeBlobId(page))),
              StatusCode::kDataLoss);
  }
}

// Pages that do not compress make a frame stored raw; its members read back
// through every path, and members of two frames read in turn stay apart.
TEST_F(RepositoryTest, AnUncompressedFrameAndMembersOfTwoFramesInTurnReadBack) {
  auto repo = Init();
  std::mt19937_64 rng(77);
  std::vector<Bytes> random_pages(3, Bytes(8192)), text_pages;
  for (Bytes& page : random_pages) {
    for (std::byte& b : page) b = static_cast<std::byte>(rng());
  }
  for (uint64_t i = 0; i < 3; ++i) text_pages.push_back(RecordPage(990 + i));
  const std::vector<ByteView> raw_batch(random_pages.begin(), random_pages.end());
  const std::vector<ByteView> text_batch(text_pages.begin(), text_pages.end());
  ASSERT_OK(repo->SaveFramed(BlobType::kData, raw_batch, CompressionLevel::kDefault));
  ASSERT_OK(repo->SaveFramed(BlobType::kData, text_batch, CompressionLevel::kDefault));
  ASSERT_OK(repo->Flush());
  size_t raw_frames = 0, compressed_frames = 0;
  for (const auto& pack : PackEntries(*repo)) {
    for (const PackBlob& e : pack) {
      if (e.type != BlobType::kFrame) continue;
      (e.compressed ? compressed_frames : raw_frames)++;
    }
  }
  EXPECT_EQ(raw_frames, 1u);
  EXPECT_EQ(compressed_frames, 1u);

  repo = Reopen();
  const PackRecord pack = repo->IndexedPacks().front();
  auto bytes = repo->backend().Get(PackObjectName(pack.id));
  ASSERT_OK(bytes);
  PageBytes scratch;
  for (size_t i = 0; i < 3; ++i) {
    for (const Bytes* page : {&random_pages[i], &text_pages[i]}) {
      auto loc = repo->FindBlob(repo->ComputeBlobId(*page));
      ASSERT_TRUE(loc.has_value());
      ASSERT_TRUE(loc->blob.member());
      const ByteView stored = ByteView(*bytes).subspan(loc->blob.offset, loc->blob.stored_length);
      Bytes out(page->size());
      ASSERT_OK(repo->DecodeBlobInto(loc->pack, loc->blob, stored, out, scratch));
      EXPECT_EQ(out, *page);
      auto loaded = repo->LoadBlob(BlobType::kData, loc->blob.id);
      ASSERT_OK(loaded);
      EXPECT_EQ(*loaded, *page);
    }
  }
}

// Prune copies the live members of a frame together, into a new frame.
TEST_F(RepositoryTest, CopyMembersKeepsTheMembersOfAFrameTogether) {
  auto repo = Init();
  const BlobDictionary dictionary = repo->MakeBlobDictionary(TrainedDictionary(9));
  std::vector<Bytes> pages;
  for (uint64_t i = 0; i < 4; ++i) pages.push_back(RecordPage(1100 + i));
  const std::vector<ByteView> batch(pages.begin(), pages.end());
  ASSERT_OK(repo->SaveFramed(BlobType::kData, batch, CompressionLevel::kDefault, &dictionary));
  ASSERT_OK(repo->Flush());
  const PackRecord old_pack = repo->IndexedPacks().front();
  auto bytes = repo->backend().Get(PackObjectName(old_pack.id));
  ASSERT_OK(bytes);
  auto entries = repo->DecodePackBlobs(*bytes);
  ASSERT_OK(entries);
  std::vector<PackBlob> members;
  for (const PackBlob& e : *entries) {
    if (e.member() && e.id != repo->ComputeBlobId(pages[2])) members.push_back(e);
  }
  ASSERT_EQ(members.size(), 3u);
  const ByteView stored = ByteView(*bytes).subspan(members[0].offset, members[0].stored_length);
  auto copied = repo->CopyMembers(old_pack, members, stored);
  ASSERT_OK(copied);
  for (const SaveBlobResult& r : *copied) EXPECT_TRUE(r.added);
  // Copied already by this process: skipped.
  auto again = repo->CopyMembers(old_pack, members, stored);
  ASSERT_OK(again);
  for (const SaveBlobResult& r : *again) EXPECT_FALSE(r.added);
  // Entries of no frame, or of two, are refused.
  std::vector<PackBlob> mixed = {members[0], entries->front()};
  EXPECT_EQ(CodeOf(repo->CopyMembers(old_pack, mixed, stored)), StatusCode::kInvalidArgument);
  ASSERT_OK(repo->Flush());
  size_t new_frames = 0;
  for (const auto& pack : PackEntries(*repo)) {
    size_t pack_members = 0;
    for (const PackBlob& e : pack) pack_members += e.member() ? 1 : 0;
    if (pack_members == 3) {
      new_frames++;
      EXPECT_EQ(pack.front().type, BlobType::kDictionary);  // the dictionary went along
    }
  }
  EXPECT_EQ(new_frames, 1u);
}

// Prune copies a live member out of a frame as a blob of its own,
// compressed again with the frame's dictionary.
TEST_F(RepositoryTest, CopyBlobTakesAMemberOutOfItsFrame) {
  auto repo = Init();
  const BlobDictionary dictionary = repo->MakeBlobDictionary(TrainedDictionary(8));
  std::vector<Bytes> pages;
  for (uint64_t i = 0; i < 3; ++i) pages.push_back(RecordPage(980 + i));
  const std::vector<ByteView> batch(pages.begin(), pages.end());
  ASSERT_OK(repo->SaveFramed(BlobType::kData, batch, CompressionLevel::kDefault, &dictionary));
  ASSERT_OK(repo->Flush());
  CopyEveryBlobOutOfTheOnlyPack(*repo);
  repo = Reopen();
  for (const Bytes& page : pages) {
    auto loc = repo->FindBlob(repo->ComputeBlobId(page));
    ASSERT_TRUE(loc.has_value());
    EXPECT_FALSE(loc->blob.member());
    EXPECT_EQ(loc->blob.dictionary, 1);
    auto loaded = repo->LoadBlob(BlobType::kData, repo->ComputeBlobId(page));
    ASSERT_OK(loaded);
    EXPECT_EQ(*loaded, page);
  }
}

}  // namespace
}  // namespace pxb
