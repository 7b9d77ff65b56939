#include "core/crypto/hmac.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <random>
#include <string>
#include <thread>
#include <vector>

#include "core/crypto/random.h"
#include "core/crypto/testing/random_data.h"

namespace pxb {
namespace {

// OpenSSL's one-shot HMAC(), which does not share our precomputed states.
Sha256Digest OpenSslHmac(ByteView key, ByteView data) {
  Sha256Digest out;
  unsigned int length = 0;
  static const unsigned char kEmpty = 0;
  const unsigned char* key_ptr = key.empty() ? &kEmpty : U8(key);
  EXPECT_NE(HMAC(EVP_sha256(), key_ptr, static_cast<int>(key.size()), U8(data), data.size(),
                 U8(MutableByteView(out)), &length),
            nullptr);
  EXPECT_EQ(length, out.size());
  return out;
}

struct Rfc4231Case {
  int number;
  Bytes key;
  Bytes data;
  std::string mac;
};

// RFC 4231 section 4 (test case 5 truncates the output and is left out).
std::vector<Rfc4231Case> Rfc4231Cases() {
  Bytes key4;
  for (int i = 1; i <= 25; ++i) key4.push_back(static_cast<std::byte>(i));
  return {
      {1, Bytes(20, std::byte{0x0b}), ToBytes("Hi There"),
       "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"},
      {2, ToBytes("Jefe"), ToBytes("what do ya want for nothing?"),
       "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
      {3, Bytes(20, std::byte{0xaa}), Bytes(50, std::byte{0xdd}),
       "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"},
      {4, key4, Bytes(50, std::byte{0xcd}),
       "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"},
      {6, Bytes(131, std::byte{0xaa}),
       ToBytes("Test Using Larger Than Block-Size Key - Hash Key First"),
       "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"},
      {7, Bytes(131, std::byte{0xaa}),
       ToBytes("This is a test using a larger than block-size key and a larger than block-size "
               "data. The key needs to be hashed before being used by the HMAC algorithm."),
       "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"},
  };
}

TEST(HmacSha256Test, Rfc4231) {
  int checked = 0;
  for (const Rfc4231Case& c : Rfc4231Cases()) {
    HmacSha256 mac{ByteView(c.key)};
    EXPECT_EQ(ToHex(ByteView(mac.Compute(c.data))), c.mac) << "test case " << c.number;
    ++checked;
  }
  EXPECT_EQ(checked, 6);
}

TEST(HmacSha256Test, SecretKeyAndByteViewConstructorsAgree) {
  SecretKey key = SecretKey::Random();
  Bytes data = RandomData(100);
  EXPECT_EQ(HmacSha256(key).Compute(data), HmacSha256(key.bytes()).Compute(data));
}

TEST(HmacSha256Test, MatchesOpenSslOneShotOnRandomInputs) {
  std::mt19937_64 rng(7);
  for (int round = 0; round < 300; ++round) {
    // Keys around the 64-byte block size take the padded and the hashed path.
    Bytes key = RandomData(round < 150 ? 32 : rng() % 200);
    HmacSha256 mac{ByteView(key)};
    for (int i = 0; i < 3; ++i) {
      Bytes data = RandomData(rng() % 400);
      ASSERT_EQ(mac.Compute(data), OpenSslHmac(key, data))
          << "key " << key.size() << " bytes, data " << data.size() << " bytes";
    }
  }
  SecretKey key = SecretKey::Random();
  HmacSha256 mac(key);
  Bytes big = RandomData((1 << 20) + 13);
  EXPECT_EQ(mac.Compute(big), OpenSslHmac(key.bytes(), big));
  EXPECT_EQ(mac.Compute({}), OpenSslHmac(key.bytes(), {}));
}

TEST(HmacSha256Test, DifferentKeysGiveDifferentMacs) {
  Bytes data = ToBytes("the same blob");
  EXPECT_NE(HmacSha256(SecretKey::Random()).Compute(data),
            HmacSha256(SecretKey::Random()).Compute(data));
}

TEST(HmacSha256Test, CopiesAndMovesComputeTheSameMac) {
  SecretKey key = SecretKey::Random();
  Bytes data = RandomData(77);
  const Sha256Digest expected = OpenSslHmac(key.bytes(), data);
  HmacSha256 original(key);
  HmacSha256 copy(original);
  EXPECT_EQ(copy.Compute(data), expected);
  HmacSha256 other(SecretKey::Random());
  other = copy;
  EXPECT_EQ(other.Compute(data), expected);
  HmacSha256 moved(std::move(copy));
  EXPECT_EQ(moved.Compute(data), expected);
  HmacSha256 assigned(SecretKey::Random());
  assigned = std::move(moved);
  EXPECT_EQ(assigned.Compute(data), expected);
  EXPECT_EQ(original.Compute(data), expected);
}

TEST(HmacSha256Test, ConcurrentComputeOnOneObject) {
  const SecretKey mac_key = SecretKey::Random();
  const HmacSha256 mac(mac_key);
  const SecretKey other_key = SecretKey::Random();
  std::vector<Bytes> inputs;
  std::vector<Sha256Digest> expected, expected_other, expected_plain;
  for (int i = 0; i < 16; ++i) {
    inputs.push_back(RandomData(50 + 300 * i));
    expected.push_back(OpenSslHmac(mac_key.bytes(), inputs.back()));
    expected_other.push_back(OpenSslHmac(other_key.bytes(), inputs.back()));
    expected_plain.push_back(Sha256(inputs.back()));
  }
  constexpr int kThreads = 4;
  std::vector<int> failures(kThreads, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      // Another object and Sha256() on the same thread share the scratch context.
      HmacSha256 local(other_key);
      for (int round = 0; round < 2000; ++round) {
        size_t i = (round * 7 + t) % inputs.size();
        if (mac.Compute(inputs[i]) != expected[i]) ++failures[t];
        if (round % 16 == 0) {
          if (local.Compute(inputs[i]) != expected_other[i]) ++failures[t];
          if (Sha256(inputs[i]) != expected_plain[i]) ++failures[t];
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int f : failures) EXPECT_EQ(f, 0);
}

}  // namespace
}  // namespace pxb
