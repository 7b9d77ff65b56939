// Index objects: which blobs each pack holds and where. Implements
// doc/repository_format.md section 6 (the payload inside a sealed envelope
// of kind index).
//
//   Bytes payload = EncodeIndexPayload(file);
//   PXB_ASSIGN_OR_RETURN(IndexFile back, DecodeIndexPayload(payload));
//
// Thread-safety: free functions on values, safe to call concurrently.
#pragma once

#include <vector>

#include "format/crypto_format.h"
#include "format/pack_format.h"
#include "pxb/ids.h"

namespace pxb {

// Version 2, written when a pack holds dictionaries, allows dictionary
// entries and dictionary numbers (as in pack headers); version 3, written
// when a pack holds frames, frame and member entries too.
inline constexpr uint8_t kIndexVersion = 1;
inline constexpr uint8_t kIndexVersionDictionaries = 2;
inline constexpr uint8_t kIndexVersionFrames = 3;

struct IndexedPack {
  PackId id;
  uint64_t length = 0;  // pack object size
  Salt salt{};
  std::vector<PackBlob> blobs;
};

struct IndexFile {
  std::vector<IndexId> superseded;
  std::vector<IndexedPack> packs;
};

Bytes EncodeIndexPayload(const IndexFile& file);

// kDataLoss on any malformed or inconsistent input (blobs overlapping or
// beyond the pack length, unknown types or flags, truncation, trailing bytes).
StatusOr<IndexFile> DecodeIndexPayload(ByteView payload);

}  // namespace pxb
