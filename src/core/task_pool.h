// A fixed pool of worker threads with a bounded queue.
//
// Submit() blocks while the queue is full, which is what bounds the memory a
// producer (the backup walker) can have in flight, until half of it is free
// again: the producer then queues several tasks per wake-up rather than one
// per task taken. Results come back through std::future.
//
//   TaskPool pool(2, 16);
//   std::future<int> f = pool.Submit([] { return 42; });
//
// Thread-safety: Submit() may be called from any thread, including workers
// (a worker that submits to a full queue runs the task itself). A task must
// not wait for another task of the same pool that may still be queued.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace pxb {

class TaskPool {
 public:
  // The threads a pool asked for `threads` runs: one per hardware thread
  // for 0, at least one.
  static size_t ThreadsFor(size_t threads);
  // The same for work that also waits for reads from storage (restore,
  // check): one more than the hardware threads for 0, so that a core is not
  // idle while one thread waits for its read.
  static size_t ThreadsForReading(size_t threads);

  // threads == 0 means one per hardware thread.
  TaskPool(size_t threads, size_t max_queued);
  ~TaskPool();  // finishes queued tasks, then joins
  TaskPool(const TaskPool&) = delete;
  TaskPool& operator=(const TaskPool&) = delete;

  template <typename Fn>
  auto Submit(Fn&& fn) -> std::future<std::invoke_result_t<Fn>> {
    using R = std::invoke_result_t<Fn>;
    auto task = std::make_shared<std::packaged_task<R()>>(std::forward<Fn>(fn));
    std::future<R> result = task->get_future();
    Enqueue([task] { (*task)(); });
    return result;
  }

  size_t thread_count() const { return workers_.size(); }

 private:
  void Enqueue(std::function<void()> job);
  void WorkerLoop();
  bool OnWorkerThread() const;

  const size_t max_queued_;
  const size_t refill_at_;  // a full queue takes tasks again from this size down
  std::mutex mu_;
  std::condition_variable not_empty_;
  std::condition_variable not_full_;
  std::deque<std::function<void()>> queue_;
  size_t producers_waiting_ = 0;  // guarded by mu_
  bool stopping_ = false;
  std::vector<std::thread> workers_;
};

}  // namespace pxb
