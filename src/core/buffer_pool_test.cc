#include "core/buffer_pool.h"

#include <gtest/gtest.h>

#include <thread>

namespace pxb {
namespace {

TEST(BufferPool, AGivenBufferIsTakenAgainWithItsMemory) {
  BufferPool pool(2);
  Bytes first = pool.Take(1 << 20);
  EXPECT_TRUE(first.empty());
  EXPECT_GE(first.capacity(), 1u << 20);
  first.resize(1000, std::byte{7});
  const std::byte* memory = first.data();
  pool.Give(std::move(first));
  EXPECT_EQ(pool.free_count(), 1u);
  Bytes again = pool.Take(1 << 20);
  EXPECT_TRUE(again.empty());
  EXPECT_EQ(again.data(), memory);
  EXPECT_EQ(pool.free_count(), 0u);
}

TEST(BufferPool, ATooSmallBufferGrows) {
  BufferPool pool(1);
  pool.Give(Bytes(10));
  Bytes taken = pool.Take(4096);
  EXPECT_GE(taken.capacity(), 4096u);
  EXPECT_TRUE(taken.empty());
}

// Shards and chunks vary by a few KiB from one use to the next: a kept
// buffer serves the next one of about the same size without reallocating.
TEST(BufferPool, ALargeBufferIsKeptForTheNextOfAboutTheSameSize) {
  PageBufferPool pool(1);
  PageBytes first = pool.Take((4 << 20) + 96);
  EXPECT_GE(first.capacity(), size_t{5} << 20);
  const std::byte* memory = first.data();
  pool.Give(std::move(first));
  PageBytes larger = pool.Take((4 << 20) + 40000);
  EXPECT_EQ(larger.data(), memory);
}

TEST(BufferPool, KeepsAtMostMaxFree) {
  BufferPool pool(2);
  for (int i = 0; i < 5; ++i) pool.Give(Bytes(100));
  EXPECT_EQ(pool.free_count(), 2u);
  pool.Give(Bytes());  // nothing to keep
  EXPECT_EQ(pool.free_count(), 2u);
}

TEST(BufferPool, ManyThreadsTakeAndGive) {
  BufferPool pool(4);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&pool, t] {
      for (int i = 0; i < 2000; ++i) {
        Bytes b = pool.Take(256);
        b.assign(64, static_cast<std::byte>(t));
        for (std::byte x : b) ASSERT_EQ(x, static_cast<std::byte>(t));
        pool.Give(std::move(b));
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_LE(pool.free_count(), 4u);
}

}  // namespace
}  // namespace pxb
