#include "core/task_pool.h"

#include <algorithm>

namespace pxb {

size_t TaskPool::ThreadsFor(size_t threads) {
  return threads ? threads : std::max(1u, std::thread::hardware_concurrency());
}

size_t TaskPool::ThreadsForReading(size_t threads) { return threads ? threads : ThreadsFor(0) + 1; }

TaskPool::TaskPool(size_t threads, size_t max_queued)
    : max_queued_(std::max<size_t>(1, max_queued)), refill_at_(max_queued_ / 2) {
  threads = ThreadsFor(threads);
  workers_.reserve(threads);
  for (size_t i = 0; i < threads; ++i) workers_.emplace_back([this] { WorkerLoop(); });
}

TaskPool::~TaskPool() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  not_empty_.notify_all();
  for (auto& t : workers_) t.join();
}

bool TaskPool::OnWorkerThread() const {
  const auto self = std::this_thread::get_id();
  return std::any_of(workers_.begin(), workers_.end(),
                     [&](const std::thread& t) { return t.get_id() == self; });
}

void TaskPool::Enqueue(std::function<void()> job) {
  {
    std::unique_lock lock(mu_);
    if (queue_.size() >= max_queued_ && OnWorkerThread()) {
      lock.unlock();
      job();
      return;
    }
    if (queue_.size() >= max_queued_) {
      // Woken once half the queue is free, a producer queues several tasks
      // per wake-up instead of one per task a worker takes.
      producers_waiting_++;
      not_full_.wait(lock, [&] { return queue_.size() <= refill_at_; });
      producers_waiting_--;
    }
    queue_.push_back(std::move(job));
  }
  not_empty_.notify_one();
}

void TaskPool::WorkerLoop() {
  for (;;) {
    std::function<void()> job;
    bool wake_producers = false;
    {
      std::unique_lock lock(mu_);
      not_empty_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;
      job = std::move(queue_.front());
      queue_.pop_front();
      wake_producers = producers_waiting_ > 0 && queue_.size() == refill_at_;
    }
    if (wake_producers) not_full_.notify_all();
    job();
  }
}

}  // namespace pxb
