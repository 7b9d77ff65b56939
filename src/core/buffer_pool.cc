#include "core/buffer_pool.h"

#include <utility>

namespace pxb {

namespace {

// Large buffers are reserved to the next MiB: the sizes asked for (a pack's
// shards, a file's chunks) vary by a few KiB from one use to the next, and a
// kept buffer just too small would be reallocated, its pages faulted in
// again. Reserved pages that are never written cost no memory.
constexpr size_t kLargeBufferStep = size_t{1} << 20;

size_t ReservedCapacity(size_t capacity) {
  if (capacity < kLargeBufferStep) return capacity;
  return (capacity + kLargeBufferStep - 1) / kLargeBufferStep * kLargeBufferStep;
}

}  // namespace

template <class Buffer>
Buffer BasicBufferPool<Buffer>::Take(size_t capacity) {
  Buffer buffer;
  {
    std::lock_guard lock(mu_);
    if (!free_.empty()) {
      buffer = std::move(free_.back());
      free_.pop_back();
    }
  }
  buffer.clear();
  if (buffer.capacity() < capacity) buffer.reserve(ReservedCapacity(capacity));
  return buffer;
}

template <class Buffer>
void BasicBufferPool<Buffer>::Give(Buffer&& buffer) {
  if (buffer.capacity() == 0) return;
  Buffer kept = std::move(buffer);
  std::lock_guard lock(mu_);
  if (free_.size() < max_free_) free_.push_back(std::move(kept));
  // Otherwise `kept` is freed on return, after the lock is released.
}

template <class Buffer>
size_t BasicBufferPool<Buffer>::free_count() const {
  std::lock_guard lock(mu_);
  return free_.size();
}

template class BasicBufferPool<Bytes>;
template class BasicBufferPool<PageBytes>;

}  // namespace pxb
