#include "core/crypto/sha256.h"

#include <gtest/gtest.h>
#include <sodium.h>

#include <random>
#include <string>
#include <thread>
#include <vector>

#include "core/crypto/random.h"
#include "core/crypto/testing/random_data.h"

namespace pxb {
namespace {

std::string Hex(const Sha256Digest& d) { return ToHex(ByteView(d)); }

// libsodium's portable SHA-256: an implementation independent of OpenSSL's.
Sha256Digest ReferenceSha256(ByteView data) {
  Sha256Digest d;
  crypto_hash_sha256(U8(MutableByteView(d)), U8(data), data.size());
  return d;
}

TEST(Sha256Test, Fips180KnownAnswers) {
  EXPECT_EQ(Hex(Sha256(AsBytes(""))),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Hex(Sha256(AsBytes("abc"))),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Hex(Sha256(AsBytes("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"))),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(Hex(Sha256(AsBytes("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmno"
                               "ijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu"))),
            "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
  const std::string million_a(1000000, 'a');
  EXPECT_EQ(Hex(Sha256(AsBytes(million_a))),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(Sha256Test, MatchesIndependentImplementationAtEveryBlockBoundary) {
  for (size_t n = 0; n <= 300; ++n) {
    Bytes data = RandomData(n);
    ASSERT_EQ(Sha256(data), ReferenceSha256(data)) << "length " << n;
  }
  Bytes big = RandomData((1 << 20) + 7);
  EXPECT_EQ(Sha256(big), ReferenceSha256(big));
}

TEST(Sha256Test, HasherMatchesOneShotForAnySplit) {
  std::mt19937_64 rng(42);
  for (int round = 0; round < 50; ++round) {
    Bytes data = RandomData(rng() % 5000);
    Sha256Hasher h;
    size_t pos = 0;
    while (pos < data.size()) {
      size_t n = std::min<size_t>(data.size() - pos, rng() % 200);
      h.Update(ByteView(data).subspan(pos, n));
      pos += n;
    }
    ASSERT_EQ(h.Finish(), Sha256(data)) << "round " << round;
  }
}

TEST(Sha256Test, HasherByteByByte) {
  Bytes data = RandomData(1000);
  Sha256Hasher h;
  for (std::byte b : data) h.Update(ByteView(&b, 1));
  EXPECT_EQ(h.Finish(), Sha256(data));
}

TEST(Sha256Test, FinishStartsANewMessageAndResetDiscardsInput) {
  Sha256Hasher h;
  EXPECT_EQ(h.Finish(), Sha256(AsBytes("")));
  h.Update(AsBytes("abc"));
  EXPECT_EQ(h.Finish(), Sha256(AsBytes("abc")));
  h.Update(AsBytes("xyz"));
  EXPECT_EQ(h.Finish(), Sha256(AsBytes("xyz")));
  h.Update(AsBytes("discarded"));
  h.Reset();
  h.Update(AsBytes("abc"));
  EXPECT_EQ(h.Finish(), Sha256(AsBytes("abc")));
}

TEST(Sha256Test, MovedHasherKeepsItsState) {
  Sha256Hasher a;
  a.Update(AsBytes("ab"));
  Sha256Hasher b = std::move(a);
  b.Update(AsBytes("c"));
  EXPECT_EQ(b.Finish(), Sha256(AsBytes("abc")));
  Sha256Hasher c;
  c.Update(AsBytes("zz"));
  c = std::move(b);
  c.Update(AsBytes("q"));
  EXPECT_EQ(c.Finish(), Sha256(AsBytes("q")));
}

TEST(Sha256Test, ConcurrentOneShotCalls) {
  std::vector<Bytes> inputs;
  std::vector<Sha256Digest> expected;
  for (int i = 0; i < 8; ++i) {
    inputs.push_back(RandomData(1000 + 97 * i));
    expected.push_back(ReferenceSha256(inputs.back()));
  }
  std::vector<std::thread> threads;
  std::vector<int> failures(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 500; ++round) {
        size_t i = (round + t) % inputs.size();
        if (Sha256(inputs[i]) != expected[i]) ++failures[t];
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int f : failures) EXPECT_EQ(f, 0);
}

}  // namespace
}  // namespace pxb
