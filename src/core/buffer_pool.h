// BufferPool: keeps a few large byte buffers for reuse, so that their pages
// stay mapped. A buffer above glibc's mmap threshold (256 KiB in the CLI) is
// a fresh mapping each time it is allocated: every page faults in zeroed
// and the unmap shoots down the other threads' TLB entries. Pack and chunk
// buffers pass through a backup hundreds of times a second.
//
//   BufferPool pool(/*max_free=*/4);
//   Bytes chunk = pool.Take(4 << 20);   // empty, capacity >= 4 MiB
//   chunk.assign(data.begin(), data.end());
//   ...
//   pool.Give(std::move(chunk));        // kept for the next Take
//
// PageBufferPool keeps PageBytes (page-aligned, for packs written with
// O_DIRECT) the same way.
//
// Thread-safety: all members may be called concurrently.
#pragma once

#include <cstddef>
#include <mutex>
#include <vector>

#include "pxb/bytes.h"

namespace pxb {

template <class Buffer>
class BasicBufferPool {
 public:
  // Keeps at most `max_free` buffers between a Give and the next Take.
  explicit BasicBufferPool(size_t max_free) : max_free_(max_free) {}

  // An empty buffer with at least `capacity` reserved: a kept one if any
  // (reallocated if it is too small), else a new one; one of 1 MiB or more
  // is reserved to the next MiB, so that it fits the next request of about
  // the same size. Reserved pages that are never written cost no memory.
  Buffer Take(size_t capacity);
  // Returns a buffer for reuse; freed if the pool is full.
  void Give(Buffer&& buffer);

  size_t free_count() const;

 private:
  const size_t max_free_;
  mutable std::mutex mu_;
  std::vector<Buffer> free_;
};

extern template class BasicBufferPool<Bytes>;
extern template class BasicBufferPool<PageBytes>;
using BufferPool = BasicBufferPool<Bytes>;
using PageBufferPool = BasicBufferPool<PageBytes>;

}  // namespace pxb
