#include "core/crypto/random.h"

#include <gtest/gtest.h>

#include <array>
#include <bitset>
#include <thread>
#include <vector>

namespace pxb {
namespace {

TEST(RandomTest, InitCryptoIsIdempotent) {
  ASSERT_TRUE(InitCrypto().ok());
  EXPECT_TRUE(InitCrypto().ok());
}

TEST(RandomTest, FillsWholeBufferWithFreshBytes) {
  std::array<std::byte, 64> a{}, b{};
  RandomBytes(a);
  RandomBytes(b);
  EXPECT_NE(a, b);
  EXPECT_NE(a, (std::array<std::byte, 64>{}));
}

TEST(RandomTest, EmptyBufferIsFine) { RandomBytes(MutableByteView()); }

TEST(RandomTest, EveryByteValueAppearsInALargeDraw) {
  // 64 KiB of uniform bytes miss a given value with probability e^-256.
  Bytes buf(65536);
  RandomBytes(buf);
  std::bitset<256> seen;
  for (std::byte b : buf) seen.set(static_cast<uint8_t>(b));
  EXPECT_TRUE(seen.all());
  // The last bytes are written too.
  Bytes tail(buf.end() - 32, buf.end());
  EXPECT_NE(tail, Bytes(32));
}

TEST(RandomTest, ConcurrentCallersGetDistinctBytes) {
  constexpr int kThreads = 4;
  std::vector<std::array<std::byte, 32>> out(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&out, i] {
      for (int round = 0; round < 100; ++round) RandomBytes(out[i]);
    });
  }
  for (auto& t : threads) t.join();
  for (int i = 0; i < kThreads; ++i) {
    for (int j = i + 1; j < kThreads; ++j) EXPECT_NE(out[i], out[j]);
  }
}

}  // namespace
}  // namespace pxb
