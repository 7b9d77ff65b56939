#include "core/task_pool.h"

#include <gtest/gtest.h>

#include <atomic>

namespace pxb {
namespace {

TEST(TaskPoolTest, RunsEveryTaskAndReturnsResults) {
  TaskPool pool(2, 4);
  std::vector<std::future<int>> results;
  for (int i = 0; i < 100; ++i) results.push_back(pool.Submit([i] { return i * i; }));
  for (int i = 0; i < 100; ++i) EXPECT_EQ(results[i].get(), i * i);
}

TEST(TaskPoolTest, QueueBoundLimitsTasksInFlight) {
  TaskPool pool(1, 2);
  std::atomic<int> started{0};
  std::promise<void> gate;
  std::shared_future<void> open = gate.get_future().share();
  auto first = pool.Submit([&] {
    started++;
    open.wait();
  });
  // The worker holds one task; two more fit in the queue.
  auto second = pool.Submit([&] { started++; });
  auto third = pool.Submit([&] { started++; });
  std::atomic<bool> fourth_submitted{false};
  std::thread producer([&] {
    auto f = pool.Submit([&] { started++; });
    fourth_submitted = true;
    f.wait();
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_FALSE(fourth_submitted.load());
  gate.set_value();
  producer.join();
  first.wait();
  second.wait();
  third.wait();
  EXPECT_EQ(started.load(), 4);
}

}  // namespace
}  // namespace pxb
