#include "core/crypto/aead.h"

#include <gtest/gtest.h>

#include <ostream>
#include <random>
#include <string>
#include <vector>

#include "core/crypto/random.h"
#include "core/crypto/testing/random_data.h"
#include "core/crypto/testing/vectors.h"

namespace pxb {

// Names the parameter in test output.
void PrintTo(AeadAlgorithm algorithm, std::ostream* os) { *os << AeadName(algorithm); }

namespace {

std::unique_ptr<Aead> MustCreate(AeadAlgorithm algorithm, const SecretKey& key) {
  auto aead = Aead::Create(algorithm, key);
  EXPECT_TRUE(aead.ok()) << aead.status().ToString();
  return aead.ok() ? std::move(aead).value() : nullptr;
}

struct WycheproofCounts {
  size_t valid = 0;
  size_t invalid = 0;
  size_t rejected_nonce_size = 0;  // invalid cases whose nonce the API refuses
  size_t skipped = 0;              // groups outside the algorithm's parameters
};

// Runs one Wycheproof AEAD test: a valid case must open to msg and seal to
// ct || tag; an invalid one must not open. Nonces of a size the cipher does
// not take must be refused with kInvalidArgument by both Seal and Open.
void CheckAeadCase(AeadAlgorithm algorithm, const nlohmann::json& test, WycheproofCounts& counts) {
  const int id = test.at("tcId").get<int>();
  const std::string result = test.at("result").get<std::string>();
  SCOPED_TRACE("tcId " + std::to_string(id) + " (" + test.at("comment").get<std::string>() + ")");
  auto key = SecretKey::FromBytes(HexBytes(test.at("key").get<std::string>()));
  ASSERT_TRUE(key.ok());
  std::unique_ptr<Aead> aead = MustCreate(algorithm, *key);
  ASSERT_NE(aead, nullptr);
  Bytes nonce = HexBytes(test.at("iv").get<std::string>());
  Bytes aad = HexBytes(test.at("aad").get<std::string>());
  Bytes msg = HexBytes(test.at("msg").get<std::string>());
  Bytes sealed = HexBytes(test.at("ct").get<std::string>());
  Append(sealed, HexBytes(test.at("tag").get<std::string>()));

  if (nonce.size() != aead->NonceSize()) {
    ASSERT_EQ(result, "invalid");
    Bytes out(sealed.size() >= Aead::kTagSize ? sealed.size() - Aead::kTagSize : 0);
    EXPECT_EQ(aead->Open(nonce, aad, sealed, out).code(), StatusCode::kInvalidArgument);
    Bytes sealed_out(msg.size() + Aead::kTagSize);
    EXPECT_EQ(aead->Seal(nonce, aad, msg, sealed_out).code(), StatusCode::kInvalidArgument);
    ++counts.rejected_nonce_size;
    return;
  }
  ASSERT_GE(sealed.size(), Aead::kTagSize);
  Bytes opened(sealed.size() - Aead::kTagSize);
  Status s = aead->Open(nonce, aad, sealed, opened);
  if (result == "valid") {
    ASSERT_TRUE(s.ok()) << s.ToString();
    EXPECT_EQ(ToHex(opened), ToHex(msg));
    Bytes resealed(msg.size() + Aead::kTagSize);
    ASSERT_TRUE(aead->Seal(nonce, aad, msg, resealed).ok());
    EXPECT_EQ(ToHex(resealed), ToHex(sealed));
    ++counts.valid;
  } else {
    ASSERT_EQ(result, "invalid");
    EXPECT_EQ(s.code(), StatusCode::kDataLoss) << s.ToString();
    EXPECT_EQ(s.message(), "authentication failed");
    EXPECT_EQ(opened, Bytes(opened.size()));
    ++counts.invalid;
  }
}

TEST(AeadWycheproofTest, AesGcm256BitKey96BitIv128BitTag) {
  nlohmann::json file = LoadVectorFile("wycheproof/aes_gcm_test.json");
  ASSERT_FALSE(file.is_null());
  WycheproofCounts counts;
  for (const auto& group : file.at("testGroups")) {
    const bool ours =
        group.at("keySize") == 256 && group.at("ivSize") == 96 && group.at("tagSize") == 128;
    for (const auto& test : group.at("tests")) {
      if (!ours) {
        ++counts.skipped;
        continue;
      }
      CheckAeadCase(AeadAlgorithm::kAes256Gcm, test, counts);
    }
  }
  // 39 valid and 27 invalid (modified tag) cases have AES-256-GCM's parameters.
  EXPECT_EQ(counts.valid, 39u);
  EXPECT_EQ(counts.invalid, 27u);
  EXPECT_EQ(counts.rejected_nonce_size, 0u);
  EXPECT_EQ(counts.valid + counts.invalid + counts.skipped, file.at("numberOfTests").get<size_t>());
  EXPECT_EQ(counts.valid + counts.invalid + counts.skipped, CountWycheproofTests(file));
}

TEST(AeadWycheproofTest, XChaCha20Poly1305EveryCase) {
  nlohmann::json file = LoadVectorFile("wycheproof/xchacha20_poly1305_test.json");
  ASSERT_FALSE(file.is_null());
  WycheproofCounts counts;
  for (const auto& group : file.at("testGroups")) {
    ASSERT_EQ(group.at("keySize"), 256);
    ASSERT_EQ(group.at("tagSize"), 128);
    for (const auto& test : group.at("tests")) {
      CheckAeadCase(AeadAlgorithm::kXChaCha20Poly1305, test, counts);
    }
  }
  // 246 valid, 60 with a modified tag, and 9 with nonces of 0..32 bytes other
  // than 24 that the API refuses.
  EXPECT_EQ(counts.valid, 246u);
  EXPECT_EQ(counts.invalid, 60u);
  EXPECT_EQ(counts.rejected_nonce_size, 9u);
  EXPECT_EQ(counts.skipped, 0u);
  EXPECT_EQ(counts.valid + counts.invalid + counts.rejected_nonce_size,
            file.at("numberOfTests").get<size_t>());
  EXPECT_EQ(counts.valid + counts.invalid + counts.rejected_nonce_size, CountWycheproofTests(file));
}

TEST(AeadNameTest, StableNamesRoundTrip) {
  EXPECT_EQ(AeadName(AeadAlgorithm::kAes256Gcm), "aes-256-gcm");
  EXPECT_EQ(AeadName(AeadAlgorithm::kXChaCha20Poly1305), "xchacha20-poly1305");
  for (AeadAlgorithm a : {AeadAlgorithm::kAes256Gcm, AeadAlgorithm::kXChaCha20Poly1305}) {
    auto parsed = AeadFromName(AeadName(a));
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(*parsed, a);
  }
  for (std::string_view bad : {"", "AES-256-GCM", "aes-128-gcm", "chacha20-poly1305"}) {
    EXPECT_EQ(AeadFromName(bad).status().code(), StatusCode::kFailedPrecondition) << bad;
  }
  EXPECT_EQ(AeadNonceSize(AeadAlgorithm::kAes256Gcm), 12u);
  EXPECT_EQ(AeadNonceSize(AeadAlgorithm::kXChaCha20Poly1305), 24u);
}

TEST(AeadNameTest, CreateRejectsAnUnknownAlgorithmValue) {
  auto aead = Aead::Create(static_cast<AeadAlgorithm>(7), SecretKey::Random());
  EXPECT_EQ(aead.status().code(), StatusCode::kInvalidArgument);
}

TEST(MakeNonceTest, LayoutOfRepositoryFormatSection2) {
  std::array<std::byte, 12> gcm;
  gcm.fill(std::byte{0xee});
  MakeNonce(0x04030201, 0x0c0b0a0908070605, gcm);
  EXPECT_EQ(ToHex(gcm), "0102030405060708090a0b0c");
  std::array<std::byte, 24> xchacha;
  xchacha.fill(std::byte{0xee});
  MakeNonce(2, 0, xchacha);
  EXPECT_EQ(ToHex(xchacha), "020000000000000000000000000000000000000000000000");
  MakeNonce(1, 0xffffffffffffffff, xchacha);
  EXPECT_EQ(ToHex(xchacha), "01000000ffffffffffffffff000000000000000000000000");
}

TEST(MakeNonceDeathTest, BufferShorterThanTwelveBytesAborts) {
  std::array<std::byte, 11> short_nonce;
  EXPECT_DEATH(MakeNonce(0, 0, short_nonce), "MakeNonce");
}

class AeadTest : public ::testing::TestWithParam<AeadAlgorithm> {
 protected:
  void SetUp() override {
    key_ = SecretKey::Random();
    aead_ = MustCreate(GetParam(), key_);
    ASSERT_NE(aead_, nullptr);
    nonce_.resize(aead_->NonceSize());
    MakeNonce(0, 4096, nonce_);
  }

  Bytes Seal(ByteView aad, ByteView plaintext) {
    Bytes out(plaintext.size() + Aead::kTagSize);
    Status s = aead_->Seal(nonce_, aad, plaintext, out);
    EXPECT_TRUE(s.ok()) << s.ToString();
    return out;
  }

  SecretKey key_;
  std::unique_ptr<Aead> aead_;
  Bytes nonce_;
};

TEST_P(AeadTest, AlgorithmAndNonceSize) {
  EXPECT_EQ(aead_->algorithm(), GetParam());
  EXPECT_EQ(aead_->NonceSize(), AeadNonceSize(GetParam()));
}

TEST_P(AeadTest, RoundTripAtManySizes) {
  for (size_t size : {0, 1, 15, 16, 17, 63, 64, 65, 4096, (1 << 20) + 3}) {
    Bytes plaintext = RandomData(size);
    Bytes aad = RandomData(size % 40);
    Bytes sealed = Seal(aad, plaintext);
    Bytes opened(size);
    ASSERT_TRUE(aead_->Open(nonce_, aad, sealed, opened).ok()) << size;
    EXPECT_EQ(opened, plaintext) << size;
    if (size >= 16) {
      EXPECT_NE(Bytes(sealed.begin(), sealed.begin() + 16),
                Bytes(plaintext.begin(), plaintext.begin() + 16));
    }
  }
}

TEST_P(AeadTest, InPlaceSealAndOpen) {
  Bytes plaintext = RandomData(1000);
  Bytes aad = ToBytes("header");
  Bytes expected = Seal(aad, plaintext);
  Bytes buf = plaintext;
  buf.resize(plaintext.size() + Aead::kTagSize);
  ASSERT_TRUE(
      aead_->Seal(nonce_, aad, ByteView(buf).first(plaintext.size()), MutableByteView(buf)).ok());
  EXPECT_EQ(buf, expected);
  ASSERT_TRUE(aead_->Open(nonce_, aad, buf, MutableByteView(buf).first(plaintext.size())).ok());
  EXPECT_EQ(Bytes(buf.begin(), buf.begin() + plaintext.size()), plaintext);
}

TEST_P(AeadTest, TamperingIsDataLossAndZeroesTheOutput) {
  Bytes plaintext = RandomData(300);
  Bytes aad = RandomData(20);
  const Bytes sealed = Seal(aad, plaintext);
  Bytes out(plaintext.size());
  auto expect_data_loss = [&](ByteView nonce, ByteView a, ByteView s, const char* what) {
    std::fill(out.begin(), out.end(), std::byte{0x55});
    Status st = aead_->Open(nonce, a, s, out);
    EXPECT_EQ(st.code(), StatusCode::kDataLoss) << what << ": " << st.ToString();
    EXPECT_EQ(out, Bytes(out.size())) << what;
  };
  for (size_t pos : {size_t{0}, plaintext.size() / 2, plaintext.size() - 1}) {
    Bytes bad = sealed;
    bad[pos] ^= std::byte{0x01};
    expect_data_loss(nonce_, aad, bad, "ciphertext");
  }
  for (size_t pos : {plaintext.size(), sealed.size() - 1}) {
    Bytes bad = sealed;
    bad[pos] ^= std::byte{0x80};
    expect_data_loss(nonce_, aad, bad, "tag");
  }
  Bytes bad_aad = aad;
  bad_aad[3] ^= std::byte{0x01};
  expect_data_loss(nonce_, bad_aad, sealed, "aad");
  expect_data_loss(nonce_, {}, sealed, "missing aad");
  Bytes bad_nonce = nonce_;
  MakeNonce(0, 4097, bad_nonce);
  expect_data_loss(bad_nonce, aad, sealed, "nonce");
  MakeNonce(1, 4096, bad_nonce);
  expect_data_loss(bad_nonce, aad, sealed, "nonce domain");

  std::unique_ptr<Aead> other = MustCreate(GetParam(), SecretKey::Random());
  Status st = other->Open(nonce_, aad, sealed, out);
  EXPECT_EQ(st.code(), StatusCode::kDataLoss) << "wrong key";

  // A failed Open leaves the object usable.
  ASSERT_TRUE(aead_->Open(nonce_, aad, sealed, out).ok());
  EXPECT_EQ(out, plaintext);
}

TEST_P(AeadTest, WrongSizesAreInvalidArgument) {
  Bytes plaintext = RandomData(100);
  const Bytes sealed = Seal({}, plaintext);
  Bytes out_ok(plaintext.size() + Aead::kTagSize);
  Bytes opened_ok(plaintext.size());
  auto invalid = [](const Status& s) { return s.code() == StatusCode::kInvalidArgument; };

  for (size_t n : {size_t{0}, aead_->NonceSize() - 1, aead_->NonceSize() + 1, size_t{12 + 24}}) {
    Bytes nonce(n);
    EXPECT_TRUE(invalid(aead_->Seal(nonce, {}, plaintext, out_ok))) << n;
    EXPECT_TRUE(invalid(aead_->Open(nonce, {}, sealed, opened_ok))) << n;
  }
  for (size_t n : {plaintext.size(), plaintext.size() + Aead::kTagSize - 1,
                   plaintext.size() + Aead::kTagSize + 1}) {
    Bytes out(n);
    EXPECT_TRUE(invalid(aead_->Seal(nonce_, {}, plaintext, out))) << n;
  }
  for (size_t n : {plaintext.size() - 1, plaintext.size() + 1, sealed.size()}) {
    Bytes out(n);
    EXPECT_TRUE(invalid(aead_->Open(nonce_, {}, sealed, out))) << n;
  }
  for (size_t n : {size_t{0}, Aead::kTagSize - 1}) {
    Bytes short_input(n);
    EXPECT_TRUE(invalid(aead_->Open(nonce_, {}, short_input, MutableByteView()))) << n;
  }
  // Exactly a tag: the empty message.
  Bytes empty_sealed = Seal({}, {});
  EXPECT_TRUE(aead_->Open(nonce_, {}, empty_sealed, MutableByteView()).ok());
}

TEST_P(AeadTest, PartialOverlapIsInvalidArgument) {
  Bytes buf = RandomData(300);
  ByteView plaintext = ByteView(buf).subspan(0, 100);
  const size_t sealed_size = plaintext.size() + Aead::kTagSize;
  // Output starting one byte into the plaintext.
  EXPECT_EQ(aead_->Seal(nonce_, {}, plaintext, MutableByteView(buf).subspan(1, sealed_size)).code(),
            StatusCode::kInvalidArgument);
  // Output over the associated data.
  EXPECT_EQ(aead_
                ->Seal(nonce_, ByteView(buf).subspan(150, 20), plaintext,
                       MutableByteView(buf).subspan(120, sealed_size))
                .code(),
            StatusCode::kInvalidArgument);
  // The same buffers without overlap are fine.
  EXPECT_TRUE(aead_
                  ->Seal(nonce_, ByteView(buf).subspan(100, 20), plaintext,
                         MutableByteView(buf).subspan(120, sealed_size))
                  .ok());
  Bytes sealed = Seal({}, RandomData(50));
  Bytes both = sealed;
  both.resize(sealed.size() + 10);
  EXPECT_EQ(aead_
                ->Open(nonce_, {}, ByteView(both).first(sealed.size()),
                       MutableByteView(both).subspan(5, 50))
                .code(),
            StatusCode::kInvalidArgument);
}

TEST_P(AeadTest, ReusedObjectMatchesFreshObjects) {
  // The AES-GCM object keeps one cipher context: interleave Seal and Open
  // with different nonces and check every result against a new object.
  std::mt19937_64 rng(5);
  Bytes nonce(aead_->NonceSize());
  for (uint64_t counter = 0; counter < 50; ++counter) {
    MakeNonce(0, counter * 1000, nonce);
    Bytes plaintext = RandomData(rng() % 3000);
    Bytes aad = RandomData(rng() % 50);
    Bytes sealed(plaintext.size() + Aead::kTagSize);
    ASSERT_TRUE(aead_->Seal(nonce, aad, plaintext, sealed).ok());

    std::unique_ptr<Aead> fresh = MustCreate(GetParam(), key_);
    Bytes fresh_sealed(sealed.size());
    ASSERT_TRUE(fresh->Seal(nonce, aad, plaintext, fresh_sealed).ok());
    ASSERT_EQ(sealed, fresh_sealed) << counter;

    Bytes opened(plaintext.size());
    ASSERT_TRUE(aead_->Open(nonce, aad, sealed, opened).ok()) << counter;
    ASSERT_EQ(opened, plaintext);
    if (counter % 5 == 0) {
      sealed.back() ^= std::byte{1};
      ASSERT_EQ(aead_->Open(nonce, aad, sealed, opened).code(), StatusCode::kDataLoss);
    }
  }
}

TEST_P(AeadTest, NoncesOfDifferentDomainsGiveDifferentCiphertexts) {
  Bytes plaintext = RandomData(64);
  Bytes a = Seal({}, plaintext);
  MakeNonce(1, 4096, nonce_);
  Bytes b = Seal({}, plaintext);
  EXPECT_NE(a, b);
}

INSTANTIATE_TEST_SUITE_P(Ciphers, AeadTest,
                         ::testing::Values(AeadAlgorithm::kAes256Gcm,
                                           AeadAlgorithm::kXChaCha20Poly1305),
                         [](const ::testing::TestParamInfo<AeadAlgorithm>& info) {
                           return info.param == AeadAlgorithm::kAes256Gcm ? "Aes256Gcm"
                                                                          : "XChaCha20Poly1305";
                         });

}  // namespace
}  // namespace pxb
