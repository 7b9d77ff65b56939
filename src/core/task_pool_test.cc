#include "core/task_pool.h"

#include <gtest/gtest.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

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

// Whether thread `tid` of this process is asleep (state S in its stat).
bool Sleeping(pid_t tid) {
  std::ifstream stat("/proc/self/task/" + std::to_string(tid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  const size_t end_of_name = text.rfind(')');
  return end_of_name != std::string::npos && end_of_name + 2 < text.size() &&
         text[end_of_name + 2] == 'S';
}

TEST(TaskPoolTest, AProducerWaitingOnAFullQueueResumesOnceHalfOfItIsFree) {
  TaskPool pool(1, 4);
  // Each task waits for its own gate, so the test frees one slot at a time.
  std::vector<std::promise<void>> gates(6);
  std::vector<std::future<void>> done;
  std::promise<void> first_taken;
  done.push_back(pool.Submit([&first_taken, open = gates[0].get_future().share()] {
    first_taken.set_value();
    open.wait();
  }));
  first_taken.get_future().wait();
  for (int i = 1; i < 5; ++i) {
    done.push_back(pool.Submit([open = gates[i].get_future().share()] { open.wait(); }));
  }
  // The worker holds task 0; tasks 1-4 fill the queue.
  std::future<void> sixth;
  std::atomic<bool> sixth_submitted{false};
  std::atomic<pid_t> producer_tid{0};
  std::thread producer([&] {
    producer_tid = static_cast<pid_t>(::syscall(SYS_gettid));
    sixth = pool.Submit([open = gates[5].get_future().share()] { open.wait(); });
    sixth_submitted = true;
  });
  // Only a producer that found the queue full waits: let it get there.
  while (producer_tid == 0 || !Sleeping(producer_tid)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  gates[0].set_value();
  done[0].wait();  // the worker takes task 1: one slot of four is free
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_FALSE(sixth_submitted.load());
  gates[1].set_value();  // the worker takes task 2: half the queue is free
  producer.join();
  EXPECT_TRUE(sixth_submitted.load());
  for (int i = 2; i < 6; ++i) gates[i].set_value();
  for (auto& f : done) f.wait();
  sixth.wait();
}

}  // namespace
}  // namespace pxb
