#include "core/crypto/argon2.h"

#include <gtest/gtest.h>
#include <sodium.h>

#include <random>
#include <string>

#include "core/crypto/random.h"
#include "core/crypto/testing/random_data.h"
#include "core/crypto/testing/vectors.h"

#ifdef PXB_HAVE_LIBARGON2
#include <argon2.h>
#endif

namespace pxb {
namespace {

constexpr char kVectorFile[] = "argon2/argon2id_test_vectors.json";

TEST(Argon2idTest, LibsodiumVerifiesEveryPhcReferenceString) {
  ASSERT_TRUE(InitCrypto().ok());
  nlohmann::json file = LoadVectorFile(kVectorFile);
  ASSERT_FALSE(file.is_null());
  size_t checked = 0;
  for (const auto& test : file.at("phc_reference_hashtests").at("tests")) {
    const std::string encoded = test.at("encoded").get<std::string>();
    const std::string password = test.at("password_ascii").get<std::string>();
    EXPECT_EQ(crypto_pwhash_argon2id_str_verify(encoded.c_str(), password.data(), password.size()),
              0)
        << "id " << test.at("id") << ": " << encoded;
    ++checked;
  }
  EXPECT_EQ(checked, 8u);
}

TEST(Argon2idTest, LibsodiumRejectsAnAlteredPhcString) {
  ASSERT_TRUE(InitCrypto().ok());
  // Case 3 of the reference tests (256 KiB), with the last tag character
  // changed and, separately, with the wrong password.
  std::string encoded =
      "$argon2id$v=19$m=256,t=2,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4";
  ASSERT_EQ(crypto_pwhash_argon2id_str_verify(encoded.c_str(), "password", 8), 0);
  EXPECT_NE(crypto_pwhash_argon2id_str_verify(encoded.c_str(), "passwore", 8), 0);
  encoded.back() = 'A';
  EXPECT_NE(crypto_pwhash_argon2id_str_verify(encoded.c_str(), "password", 8), 0);
}

#ifdef PXB_HAVE_LIBARGON2

TEST(Argon2idTest, ReferenceLibraryReproducesEveryPublishedTag) {
  nlohmann::json file = LoadVectorFile(kVectorFile);
  ASSERT_FALSE(file.is_null());
  size_t checked = 0;
  for (const auto& test : file.at("phc_reference_hashtests").at("tests")) {
    const std::string password = test.at("password_ascii").get<std::string>();
    const std::string salt = test.at("salt_ascii").get<std::string>();
    Bytes tag(32);
    ASSERT_EQ(
        argon2id_hash_raw(test.at("t_cost").get<uint32_t>(), test.at("memory_kib").get<uint32_t>(),
                          test.at("parallelism").get<uint32_t>(), password.data(), password.size(),
                          salt.data(), salt.size(), tag.data(), tag.size()),
        ARGON2_OK);
    EXPECT_EQ(ToHex(tag), test.at("tag").get<std::string>()) << "id " << test.at("id");
    ++checked;
  }

  // RFC 9106 section 5.3: with secret and associated data, p = 4.
  const auto& rfc = file.at("rfc9106_section_5_3");
  Bytes password = HexBytes(rfc.at("password").get<std::string>());
  Bytes salt = HexBytes(rfc.at("salt").get<std::string>());
  Bytes secret = HexBytes(rfc.at("secret").get<std::string>());
  Bytes ad = HexBytes(rfc.at("associated_data").get<std::string>());
  Bytes tag(rfc.at("tag_length").get<size_t>());
  argon2_context ctx{};
  ctx.out = U8(MutableByteView(tag));
  ctx.outlen = static_cast<uint32_t>(tag.size());
  ctx.pwd = U8(MutableByteView(password));
  ctx.pwdlen = static_cast<uint32_t>(password.size());
  ctx.salt = U8(MutableByteView(salt));
  ctx.saltlen = static_cast<uint32_t>(salt.size());
  ctx.secret = U8(MutableByteView(secret));
  ctx.secretlen = static_cast<uint32_t>(secret.size());
  ctx.ad = U8(MutableByteView(ad));
  ctx.adlen = static_cast<uint32_t>(ad.size());
  ctx.t_cost = rfc.at("passes").get<uint32_t>();
  ctx.m_cost = rfc.at("memory_kib").get<uint32_t>();
  ctx.lanes = rfc.at("parallelism").get<uint32_t>();
  ctx.threads = ctx.lanes;
  ctx.version = rfc.at("version").get<uint32_t>();
  ctx.flags = ARGON2_DEFAULT_FLAGS;
  ASSERT_EQ(ctx.version, static_cast<uint32_t>(ARGON2_VERSION_13));
  ASSERT_EQ(argon2_ctx(&ctx, Argon2_id), ARGON2_OK);
  EXPECT_EQ(ToHex(tag), rfc.at("tag").get<std::string>());
  ++checked;
  EXPECT_EQ(checked, 9u);
}

TEST(Argon2idTest, MatchesReferenceLibraryOnRandomInputs) {
  std::mt19937_64 rng(3);
  int checked = 0;
  for (uint32_t memory_kib : {8u, 64u, 256u, 1024u}) {
    for (uint32_t iterations : {1u, 2u, 3u}) {
      std::string passphrase(rng() % 40, '\0');
      RandomBytes(
          MutableByteView(reinterpret_cast<std::byte*>(passphrase.data()), passphrase.size()));
      Bytes salt = RandomData(kArgon2idSaltSize);
      auto ours = Argon2id(passphrase, salt, {memory_kib, iterations, 1});
      ASSERT_TRUE(ours.ok()) << ours.status().ToString();
      Bytes reference(SecretKey::kSize);
      ASSERT_EQ(argon2id_hash_raw(iterations, memory_kib, 1, passphrase.data(), passphrase.size(),
                                  salt.data(), salt.size(), reference.data(), reference.size()),
                ARGON2_OK);
      EXPECT_EQ(ToHex(ours->bytes()), ToHex(reference))
          << "m=" << memory_kib << " t=" << iterations << " passphrase " << passphrase.size()
          << " bytes";
      ++checked;
    }
  }
  EXPECT_EQ(checked, 12);
}

#else

TEST(Argon2idTest, ReferenceLibraryReproducesEveryPublishedTag) {
  GTEST_SKIP() << "libargon2 not found at configure time";
}

#endif  // PXB_HAVE_LIBARGON2

TEST(Argon2idTest, DeterministicAndSensitiveToEveryInput) {
  Bytes salt = RandomData(16);
  const Argon2idParams params{64, 1, 1};
  auto a = Argon2id("correct horse", salt, params);
  auto b = Argon2id("correct horse", salt, params);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_TRUE(*a == *b);
  auto other_pass = Argon2id("correct horsf", salt, params);
  Bytes other_salt_bytes = salt;
  other_salt_bytes[15] ^= std::byte{1};
  auto other_salt = Argon2id("correct horse", other_salt_bytes, params);
  auto other_memory = Argon2id("correct horse", salt, {72, 1, 1});
  auto other_passes = Argon2id("correct horse", salt, {64, 2, 1});
  for (const auto* other : {&other_pass, &other_salt, &other_memory, &other_passes}) {
    ASSERT_TRUE(other->ok());
    EXPECT_FALSE(**other == *a);
  }
  EXPECT_TRUE(Argon2id("", salt, params).ok());
}

TEST(Argon2idTest, RejectsParametersLibsodiumCannotHonour) {
  Bytes salt = RandomData(16);
  auto code = [](const StatusOr<SecretKey>& r) { return r.status().code(); };
  for (size_t n : {0, 8, 15, 17, 32}) {
    Bytes bad_salt(n);
    EXPECT_EQ(code(Argon2id("pw", bad_salt, {64, 1, 1})), StatusCode::kInvalidArgument) << n;
  }
  EXPECT_EQ(code(Argon2id("pw", salt, {64, 1, 2})), StatusCode::kInvalidArgument);
  EXPECT_EQ(code(Argon2id("pw", salt, {64, 1, 0})), StatusCode::kInvalidArgument);
  EXPECT_EQ(code(Argon2id("pw", salt, {64, 0, 1})), StatusCode::kInvalidArgument);
  EXPECT_EQ(code(Argon2id("pw", salt, {7, 1, 1})), StatusCode::kInvalidArgument);
  EXPECT_EQ(code(Argon2id("pw", salt, {0, 1, 1})), StatusCode::kInvalidArgument);
  EXPECT_TRUE(Argon2id("pw", salt, {kArgon2idMinMemoryKib, kArgon2idMinIterations, 1}).ok());
  const Status parallel = Argon2id("pw", salt, {64, 1, 4}).status();
  EXPECT_NE(parallel.message().find("parallelism"), std::string_view::npos) << parallel.ToString();
}

}  // namespace
}  // namespace pxb
