#include "core/buffer_pool.h"

#include <utility>

namespace pxb {

Bytes BufferPool::Take(size_t capacity) {
  Bytes buffer;
  {
    std::lock_guard lock(mu_);
    if (!free_.empty()) {
      buffer = std::move(free_.back());
      free_.pop_back();
    }
  }
  buffer.clear();
  buffer.reserve(capacity);
  return buffer;
}

void BufferPool::Give(Bytes&& buffer) {
  if (buffer.capacity() == 0) return;
  Bytes kept = std::move(buffer);
  std::lock_guard lock(mu_);
  if (free_.size() < max_free_) free_.push_back(std::move(kept));
  // Otherwise `kept` is freed on return, after the lock is released.
}

size_t BufferPool::free_count() const {
  std::lock_guard lock(mu_);
  return free_.size();
}

}  // namespace pxb
