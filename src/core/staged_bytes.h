// StagedBytes: an object assembled at offsets somewhere other than memory
// (a temporary file), so that building a large object (a 16 MiB pack)
// holds little of it resident. Backends that can stage an object
// (storage/backend.h, Backend::Stage) add how it is stored once complete.
//
//   PXB_RETURN_IF_ERROR(staged.WriteAt(offset, sealed_bytes));
//
// Thread-safety: WriteAt may run concurrently on disjoint ranges.
#pragma once

#include <cstdint>

#include "pxb/bytes.h"
#include "pxb/status.h"

namespace pxb {

class StagedBytes {
 public:
  // Writes at offsets that are multiples of this, from memory aligned to
  // it and of a length that is one too, may bypass the page cache.
  static constexpr size_t kDirectAlignment = 4096;

  virtual ~StagedBytes() = default;

  // Writes `bytes` at `offset`; a gap left before it reads back as zeros.
  virtual Status WriteAt(uint64_t offset, ByteView bytes) = 0;
};

}  // namespace pxb
