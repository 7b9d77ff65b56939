#include "format/keyslot_format.h"

#include <gtest/gtest.h>

#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "core/crypto/random.h"
#include "format/testing/format_testing.h"
#include "storage/testing/status_testing.h"

namespace pxb {
namespace {

// The smallest parameters Argon2id accepts, so that tests run fast.
constexpr Argon2idParams kFastKdf{kArgon2idMinMemoryKib, kArgon2idMinIterations, 1};

class KeySlotTest : public testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK(InitCrypto());
    auto slot = MakePassphraseSlot(master_, repository_, "correct horse", kFastKdf);
    ASSERT_OK(slot);
    slot_ = *slot;
  }

  nlohmann::json SlotJson() const { return nlohmann::json::parse(ToString(EncodeKeySlot(slot_))); }

  static StatusOr<KeySlot> Decode(const nlohmann::json& j) {
    return DecodeKeySlot(AsBytes(j.dump()));
  }

  const SecretKey master_ = TestKey(9);
  const RepositoryId repository_ = TestId<RepositoryId>("repository");
  KeySlot slot_;
};

TEST_F(KeySlotTest, PassphraseUnwrapsTheMasterKey) {
  EXPECT_EQ(slot_.kind, "passphrase");
  EXPECT_EQ(slot_.repository, repository_);
  EXPECT_EQ(slot_.kdf_salt.size(), 16u);
  EXPECT_EQ(slot_.wrap_nonce.size(), 24u);
  EXPECT_EQ(slot_.wrapped.size(), 48u);
  auto master = UnwrapPassphraseSlot(slot_, "correct horse");
  ASSERT_OK(master);
  EXPECT_TRUE(*master == master_);
}

TEST_F(KeySlotTest, WrongPassphraseIsUnauthenticated) {
  for (std::string_view wrong : {"correct horse ", "Correct horse", "", "correct hors"}) {
    EXPECT_EQ(CodeOf(UnwrapPassphraseSlot(slot_, wrong)), StatusCode::kUnauthenticated) << wrong;
  }
}

TEST_F(KeySlotTest, EverySlotHasItsOwnSaltAndNonce) {
  auto other = MakePassphraseSlot(master_, repository_, "correct horse", kFastKdf);
  ASSERT_OK(other);
  EXPECT_NE(other->kdf_salt, slot_.kdf_salt);
  EXPECT_NE(other->wrap_nonce, slot_.wrap_nonce);
  EXPECT_NE(other->wrapped, slot_.wrapped);
}

TEST_F(KeySlotTest, EncodeDecodeRoundTrips) {
  slot_.label = "laptop \"quoted\" ünïcode";
  Bytes encoded = EncodeKeySlot(slot_);
  auto decoded = DecodeKeySlot(encoded);
  ASSERT_OK(decoded);
  EXPECT_EQ(decoded->kind, slot_.kind);
  EXPECT_EQ(decoded->repository, slot_.repository);
  EXPECT_EQ(decoded->created_ns, slot_.created_ns);
  EXPECT_EQ(decoded->host, slot_.host);
  EXPECT_EQ(decoded->user, slot_.user);
  EXPECT_EQ(decoded->label, slot_.label);
  EXPECT_EQ(decoded->kdf.memory_kib, kFastKdf.memory_kib);
  EXPECT_EQ(decoded->kdf.iterations, kFastKdf.iterations);
  EXPECT_EQ(decoded->kdf.parallelism, kFastKdf.parallelism);
  EXPECT_EQ(decoded->kdf_salt, slot_.kdf_salt);
  EXPECT_EQ(decoded->wrap_nonce, slot_.wrap_nonce);
  EXPECT_EQ(decoded->wrapped, slot_.wrapped);
  EXPECT_EQ(EncodeKeySlot(*decoded), encoded);
  auto master = UnwrapPassphraseSlot(*decoded, "correct horse");
  ASSERT_OK(master);
  EXPECT_TRUE(*master == master_);
}

TEST_F(KeySlotTest, JsonFieldsFollowTheFormat) {
  nlohmann::json j = SlotJson();
  EXPECT_EQ(j["version"], 1);
  EXPECT_EQ(j["kind"], "passphrase");
  EXPECT_EQ(j["repository"], repository_.Hex());
  EXPECT_EQ(j["kdf"]["algorithm"], "argon2id");
  EXPECT_EQ(j["kdf"]["version"], 19);
  EXPECT_EQ(j["kdf"]["memory_kib"], kFastKdf.memory_kib);
  EXPECT_EQ(j["kdf"]["iterations"], kFastKdf.iterations);
  EXPECT_EQ(j["kdf"]["parallelism"], 1);
  EXPECT_EQ(j["kdf"]["salt"], ToHex(slot_.kdf_salt));
  EXPECT_EQ(j["wrap"]["algorithm"], "xchacha20-poly1305");
  EXPECT_EQ(j["wrap"]["nonce"], ToHex(slot_.wrap_nonce));
  EXPECT_EQ(j["wrap"]["ciphertext"], ToHex(slot_.wrapped));
}

// The AAD binds the slot's parameters: a slot edited to use cheaper ones, or
// moved to another repository, no longer opens.
TEST_F(KeySlotTest, TamperedParametersAreUnauthenticated) {
  struct Case {
    const char* what;
    std::function<void(nlohmann::json&)> edit;
  };
  const Case cases[] = {
      {"memory", [](auto& j) { j["kdf"]["memory_kib"] = kFastKdf.memory_kib + 1; }},
      {"iterations", [](auto& j) { j["kdf"]["iterations"] = 2; }},
      {"repository",
       [](auto& j) { j["repository"] = TestId<RepositoryId>("other repository").Hex(); }},
      {"salt", [](auto& j) { j["kdf"]["salt"] = std::string(32, '0'); }},
      {"nonce", [](auto& j) { j["wrap"]["nonce"] = std::string(48, '0'); }},
      {"ciphertext",
       [](auto& j) {
         std::string c = j["wrap"]["ciphertext"];
         c[0] = c[0] == '0' ? '1' : '0';
         j["wrap"]["ciphertext"] = c;
       }},
  };
  for (const Case& c : cases) {
    nlohmann::json j = SlotJson();
    c.edit(j);
    auto slot = Decode(j);
    ASSERT_OK(slot) << c.what;
    EXPECT_EQ(CodeOf(UnwrapPassphraseSlot(*slot, "correct horse")), StatusCode::kUnauthenticated)
        << c.what;
  }
  // Labels, host and user are informational and not bound.
  nlohmann::json j = SlotJson();
  j["label"] = "renamed";
  j["host"] = "elsewhere";
  auto slot = Decode(j);
  ASSERT_OK(slot);
  EXPECT_OK(UnwrapPassphraseSlot(*slot, "correct horse"));
}

TEST_F(KeySlotTest, UnknownKindsDecodeWithTheirKind) {
  nlohmann::json j = SlotJson();
  j["kind"] = "mlkem768-x25519";
  j.erase("kdf");
  j.erase("wrap");
  j["recipient"] = "something this version does not know";
  auto slot = Decode(j);
  ASSERT_OK(slot);
  EXPECT_EQ(slot->kind, "mlkem768-x25519");
  EXPECT_EQ(slot->repository, repository_);
  EXPECT_TRUE(slot->wrapped.empty());
  EXPECT_EQ(CodeOf(UnwrapPassphraseSlot(*slot, "correct horse")), StatusCode::kInvalidArgument);
}

TEST_F(KeySlotTest, MalformedSlotsAreDataLoss) {
  for (const char* text : {"", "{", "[]", "null", "\"slot\"", "{}", "\xff"}) {
    EXPECT_EQ(CodeOf(DecodeKeySlot(AsBytes(text))), StatusCode::kDataLoss) << text;
  }
  struct Case {
    const char* what;
    std::function<void(nlohmann::json&)> edit;
  };
  const Case cases[] = {
      {"version 2", [](auto& j) { j["version"] = 2; }},
      {"version float", [](auto& j) { j["version"] = 1e300; }},
      {"no kind", [](auto& j) { j.erase("kind"); }},
      {"no repository", [](auto& j) { j.erase("repository"); }},
      // Regression: a bad id or time was reported as the caller's mistake.
      {"repository not hex", [](auto& j) { j["repository"] = "xyz"; }},
      {"created not a time", [](auto& j) { j["created"] = "soon"; }},
      {"created after 2262", [](auto& j) { j["created"] = "3000-01-01T00:00:00Z"; }},
      {"no kdf", [](auto& j) { j.erase("kdf"); }},
      {"kdf algorithm", [](auto& j) { j["kdf"]["algorithm"] = "scrypt"; }},
      {"kdf version", [](auto& j) { j["kdf"]["version"] = 16; }},
      // Regression: numbers were converted with a plain cast, undefined for
      // fractional or out-of-range values and wrapping for negative ones.
      {"memory a huge float", [](auto& j) { j["kdf"]["memory_kib"] = 1e300; }},
      {"memory negative", [](auto& j) { j["kdf"]["memory_kib"] = -1; }},
      {"memory above 32 bits", [](auto& j) { j["kdf"]["memory_kib"] = uint64_t{1} << 32; }},
      {"iterations fractional", [](auto& j) { j["kdf"]["iterations"] = 1.5; }},
      {"parallelism a string", [](auto& j) { j["kdf"]["parallelism"] = "1"; }},
      {"salt too short", [](auto& j) { j["kdf"]["salt"] = "00"; }},
      {"salt not hex", [](auto& j) { j["kdf"]["salt"] = std::string(32, 'g'); }},
      {"wrap algorithm", [](auto& j) { j["wrap"]["algorithm"] = "aes-256-gcm"; }},
      {"nonce too long", [](auto& j) { j["wrap"]["nonce"] = std::string(50, '0'); }},
      {"ciphertext too short", [](auto& j) { j["wrap"]["ciphertext"] = std::string(94, '0'); }},
      {"host a number", [](auto& j) { j["host"] = 5; }},
  };
  for (const Case& c : cases) {
    nlohmann::json j = SlotJson();
    c.edit(j);
    EXPECT_EQ(CodeOf(Decode(j)), StatusCode::kDataLoss) << c.what;
  }
}

TEST(KeySlotDefaultsTest, DefaultKdfIsStrong) {
  EXPECT_GE(kDefaultArgon2idParams.memory_kib, 19u * 1024);
  EXPECT_GE(kDefaultArgon2idParams.iterations, 2u);
  // At least the memory-time product of RFC 9106's 64 MiB and 3 passes.
  EXPECT_GE(uint64_t{kDefaultArgon2idParams.memory_kib} * kDefaultArgon2idParams.iterations,
            uint64_t{64} * 1024 * 3);
  EXPECT_EQ(kDefaultArgon2idParams.parallelism, 1u);
}

}  // namespace
}  // namespace pxb

namespace pxb {
namespace {

TEST(KeySlotLimitsTest, ForgedArgon2CostIsRefusedBeforeAnyWork) {
  KeySlot slot;
  slot.kind = std::string(kPassphraseSlotKind);
  slot.kdf = {kMaxSlotArgon2MemoryKib + 1, 3, 1};
  slot.kdf_salt.assign(16, std::byte{1});
  slot.wrap_nonce.assign(24, std::byte{2});
  slot.wrapped.assign(48, std::byte{3});
  EXPECT_EQ(DecodeKeySlot(EncodeKeySlot(slot)).status().code(), StatusCode::kDataLoss);
  slot.kdf = {65536, kMaxSlotArgon2Iterations + 1, 1};
  EXPECT_EQ(DecodeKeySlot(EncodeKeySlot(slot)).status().code(), StatusCode::kDataLoss);
  slot.kdf = {65536, kMaxSlotArgon2Iterations, 1};
  EXPECT_TRUE(DecodeKeySlot(EncodeKeySlot(slot)).ok());
}

}  // namespace
}  // namespace pxb
