#include "core/crypto/hkdf.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

#include "core/crypto/hmac.h"
#include "core/crypto/random.h"
#include "core/crypto/testing/random_data.h"
#include "core/crypto/testing/vectors.h"

namespace pxb {
namespace {

// RFC 5869 written out with HmacSha256, to check OpenSSL's EVP_KDF on inputs
// the vectors lack (empty ikm, empty info, every length).
Bytes ReferenceHkdf(ByteView ikm, ByteView salt, ByteView info, size_t length) {
  const Bytes zero_salt(32);
  Sha256Digest prk = HmacSha256(salt.empty() ? ByteView(zero_salt) : salt).Compute(ikm);
  HmacSha256 expand{ByteView(prk)};
  Bytes okm, t;
  for (uint8_t counter = 1; okm.size() < length; ++counter) {
    Bytes block = t;
    Append(block, info);
    block.push_back(static_cast<std::byte>(counter));
    Sha256Digest d = expand.Compute(block);
    t.assign(d.begin(), d.end());
    Append(okm, t);
  }
  okm.resize(length);
  return okm;
}

TEST(HkdfTest, WycheproofHkdfSha256) {
  nlohmann::json file = LoadVectorFile("wycheproof/hkdf_sha256_test.json");
  ASSERT_FALSE(file.is_null());
  size_t valid = 0, invalid = 0;
  for (const auto& group : file.at("testGroups")) {
    for (const auto& test : group.at("tests")) {
      const int id = test.at("tcId").get<int>();
      const std::string result = test.at("result").get<std::string>();
      Bytes ikm = HexBytes(test.at("ikm").get<std::string>());
      Bytes salt = HexBytes(test.at("salt").get<std::string>());
      Bytes info = HexBytes(test.at("info").get<std::string>());
      Bytes out(test.at("size").get<size_t>());
      Status s = HkdfSha256(ikm, salt, info, out);
      if (result == "valid") {
        ASSERT_TRUE(s.ok()) << "tcId " << id << ": " << s.ToString();
        EXPECT_EQ(ToHex(out), test.at("okm").get<std::string>()) << "tcId " << id;
        ++valid;
      } else {
        ASSERT_EQ(result, "invalid") << "tcId " << id;
        EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << "tcId " << id << ": " << s.ToString();
        ++invalid;
      }
    }
  }
  EXPECT_EQ(valid, 83u);
  EXPECT_EQ(invalid, 3u);
  EXPECT_EQ(valid + invalid, file.at("numberOfTests").get<size_t>());
  EXPECT_EQ(valid + invalid, CountWycheproofTests(file));
}

TEST(HkdfTest, MatchesRfc5869WrittenWithHmac) {
  std::mt19937_64 rng(11);
  for (int round = 0; round < 200; ++round) {
    Bytes ikm = RandomData(round % 5 == 0 ? 0 : rng() % 100);
    Bytes salt = RandomData(round % 7 == 0 ? 0 : rng() % 100);
    Bytes info = RandomData(round % 3 == 0 ? 0 : rng() % 100);
    Bytes out(1 + rng() % 300);
    ASSERT_TRUE(HkdfSha256(ikm, salt, info, out).ok());
    ASSERT_EQ(out, ReferenceHkdf(ikm, salt, info, out.size()))
        << "ikm " << ikm.size() << " salt " << salt.size() << " info " << info.size() << " L "
        << out.size();
  }
}

TEST(HkdfTest, OutputLengthLimits) {
  Bytes ikm = RandomData(32);
  Bytes max(kHkdfSha256MaxOutput);
  ASSERT_TRUE(HkdfSha256(ikm, {}, {}, max).ok());
  EXPECT_EQ(max, ReferenceHkdf(ikm, {}, {}, max.size()));
  Bytes too_long(kHkdfSha256MaxOutput + 1);
  EXPECT_EQ(HkdfSha256(ikm, {}, {}, too_long).code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(HkdfSha256(ikm, {}, {}, MutableByteView()).ok());
}

TEST(HkdfTest, DeriveKeyIsHkdfWithTheLabelAsInfo) {
  SecretKey master = SecretKey::Random();
  Bytes salt = RandomData(32);
  auto data = DeriveKey(master, salt, "pxb/v1/data");
  ASSERT_TRUE(data.ok());
  Bytes expected(32);
  ASSERT_TRUE(HkdfSha256(master.bytes(), salt, AsBytes("pxb/v1/data"), expected).ok());
  EXPECT_EQ(ToBytes(data->bytes()), expected);

  auto blob_id = DeriveKey(master, salt, "pxb/v1/blob-id");
  ASSERT_TRUE(blob_id.ok());
  EXPECT_FALSE(*data == *blob_id);
  auto other_salt = DeriveKey(master, RandomData(32), "pxb/v1/data");
  ASSERT_TRUE(other_salt.ok());
  EXPECT_FALSE(*data == *other_salt);
}

}  // namespace
}  // namespace pxb
