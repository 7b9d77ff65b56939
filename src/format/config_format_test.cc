#include "format/config_format.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "core/coding.h"
#include "core/crypto/random.h"
#include "format/envelope_format.h"
#include "format/testing/format_testing.h"
#include "storage/testing/status_testing.h"

namespace pxb {
namespace {

using ::testing::HasSubstr;

RepositoryConfig SampleConfig(AeadAlgorithm cipher) {
  RepositoryConfig c;
  c.id = TestId<RepositoryId>("repository");
  c.created_ns = 1764001800123456789;
  c.cipher = cipher;
  c.chunker = ChunkerParams{64 * 1024, 256 * 1024, 1024 * 1024, 1};
  c.pack_size = 4 << 20;
  return c;
}

bool SameConfig(const RepositoryConfig& a, const RepositoryConfig& b) {
  return a.id == b.id && a.format_version == b.format_version && a.created_ns == b.created_ns &&
         a.cipher == b.cipher && a.chunker.min_size == b.chunker.min_size &&
         a.chunker.avg_size == b.chunker.avg_size && a.chunker.max_size == b.chunker.max_size &&
         a.chunker.normalization == b.chunker.normalization && a.pack_size == b.pack_size;
}

// The config object with a hand-written JSON body, sealed as EncodeConfig would.
Bytes ConfigWithBody(const nlohmann::json& body, AeadAlgorithm seal_with, const SecretKey& key,
                     const RepositoryId& id, uint32_t version = 1) {
  auto sealed = SealEnvelope(EnvelopeKind::kConfig, seal_with, key, AsBytes(body.dump()));
  EXPECT_OK(sealed);
  Bytes out;
  ByteWriter w(out);
  w.PutRaw(kConfigMagic);
  w.PutLe32(version);
  w.PutRaw(id.bytes());
  w.PutRaw(*sealed);
  return out;
}

class ConfigTest : public testing::TestWithParam<AeadAlgorithm> {
 protected:
  void SetUp() override { ASSERT_OK(InitCrypto()); }
  AeadAlgorithm alg() const { return GetParam(); }

  // The JSON body EncodeConfig writes for SampleConfig.
  nlohmann::json SampleBody() {
    auto object = EncodeConfig(SampleConfig(alg()), key_);
    EXPECT_OK(object);
    auto body = OpenEnvelope(EnvelopeKind::kConfig, alg(), key_,
                             ByteView(*object).subspan(kConfigHeaderSize));
    EXPECT_OK(body);
    return nlohmann::json::parse(ToString(*body));
  }

  StatusOr<RepositoryConfig> DecodeBody(const nlohmann::json& body) {
    return DecodeConfig(ConfigWithBody(body, alg(), key_, SampleConfig(alg()).id), key_);
  }

  const SecretKey key_ = TestKey(3);
};

TEST_P(ConfigTest, RoundTrips) {
  const RepositoryConfig config = SampleConfig(alg());
  auto object = EncodeConfig(config, key_);
  ASSERT_OK(object);
  auto decoded = DecodeConfig(*object, key_);
  ASSERT_OK(decoded);
  EXPECT_TRUE(SameConfig(*decoded, config));
}

TEST_P(ConfigTest, LayoutFollowsTheFormat) {
  auto object = EncodeConfig(SampleConfig(alg()), key_);
  ASSERT_OK(object);
  ByteView bytes(*object);
  EXPECT_EQ(AsChars(bytes.first(8)), std::string_view("PXBCONF\0", 8));
  EXPECT_EQ(LoadLe32(bytes.data() + 8), 1u);
  EXPECT_EQ(ToBytes(bytes.subspan(12, 32)), ToBytes(SampleConfig(alg()).id.bytes()));
  EXPECT_EQ(AsChars(bytes.subspan(44, 4)), "PXBO");
  auto header = DecodeConfigHeader(bytes);
  ASSERT_OK(header);
  EXPECT_EQ(header->format_version, 1u);
  EXPECT_EQ(header->id, SampleConfig(alg()).id);

  nlohmann::json body = SampleBody();
  EXPECT_EQ(body["version"], 1);
  EXPECT_EQ(body["id"], SampleConfig(alg()).id.Hex());
  EXPECT_EQ(body["created"], "2025-11-24T16:30:00.123456789Z");
  EXPECT_EQ(body["cipher"], AeadName(alg()));
  EXPECT_EQ(body["blob_id"], "hmac-sha256");
  EXPECT_EQ(body["compression"], "zstd");
  EXPECT_EQ(body["chunker"]["algorithm"], "fastcdc-keyed");
  EXPECT_EQ(body["chunker"]["avg_size"], 256 * 1024);
  EXPECT_EQ(body["pack_size"], 4 << 20);
}

TEST_P(ConfigTest, WrongKeyIsDataLoss) {
  auto object = EncodeConfig(SampleConfig(alg()), key_);
  ASSERT_OK(object);
  auto decoded = DecodeConfig(*object, TestKey(4));
  EXPECT_EQ(CodeOf(decoded), StatusCode::kDataLoss);
  EXPECT_THAT(std::string(decoded.status().message()), HasSubstr("config"));
}

TEST_P(ConfigTest, NewerFormatIsRefusedBeforeAnyKeyIsNeeded) {
  auto object = EncodeConfig(SampleConfig(alg()), key_);
  ASSERT_OK(object);
  StoreLe32(object->data() + 8, 2);
  auto header = DecodeConfigHeader(*object);
  EXPECT_EQ(CodeOf(header), StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(header.status().message()), HasSubstr("version 2"));
  EXPECT_EQ(CodeOf(DecodeConfig(*object, key_)), StatusCode::kFailedPrecondition);
  EXPECT_EQ(CodeOf(DecodeConfig(*object, TestKey(4))), StatusCode::kFailedPrecondition);
  StoreLe32(object->data() + 8, 0);
  EXPECT_EQ(CodeOf(DecodeConfigHeader(*object)), StatusCode::kDataLoss);
}

TEST_P(ConfigTest, EveryFlippedByteIsDataLossOrANewerVersion) {
  auto object = EncodeConfig(SampleConfig(alg()), key_);
  ASSERT_OK(object);
  for (size_t i = 0; i < object->size(); ++i) {
    Bytes damaged = *object;
    damaged[i] ^= std::byte{0x04};
    StatusCode code = CodeOf(DecodeConfig(damaged, key_));
    if (i >= 8 && i < 12) {
      // 1 ^ 4 = 5 or a larger high byte: a newer format.
      EXPECT_EQ(code, StatusCode::kFailedPrecondition) << "byte " << i;
    } else {
      EXPECT_EQ(code, StatusCode::kDataLoss) << "byte " << i;
    }
  }
}

TEST_P(ConfigTest, EveryTruncationIsDataLoss) {
  auto object = EncodeConfig(SampleConfig(alg()), key_);
  ASSERT_OK(object);
  for (size_t n = 0; n < object->size(); ++n) {
    EXPECT_EQ(CodeOf(DecodeConfig(ByteView(*object).first(n), key_)), StatusCode::kDataLoss) << n;
  }
}

TEST_P(ConfigTest, UnknownAlgorithmsAreFailedPrecondition) {
  const std::pair<std::vector<std::string>, const char*> cases[] = {
      {{"cipher"}, "aes-128-gcm"},
      {{"blob_id"}, "sha256"},
      {{"compression"}, "lz4"},
      {{"chunker", "algorithm"}, "rabin"},
  };
  for (const auto& [path, value] : cases) {
    nlohmann::json body = SampleBody();
    if (path.size() == 1) {
      body[path[0]] = value;
    } else {
      body[path[0]][path[1]] = value;
    }
    EXPECT_EQ(CodeOf(DecodeBody(body)), StatusCode::kFailedPrecondition) << path[0];
  }
}

TEST_P(ConfigTest, MalformedOrInconsistentBodiesAreDataLoss) {
  ASSERT_OK(DecodeBody(SampleBody()));
  struct Case {
    const char* what;
    std::function<void(nlohmann::json&)> edit;
  };
  const Case cases[] = {
      {"version 2 in a version 1 header", [](auto& b) { b["version"] = 2; }},
      {"fractional version", [](auto& b) { b["version"] = 1.5; }},
      {"id of another repository", [](auto& b) { b["id"] = TestId<RepositoryId>("other").Hex(); }},
      {"id not hex", [](auto& b) { b["id"] = "xyz"; }},
      {"created not a time", [](auto& b) { b["created"] = "soon"; }},
      {"pack size too small", [](auto& b) { b["pack_size"] = (1 << 20) - 1; }},
      {"pack size too large", [](auto& b) { b["pack_size"] = (uint64_t{1} << 31) + 1; }},
      {"pack size a huge float", [](auto& b) { b["pack_size"] = 1e300; }},
      {"pack size negative", [](auto& b) { b["pack_size"] = -1; }},
      {"chunker sizes not ordered", [](auto& b) { b["chunker"]["min_size"] = 512 * 1024; }},
      {"average not a power of two", [](auto& b) { b["chunker"]["avg_size"] = 300000; }},
      {"chunker size above 32 bits", [](auto& b) { b["chunker"]["max_size"] = uint64_t{1} << 32; }},
      {"chunker size negative", [](auto& b) { b["chunker"]["min_size"] = -65536; }},
      {"missing chunker", [](auto& b) { b.erase("chunker"); }},
      {"chunker not an object", [](auto& b) { b["chunker"] = 1; }},
      {"missing cipher", [](auto& b) { b.erase("cipher"); }},
      {"body not an object",
       [](auto& b) {
         b = nlohmann::json::array({1, 2});
       }},
  };
  for (const Case& c : cases) {
    nlohmann::json body = SampleBody();
    c.edit(body);
    EXPECT_EQ(CodeOf(DecodeBody(body)), StatusCode::kDataLoss) << c.what;
  }
  nlohmann::json with_extra = SampleBody();
  with_extra["future_field"] = "ignored";
  EXPECT_OK(DecodeBody(with_extra));
}

// The body names its cipher and only that cipher may have sealed it.
TEST_P(ConfigTest, BodySealedWithAnotherCipherThanItNamesIsDataLoss) {
  AeadAlgorithm other = alg() == AeadAlgorithm::kAes256Gcm ? AeadAlgorithm::kXChaCha20Poly1305
                                                           : AeadAlgorithm::kAes256Gcm;
  Bytes object = ConfigWithBody(SampleBody(), other, key_, SampleConfig(alg()).id);
  auto decoded = DecodeConfig(object, key_);
  EXPECT_EQ(CodeOf(decoded), StatusCode::kDataLoss);
  EXPECT_THAT(std::string(decoded.status().message()), HasSubstr("cipher"));
}

TEST_P(ConfigTest, ClearIdMustMatchTheBody) {
  auto object = EncodeConfig(SampleConfig(alg()), key_);
  ASSERT_OK(object);
  (*object)[12] ^= std::byte{1};
  auto header = DecodeConfigHeader(*object);
  ASSERT_OK(header);  // the clear part alone cannot tell
  EXPECT_EQ(CodeOf(DecodeConfig(*object, key_)), StatusCode::kDataLoss);
}

INSTANTIATE_TEST_SUITE_P(BothCiphers, ConfigTest,
                         testing::Values(AeadAlgorithm::kAes256Gcm,
                                         AeadAlgorithm::kXChaCha20Poly1305),
                         [](const testing::TestParamInfo<AeadAlgorithm>& info) {
                           return info.param == AeadAlgorithm::kAes256Gcm ? "Aes" : "XChaCha";
                         });

TEST(ConfigHeaderTest, RejectsWrongMagicAndShortObjects) {
  Bytes object;
  ByteWriter w(object);
  w.PutRaw(kConfigMagic);
  w.PutLe32(1);
  w.PutRaw(TestId<RepositoryId>("r").bytes());
  ASSERT_OK(DecodeConfigHeader(object));
  EXPECT_EQ(CodeOf(DecodeConfigHeader(ByteView(object).first(43))), StatusCode::kDataLoss);
  Bytes wrong = object;
  wrong[7] = std::byte{'X'};  // the magic ends in a NUL byte
  EXPECT_EQ(CodeOf(DecodeConfigHeader(wrong)), StatusCode::kDataLoss);
  EXPECT_EQ(CodeOf(DecodeConfigHeader(AsBytes("{\"version\":1}"))), StatusCode::kDataLoss);
  StoreLe32(object.data() + 8, UINT32_MAX);
  EXPECT_EQ(CodeOf(DecodeConfigHeader(object)), StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace pxb
