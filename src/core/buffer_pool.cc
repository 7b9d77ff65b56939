#include "core/buffer_pool.h"

#include <utility>

namespace pxb {

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
  buffer.reserve(capacity);
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
