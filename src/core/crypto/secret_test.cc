#include "core/crypto/secret.h"

#include <gtest/gtest.h>

#include <new>

namespace pxb {
namespace {

TEST(SecretKeyTest, DefaultIsAllZero) {
  SecretKey key;
  EXPECT_EQ(ToBytes(key.bytes()), Bytes(SecretKey::kSize));
}

TEST(SecretKeyTest, FromBytesNeedsExactlyThirtyTwoBytes) {
  for (size_t size : {0, 1, 16, 31, 33, 64}) {
    Bytes raw(size, std::byte{7});
    auto key = SecretKey::FromBytes(raw);
    ASSERT_FALSE(key.ok()) << size;
    EXPECT_EQ(key.status().code(), StatusCode::kInvalidArgument);
  }
  Bytes raw(32);
  for (size_t i = 0; i < raw.size(); ++i) raw[i] = static_cast<std::byte>(i);
  auto key = SecretKey::FromBytes(raw);
  ASSERT_TRUE(key.ok());
  EXPECT_EQ(ToBytes(key->bytes()), raw);
}

TEST(SecretKeyTest, RandomKeysDiffer) {
  SecretKey a = SecretKey::Random();
  SecretKey b = SecretKey::Random();
  EXPECT_FALSE(a == b);
  EXPECT_FALSE(a == SecretKey());
}

TEST(SecretKeyTest, CopiesAreIndependent) {
  SecretKey a = SecretKey::Random();
  SecretKey b = a;
  EXPECT_TRUE(a == b);
  b.mutable_bytes()[0] ^= std::byte{1};
  EXPECT_FALSE(a == b);
  b = a;
  EXPECT_TRUE(a == b);
}

TEST(SecretKeyTest, DestructorWipesTheBytes) {
  alignas(SecretKey) std::byte storage[sizeof(SecretKey)];
  SecretKey* key = new (storage) SecretKey(SecretKey::Random());
  ASSERT_NE(ToBytes(key->bytes()), Bytes(SecretKey::kSize));
  key->~SecretKey();
  for (std::byte b : storage) EXPECT_EQ(b, std::byte{0});
}

}  // namespace
}  // namespace pxb
