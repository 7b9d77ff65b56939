#include "format/envelope_format.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <tuple>

#include "core/coding.h"
#include "core/compress/zstd_codec.h"
#include "core/crypto/random.h"
#include "format/crypto_format.h"
#include "format/testing/format_testing.h"
#include "storage/testing/status_testing.h"

namespace pxb {
namespace {

using ::testing::HasSubstr;

class EnvelopeTest : public testing::TestWithParam<std::tuple<AeadAlgorithm, EnvelopeKind>> {
 protected:
  void SetUp() override { ASSERT_OK(InitCrypto()); }
  AeadAlgorithm alg() const { return std::get<0>(GetParam()); }
  EnvelopeKind kind() const { return std::get<1>(GetParam()); }
  const SecretKey key_ = TestKey(1);
};

TEST_P(EnvelopeTest, RoundTrips) {
  for (const std::string& text : {std::string(), std::string("x"), std::string(100000, 'a'),
                                  std::string("{\"version\":1}")}) {
    auto sealed = SealEnvelope(kind(), alg(), key_, AsBytes(text));
    ASSERT_OK(sealed);
    auto opened = OpenEnvelope(kind(), alg(), key_, *sealed);
    ASSERT_OK(opened);
    EXPECT_EQ(ToString(*opened), text);
  }
}

TEST_P(EnvelopeTest, HeaderFollowsTheFormat) {
  auto sealed = SealEnvelope(kind(), alg(), key_, AsBytes("payload"));
  ASSERT_OK(sealed);
  ASSERT_GE(sealed->size(), kEnvelopeHeaderSize + Aead::kTagSize);
  EXPECT_EQ(AsChars(ByteView(*sealed).first(4)), "PXBO");
  EXPECT_EQ((*sealed)[4], std::byte{1});
  EXPECT_EQ((*sealed)[5], static_cast<std::byte>(kind()));
  EXPECT_EQ((*sealed)[6], std::byte{0});
  EXPECT_EQ((*sealed)[7], std::byte{0});
}

// Opens the object as repository_format.md section 2.1 describes, without
// OpenEnvelope: object key from the salt at 8..40, nonce (2, 0), AAD 0..40,
// zstd frame inside.
TEST_P(EnvelopeTest, BodyDecryptsAsTheFormatDescribes) {
  const std::string text = "the payload, repeated: the payload, repeated";
  auto sealed = SealEnvelope(kind(), alg(), key_, AsBytes(text));
  ASSERT_OK(sealed);
  ByteView object(*sealed);
  auto object_key = DeriveObjectKey(key_, object.subspan(8, 32));
  ASSERT_OK(object_key);
  auto aead = Aead::Create(alg(), *object_key);
  ASSERT_OK(aead);
  std::array<std::byte, 24> nonce_buf{};
  MutableByteView nonce(nonce_buf.data(), AeadNonceSize(alg()));
  MakeNonce(2, 0, nonce);
  ByteView sealed_body = object.subspan(40);
  Bytes frame(sealed_body.size() - Aead::kTagSize);
  ASSERT_OK((*aead)->Open(nonce, object.first(40), sealed_body, frame));
  auto payload = ZstdDecompressAll(frame, 1 << 20);
  ASSERT_OK(payload);
  EXPECT_EQ(ToString(*payload), text);
}

TEST_P(EnvelopeTest, EverySealUsesAFreshSalt) {
  auto a = SealEnvelope(kind(), alg(), key_, AsBytes("same"));
  auto b = SealEnvelope(kind(), alg(), key_, AsBytes("same"));
  ASSERT_OK(a);
  ASSERT_OK(b);
  EXPECT_NE(*a, *b);
  EXPECT_NE(ToBytes(ByteView(*a).subspan(8, 32)), ToBytes(ByteView(*b).subspan(8, 32)));
}

TEST_P(EnvelopeTest, WrongKindIsDataLoss) {
  auto sealed = SealEnvelope(kind(), alg(), key_, AsBytes("payload"));
  ASSERT_OK(sealed);
  for (EnvelopeKind other :
       {EnvelopeKind::kConfig, EnvelopeKind::kIndex, EnvelopeKind::kSnapshot}) {
    if (other == kind()) continue;
    auto opened = OpenEnvelope(other, alg(), key_, *sealed);
    EXPECT_EQ(CodeOf(opened), StatusCode::kDataLoss);
    EXPECT_THAT(std::string(opened.status().message()), HasSubstr("expected a"));
  }
}

TEST_P(EnvelopeTest, WrongKeyOrCipherIsDataLoss) {
  auto sealed = SealEnvelope(kind(), alg(), key_, AsBytes("payload"));
  ASSERT_OK(sealed);
  EXPECT_EQ(CodeOf(OpenEnvelope(kind(), alg(), TestKey(2), *sealed)), StatusCode::kDataLoss);
  AeadAlgorithm other = alg() == AeadAlgorithm::kAes256Gcm ? AeadAlgorithm::kXChaCha20Poly1305
                                                           : AeadAlgorithm::kAes256Gcm;
  EXPECT_EQ(CodeOf(OpenEnvelope(kind(), other, key_, *sealed)), StatusCode::kDataLoss);
}

TEST_P(EnvelopeTest, EveryFlippedByteIsDataLoss) {
  auto sealed = SealEnvelope(kind(), alg(), key_, AsBytes("a small payload"));
  ASSERT_OK(sealed);
  for (size_t i = 0; i < sealed->size(); ++i) {
    for (std::byte mask : {std::byte{0x01}, std::byte{0x80}, std::byte{0xff}}) {
      Bytes damaged = *sealed;
      damaged[i] ^= mask;
      EXPECT_EQ(CodeOf(OpenEnvelope(kind(), alg(), key_, damaged)), StatusCode::kDataLoss)
          << "byte " << i << " mask " << static_cast<int>(mask);
    }
  }
}

TEST_P(EnvelopeTest, EveryTruncationAndExtensionIsDataLoss) {
  auto sealed = SealEnvelope(kind(), alg(), key_, AsBytes("a small payload"));
  ASSERT_OK(sealed);
  for (size_t n = 0; n < sealed->size(); ++n) {
    EXPECT_EQ(CodeOf(OpenEnvelope(kind(), alg(), key_, ByteView(*sealed).first(n))),
              StatusCode::kDataLoss)
        << "length " << n;
  }
  Bytes longer = *sealed;
  longer.push_back(std::byte{0});
  EXPECT_EQ(CodeOf(OpenEnvelope(kind(), alg(), key_, longer)), StatusCode::kDataLoss);
}

// An authentic body that is not a zstd frame (a writer bug, not tampering)
// must still be refused cleanly.
TEST_P(EnvelopeTest, AuthenticBodyThatIsNotZstdIsDataLoss) {
  auto sealed = SealEnvelope(kind(), alg(), key_, AsBytes("payload"));
  ASSERT_OK(sealed);
  Bytes object(sealed->begin(), sealed->begin() + 40);
  auto object_key = DeriveObjectKey(key_, ByteView(object).subspan(8, 32));
  ASSERT_OK(object_key);
  auto aead = Aead::Create(alg(), *object_key);
  ASSERT_OK(aead);
  std::array<std::byte, 24> nonce_buf{};
  MutableByteView nonce(nonce_buf.data(), AeadNonceSize(alg()));
  MakeNonce(2, 0, nonce);
  const Bytes not_zstd = ToBytes("definitely not a zstd frame");
  object.resize(40 + not_zstd.size() + Aead::kTagSize);
  ASSERT_OK((*aead)->Seal(nonce, ByteView(object).first(40), not_zstd,
                          MutableByteView(object).subspan(40)));
  auto opened = OpenEnvelope(kind(), alg(), key_, object);
  EXPECT_EQ(CodeOf(opened), StatusCode::kDataLoss);
  EXPECT_THAT(std::string(opened.status().message()), HasSubstr("payload"));
}

std::string EnvelopeTestName(
    const testing::TestParamInfo<std::tuple<AeadAlgorithm, EnvelopeKind>>& info) {
  std::string name = std::get<0>(info.param) == AeadAlgorithm::kAes256Gcm ? "Aes" : "XChaCha";
  return name + std::string(EnvelopeKindName(std::get<1>(info.param)));
}

INSTANTIATE_TEST_SUITE_P(
    AllCiphersAndKinds, EnvelopeTest,
    testing::Combine(testing::Values(AeadAlgorithm::kAes256Gcm, AeadAlgorithm::kXChaCha20Poly1305),
                     testing::Values(EnvelopeKind::kConfig, EnvelopeKind::kIndex,
                                     EnvelopeKind::kSnapshot)),
    EnvelopeTestName);

TEST(EnvelopeKindNameTest, NamesEveryKind) {
  EXPECT_EQ(EnvelopeKindName(EnvelopeKind::kConfig), "config");
  EXPECT_EQ(EnvelopeKindName(EnvelopeKind::kIndex), "index");
  EXPECT_EQ(EnvelopeKindName(EnvelopeKind::kSnapshot), "snapshot");
  EXPECT_EQ(static_cast<int>(EnvelopeKind::kConfig), 1);
  EXPECT_EQ(static_cast<int>(EnvelopeKind::kIndex), 2);
  EXPECT_EQ(static_cast<int>(EnvelopeKind::kSnapshot), 3);
}

}  // namespace
}  // namespace pxb
