#include "core/erasure/reed_solomon.h"

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <span>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "core/crypto/sha256.h"
#include "core/seeded_random.h"

namespace pxb {
namespace {

// GF(2^8) with the polynomial x^8 + x^4 + x^3 + x^2 + 1 (0x11d) from log and
// exp tables, written from the field's definition: the reference that ISA-L's
// kernels are checked against.
class ReferenceField {
 public:
  ReferenceField() {
    int x = 1;
    for (int i = 0; i < 255; ++i) {
      exp_[i] = static_cast<uint8_t>(x);
      log_[x] = i;
      x <<= 1;
      if (x & 0x100) x ^= 0x11d;
    }
  }
  uint8_t Mul(uint8_t a, uint8_t b) const {
    if (a == 0 || b == 0) return 0;
    return exp_[(log_[a] + log_[b]) % 255];
  }
  uint8_t Inv(uint8_t a) const { return exp_[(255 - log_[a]) % 255]; }

 private:
  std::array<uint8_t, 255> exp_{};
  std::array<int, 256> log_{};
};

const ReferenceField& Field() {
  static const ReferenceField field;
  return field;
}

// Parity shard r, byte t: sum over j of 1 / ((k + r) XOR j) * data_j[t]
// (doc/repository_format.md section 10).
std::vector<Bytes> ReferenceParity(const std::vector<Bytes>& data, int m) {
  const int k = static_cast<int>(data.size());
  const size_t len = data.empty() ? 0 : data[0].size();
  std::vector<Bytes> parity(m, Bytes(len));
  for (int r = 0; r < m; ++r) {
    for (int j = 0; j < k; ++j) {
      const uint8_t c = Field().Inv(static_cast<uint8_t>((k + r) ^ j));
      for (size_t t = 0; t < len; ++t) {
        parity[r][t] ^= static_cast<std::byte>(Field().Mul(c, static_cast<uint8_t>(data[j][t])));
      }
    }
  }
  return parity;
}

// Data shard j holds object bytes j*L .. (j+1)*L - 1, zero past the end.
std::vector<Bytes> SplitObject(ByteView object, int k) {
  const size_t len = ShardLength(object.size(), k);
  std::vector<Bytes> shards(k, Bytes(len));
  for (int j = 0; j < k; ++j) {
    const size_t begin = std::min(object.size(), j * len);
    const size_t end = std::min(object.size(), (j + 1) * len);
    std::copy(object.begin() + begin, object.begin() + end, shards[j].begin());
  }
  return shards;
}

ReedSolomon MakeCoder(int k, int m) {
  StatusOr<ReedSolomon> rs = ReedSolomon::Create(k, m);
  EXPECT_TRUE(rs.ok()) << rs.status().ToString();
  return std::move(rs).value();
}

std::vector<Bytes> Encoded(const ReedSolomon& rs, const std::vector<Bytes>& data) {
  const size_t len = data.empty() ? 0 : data[0].size();
  std::vector<Bytes> parity(rs.parity_shards(), Bytes(len));
  std::vector<const std::byte*> in;
  for (const Bytes& d : data) in.push_back(d.data());
  std::vector<std::byte*> out;
  for (Bytes& p : parity) out.push_back(p.data());
  rs.Encode(in, out, len);
  return parity;
}

// All k + m shards of seeded data of shard_len bytes.
std::vector<Bytes> EncodedShards(const ReedSolomon& rs, size_t shard_len, uint64_t seed) {
  std::vector<Bytes> shards;
  for (int j = 0; j < rs.data_shards(); ++j) shards.push_back(SeededBytes(shard_len, seed + j));
  std::vector<Bytes> parity = Encoded(rs, shards);
  for (Bytes& p : parity) shards.push_back(std::move(p));
  return shards;
}

std::vector<std::byte*> Pointers(std::vector<Bytes>& shards) {
  std::vector<std::byte*> out;
  for (Bytes& s : shards) out.push_back(s.data());
  return out;
}

// Calls f(lost) for every set of exactly `count` shard indices out of n.
template <typename F>
void ForEachSubset(int n, int count, F f) {
  std::vector<int> lost(count);
  for (int i = 0; i < count; ++i) lost[i] = i;
  while (true) {
    f(lost);
    int i = count - 1;
    while (i >= 0 && lost[i] == n - count + i) --i;
    if (i < 0) return;
    ++lost[i];
    for (int j = i + 1; j < count; ++j) lost[j] = lost[j - 1] + 1;
  }
}

std::string Describe(const std::vector<int>& lost) {
  std::string s = "lost {";
  for (int i : lost) s += " " + std::to_string(i);
  return s + " }";
}

TEST(ReferenceFieldTest, KnownProductsAndInverses) {
  // 2^8 = x^4 + x^3 + x^2 + 1 = 0x1d under 0x11d.
  EXPECT_EQ(Field().Mul(0x80, 2), 0x1d);
  EXPECT_EQ(Field().Mul(0x53, 0xca), 0x8f);
  EXPECT_EQ(Field().Mul(7, 0), 0);
  for (int a = 1; a < 256; ++a) {
    EXPECT_EQ(Field().Mul(static_cast<uint8_t>(a), Field().Inv(static_cast<uint8_t>(a))), 1) << a;
  }
}

TEST(ShardLengthTest, IsCeilingOfObjectLengthOverK) {
  static_assert(ShardLength(0, 4) == 0);
  EXPECT_EQ(ShardLength(0, 1), 0u);
  EXPECT_EQ(ShardLength(1, 1), 1u);
  EXPECT_EQ(ShardLength(1, 4), 1u);
  EXPECT_EQ(ShardLength(4, 4), 1u);
  EXPECT_EQ(ShardLength(5, 4), 2u);
  EXPECT_EQ(ShardLength(4099, 4), 1025u);
  EXPECT_EQ(ShardLength(10007, 10), 1001u);
  EXPECT_EQ(ShardLength(1 << 20, 10), 104858u);
  EXPECT_EQ(ShardLength(UINT64_MAX, 1), UINT64_MAX);
  EXPECT_EQ(ShardLength(UINT64_MAX, 2), uint64_t{1} << 63);
  EXPECT_EQ(ShardLength(UINT64_MAX, 255), UINT64_MAX / 255);
}

TEST(ReedSolomonTest, CreateChecksShardCounts) {
  for (auto [k, m] : std::vector<std::pair<int, int>>{
           {0, 1}, {-1, 2}, {1, -1}, {200, 56}, {255, 1}, {256, 0}, {1, 255}}) {
    StatusOr<ReedSolomon> rs = ReedSolomon::Create(k, m);
    EXPECT_EQ(rs.status().code(), StatusCode::kInvalidArgument) << k << "+" << m;
  }
  EXPECT_NE(ReedSolomon::Create(0, 1).status().message().find("k=0"), std::string_view::npos);
  for (auto [k, m] :
       std::vector<std::pair<int, int>>{{1, 0}, {1, 1}, {255, 0}, {1, 254}, {128, 127}}) {
    StatusOr<ReedSolomon> rs = ReedSolomon::Create(k, m);
    ASSERT_TRUE(rs.ok()) << k << "+" << m << ": " << rs.status().ToString();
    EXPECT_EQ(rs->data_shards(), k);
    EXPECT_EQ(rs->parity_shards(), m);
    EXPECT_EQ(rs->total_shards(), k + m);
  }
  EXPECT_EQ(kReedSolomonName, "rs-cauchy-gf256");
}

// Freezes the coding: parity of seeded objects, split as section 10 says.
// The expected values come from an independent implementation of section 10
// (Python: carry-less multiplication reduced by 0x11d, inverses by search), and ReferenceParity
// agrees with them.
TEST(ReedSolomonTest, GoldenParity) {
  struct Golden {
    int k;
    int m;
    size_t object_len;
    uint64_t seed;
    const char* parity_sha256;
    std::vector<const char*> first_bytes;  // first 8 bytes of each parity shard
  };
  const Golden golden[] = {
      {4,
       2,
       4099,
       42,
       "58ed60f6504d43b24b946232ef2041f4ec7572e7702e10c7d35bddb56e614e0f",
       {"d793b08ceed6942e", "0453bd866b30e1fb"}},
      {10,
       4,
       10007,
       7,
       "9bf4c88290a7f099e31d8e31f61a1f45941b30453527da7c85164113ee0f9a5e",
       {"19bad81594c647f8", "ed443ec8c2eb35d7", "6c09e4e47b7d5e3f", "4b8d7874d830166a"}},
  };
  for (const Golden& g : golden) {
    SCOPED_TRACE(std::to_string(g.k) + "+" + std::to_string(g.m));
    const Bytes object = SeededBytes(g.object_len, g.seed);
    const std::vector<Bytes> data = SplitObject(object, g.k);
    ASSERT_EQ(data[0].size(), ShardLength(g.object_len, g.k));
    const ReedSolomon rs = MakeCoder(g.k, g.m);
    const std::vector<Bytes> parity = Encoded(rs, data);
    EXPECT_EQ(parity, ReferenceParity(data, g.m));
    Sha256Hasher hasher;
    for (const Bytes& p : parity) hasher.Update(p);
    EXPECT_EQ(ToHex(hasher.Finish()), g.parity_sha256);
    ASSERT_EQ(parity.size(), g.first_bytes.size());
    for (size_t r = 0; r < parity.size(); ++r) {
      EXPECT_EQ(ToHex(ByteView(parity[r]).first(8)), g.first_bytes[r]) << "parity " << r;
    }
  }
}

// A shard buffer whose last byte is followed by an inaccessible page, so
// that a read or write past its end faults even inside ISA-L's kernels,
// which AddressSanitizer does not instrument. Its start is 64-byte aligned
// only when len is a multiple of 64.
class GuardedShard {
 public:
  explicit GuardedShard(size_t len) : len_(len) {
    const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    mapped_ = (len + page - 1) / page * page + page;
    void* p = mmap(nullptr, mapped_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED ||
        mprotect(static_cast<std::byte*>(p) + mapped_ - page, page, PROT_NONE) != 0) {
      std::perror("guard page");
      std::abort();
    }
    base_ = static_cast<std::byte*>(p);
    data_ = base_ + mapped_ - page - len;
  }
  GuardedShard(GuardedShard&& other) noexcept
      : len_(other.len_),
        mapped_(other.mapped_),
        base_(std::exchange(other.base_, nullptr)),
        data_(other.data_) {}
  GuardedShard(const GuardedShard&) = delete;
  GuardedShard& operator=(const GuardedShard&) = delete;
  GuardedShard& operator=(GuardedShard&&) = delete;
  ~GuardedShard() {
    if (base_ != nullptr) munmap(base_, mapped_);
  }

  std::byte* data() { return data_; }
  ByteView view() const { return ByteView(data_, len_); }

 private:
  size_t len_;
  size_t mapped_;
  std::byte* base_;
  std::byte* data_;
};

TEST(ReedSolomonTest, MatchesReferenceOnOddLengthsAndUnalignedBuffers) {
  const std::pair<int, int> configs[] = {{1, 1}, {2, 1},  {3, 2}, {4, 2},
                                         {6, 3}, {10, 4}, {5, 7}, {17, 3}};
  std::vector<size_t> lengths;
  for (size_t len = 1; len <= 130; ++len) lengths.push_back(len);
  for (size_t len : {191, 255, 1000, 4097, 65537}) lengths.push_back(len);
  uint64_t seed = 1;
  for (auto [k, m] : configs) {
    const ReedSolomon rs = MakeCoder(k, m);
    for (size_t len : lengths) {
      ++seed;
      std::vector<GuardedShard> data;
      std::vector<GuardedShard> parity;
      std::vector<Bytes> expected_data;
      std::vector<const std::byte*> in;
      std::vector<std::byte*> out;
      for (int j = 0; j < k; ++j) {
        expected_data.push_back(SeededBytes(len, seed * 100 + j));
        data.emplace_back(len);
        std::copy(expected_data[j].begin(), expected_data[j].end(), data[j].data());
      }
      for (int r = 0; r < m; ++r) parity.emplace_back(len);
      for (GuardedShard& d : data) in.push_back(d.data());
      for (GuardedShard& p : parity) out.push_back(p.data());
      rs.Encode(in, out, len);
      const std::vector<Bytes> expected = ReferenceParity(expected_data, m);
      for (int r = 0; r < m; ++r) {
        ASSERT_EQ(ToBytes(parity[r].view()), expected[r])
            << k << "+" << m << " len " << len << " parity " << r;
      }
      for (int j = 0; j < k; ++j) ASSERT_EQ(ToBytes(data[j].view()), expected_data[j]);

      // Rebuild the first data shard and, when m allows, the last parity
      // shard, in the same guarded buffers.
      const int n = k + m;
      std::vector<std::byte*> all;
      for (GuardedShard& d : data) all.push_back(d.data());
      for (GuardedShard& p : parity) all.push_back(p.data());
      const std::unique_ptr<bool[]> present(new bool[n]);
      std::fill_n(present.get(), n, true);
      present[0] = false;
      if (m >= 2) present[n - 1] = false;
      for (int i = 0; i < n; ++i) {
        if (!present[i]) std::fill_n(all[i], len, std::byte{0xee});
      }
      Status s = rs.Reconstruct(all, std::span<const bool>(present.get(), n), len);
      ASSERT_TRUE(s.ok()) << s.ToString();
      ASSERT_EQ(ToBytes(data[0].view()), expected_data[0]) << k << "+" << m << " len " << len;
      ASSERT_EQ(ToBytes(parity[m - 1].view()), expected[m - 1]) << k << "+" << m << " len " << len;
    }
  }
}

class ReedSolomonErasureTest : public testing::TestWithParam<std::pair<int, int>> {};

// Every combination of up to m lost shards, data and parity, is rebuilt
// exactly, and present shards are not touched.
TEST_P(ReedSolomonErasureTest, RebuildsEveryCombinationOfUpToMLostShards) {
  const auto [k, m] = GetParam();
  const int n = k + m;
  const ReedSolomon rs = MakeCoder(k, m);
  const size_t len = 67;  // not a multiple of any vector width
  const std::vector<Bytes> original = EncodedShards(rs, len, 1000 + n);
  int combinations = 0;
  for (int lost_count = 0; lost_count <= m; ++lost_count) {
    ForEachSubset(n, lost_count, [&](const std::vector<int>& lost) {
      ++combinations;
      std::vector<Bytes> shards = original;
      std::unique_ptr<bool[]> present(new bool[n]);
      std::fill_n(present.get(), n, true);
      for (int i : lost) {
        present[i] = false;
        std::fill(shards[i].begin(), shards[i].end(), std::byte{0x5a});
      }
      Status s = rs.Reconstruct(Pointers(shards), std::span<const bool>(present.get(), n), len);
      ASSERT_TRUE(s.ok()) << Describe(lost) << ": " << s.ToString();
      ASSERT_EQ(shards, original) << Describe(lost);
    });
  }
  int expected = 0;
  int binomial = 1;  // C(n, c)
  for (int c = 0; c <= m; ++c) {
    expected += binomial;
    binomial = binomial * (n - c) / (c + 1);
  }
  EXPECT_EQ(combinations, expected);
}

// With more than m shards lost (fewer than k present) nothing can be rebuilt:
// kDataLoss that says how many are present and needed, and no buffer written.
TEST_P(ReedSolomonErasureTest, FewerThanKPresentIsDataLossAndWritesNothing) {
  const auto [k, m] = GetParam();
  const int n = k + m;
  const ReedSolomon rs = MakeCoder(k, m);
  const size_t len = 33;
  const std::vector<Bytes> original = EncodedShards(rs, len, 2000 + n);
  for (int lost_count = m + 1; lost_count <= std::min(n, m + 2); ++lost_count) {
    ForEachSubset(n, lost_count, [&](const std::vector<int>& lost) {
      std::vector<Bytes> shards = original;
      std::unique_ptr<bool[]> present(new bool[n]);
      std::fill_n(present.get(), n, true);
      for (int i : lost) {
        present[i] = false;
        std::fill(shards[i].begin(), shards[i].end(), std::byte{0x5a});
      }
      const std::vector<Bytes> before = shards;
      Status s = rs.Reconstruct(Pointers(shards), std::span<const bool>(present.get(), n), len);
      ASSERT_EQ(s.code(), StatusCode::kDataLoss) << Describe(lost);
      EXPECT_EQ(s.message(), "Reed-Solomon: " + std::to_string(n - lost_count) + " of " +
                                 std::to_string(n) + " shards present, " + std::to_string(k) +
                                 " needed");
      ASSERT_EQ(shards, before) << Describe(lost);
    });
  }
}

INSTANTIATE_TEST_SUITE_P(Configs, ReedSolomonErasureTest,
                         testing::Values(std::pair{1, 1}, std::pair{2, 1}, std::pair{3, 2},
                                         std::pair{4, 2}, std::pair{6, 3}, std::pair{8, 4},
                                         std::pair{10, 4}, std::pair{1, 0}),
                         [](const testing::TestParamInfo<std::pair<int, int>>& info) {
                           return "K" + std::to_string(info.param.first) + "M" +
                                  std::to_string(info.param.second);
                         });

TEST(ReedSolomonTest, LargestCodesRebuild) {
  for (auto [k, m] : std::vector<std::pair<int, int>>{{128, 127}, {1, 254}, {250, 5}}) {
    SCOPED_TRACE(std::to_string(k) + "+" + std::to_string(m));
    const ReedSolomon rs = MakeCoder(k, m);
    const int n = k + m;
    const std::vector<Bytes> original = EncodedShards(rs, 37, 77);
    const std::vector<Bytes> reference =
        ReferenceParity(std::vector<Bytes>(original.begin(), original.begin() + k), m);
    EXPECT_TRUE(std::equal(reference.begin(), reference.end(), original.begin() + k));
    // Lose the first m shards: as many data shards as possible.
    std::vector<Bytes> shards = original;
    std::unique_ptr<bool[]> present(new bool[n]);
    for (int i = 0; i < n; ++i) present[i] = i >= m;
    for (int i = 0; i < m; ++i) std::fill(shards[i].begin(), shards[i].end(), std::byte{0});
    Status s = rs.Reconstruct(Pointers(shards), std::span<const bool>(present.get(), n), 37);
    ASSERT_TRUE(s.ok()) << s.ToString();
    EXPECT_EQ(shards, original);
  }
}

TEST(ReedSolomonTest, ZeroLengthShardsNeedNoBuffers) {
  const ReedSolomon rs = MakeCoder(4, 2);
  std::array<const std::byte*, 4> data{};
  std::array<std::byte*, 2> parity{};
  rs.Encode(data, parity, 0);
  std::array<std::byte*, 6> shards{};
  std::array<bool, 6> present{true, false, true, true, false, true};
  EXPECT_TRUE(rs.Reconstruct(shards, present, 0).ok());
  present = {false, false, false, true, true, true};
  EXPECT_EQ(rs.Reconstruct(shards, present, 0).code(), StatusCode::kDataLoss);
}

TEST(ReedSolomonTest, ReconstructRefusesMalformedArguments) {
  const ReedSolomon rs = MakeCoder(3, 2);
  std::vector<Bytes> shards = EncodedShards(rs, 10, 5);
  std::vector<std::byte*> pointers = Pointers(shards);
  std::array<bool, 5> present{true, true, true, true, false};
  std::array<bool, 4> short_present{true, true, true, true};
  EXPECT_EQ(rs.Reconstruct(std::span(pointers).first(4), short_present, 10).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(rs.Reconstruct(pointers, short_present, 10).code(), StatusCode::kInvalidArgument);
  pointers[4] = nullptr;
  EXPECT_EQ(rs.Reconstruct(pointers, present, 10).code(), StatusCode::kInvalidArgument);
  // All present: nothing to do, whatever the buffers.
  present[4] = true;
  EXPECT_TRUE(rs.Reconstruct(pointers, present, 10).ok());
}

TEST(ReedSolomonTest, CopiesAndMovesCodeTheSame) {
  const ReedSolomon original = MakeCoder(6, 3);
  std::vector<Bytes> data;
  for (int j = 0; j < 6; ++j) data.push_back(SeededBytes(300, 90 + j));
  const std::vector<Bytes> expected = ReferenceParity(data, 3);
  ReedSolomon copy = original;
  EXPECT_EQ(Encoded(copy, data), expected);
  ReedSolomon moved = std::move(copy);
  EXPECT_EQ(Encoded(moved, data), expected);
  ReedSolomon assigned = MakeCoder(1, 1);
  assigned = moved;
  EXPECT_EQ(assigned.data_shards(), 6);
  EXPECT_EQ(Encoded(assigned, data), expected);
  EXPECT_EQ(Encoded(original, data), expected);
}

// One coder shared by many threads, each encoding and rebuilding its own
// data: the results equal the single-threaded ones.
TEST(ReedSolomonTest, ConcurrentConstUseOfOneCoder) {
  const ReedSolomon rs = MakeCoder(10, 4);
  constexpr int kThreads = 8;
  constexpr size_t kLen = 4099;
  std::vector<std::vector<Bytes>> expected;
  for (int t = 0; t < kThreads; ++t) expected.push_back(EncodedShards(rs, kLen, 500 * t));
  std::vector<int> failures(kThreads, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 20; ++round) {
        std::vector<Bytes> shards = EncodedShards(rs, kLen, 500 * t);
        if (shards != expected[t]) ++failures[t];
        std::array<bool, 14> present;
        present.fill(true);
        present[round % 14] = false;
        present[(round + t + 1) % 14] = false;
        present[(round + 5) % 14] = false;
        for (int i = 0; i < 14; ++i) {
          if (!present[i]) std::fill(shards[i].begin(), shards[i].end(), std::byte{0});
        }
        if (!rs.Reconstruct(Pointers(shards), present, kLen).ok() || shards != expected[t]) {
          ++failures[t];
        }
      }
    });
  }
  for (std::thread& th : threads) th.join();
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(failures[t], 0) << "thread " << t;
}

}  // namespace
}  // namespace pxb
