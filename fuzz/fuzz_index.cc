// Fuzzes DecodeIndexPayload (the plaintext inside an index envelope). What
// it accepts must be consistent (blobs inside their pack, in order, not
// overlapping) and re-encode to no more bytes, identical when as long.
#include <cstring>

#include "format/index_format.h"
#include "format/testing/format_testing.h"
#include "fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace pxb;
  auto file = DecodeIndexPayload(fuzz::AsView(data, size));
  if (!file.ok()) {
    FUZZ_CHECK(file.status().code() == StatusCode::kDataLoss, "decode error is not data loss");
    return 0;
  }
  for (const IndexedPack& pack : file->packs) {
    FUZZ_CHECK(pack.length <= kMaxPackSize, "pack longer than the limit");
    uint64_t end = kPackPrefixSize;
    fuzz::FrameMembersCheck frames;
    for (const PackBlob& b : pack.blobs) {
      FUZZ_CHECK(b.raw_length <= kMaxBlobRawLength, "raw length above the limit");
      if (frames.Member(b)) continue;
      FUZZ_CHECK(b.offset >= end, "blobs overlap or start inside the prefix");
      FUZZ_CHECK(b.stored_length >= Aead::kTagSize, "blob shorter than its tag");
      end = uint64_t{b.offset} + b.stored_length;
      FUZZ_CHECK(end <= pack.length, "blob past the end of its pack");
    }
    frames.Finish();
  }
  Bytes again = EncodeIndexPayload(*file);
  FUZZ_CHECK(again.size() <= size, "re-encoding is longer than the input");
  if (again.size() == size) {
    FUZZ_CHECK(std::memcmp(again.data(), data, size) == 0, "re-encoding differs");
  }
  auto back = DecodeIndexPayload(again);
  FUZZ_CHECK(back.ok() && *back == *file, "re-encoded index decodes differently");
  return 0;
}
