// Fuzzes DecodeSnapshotPayload. A decoded snapshot must re-encode and decode
// to the same snapshot, and re-encoding that gives the same bytes.
#include "format/snapshot_format.h"
#include "format/testing/format_testing.h"
#include "fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace pxb;
  auto snapshot = DecodeSnapshotPayload(fuzz::AsView(data, size));
  if (!snapshot.ok()) {
    FUZZ_CHECK(snapshot.status().code() == StatusCode::kDataLoss, "error is not data loss");
    return 0;
  }
  Bytes again = EncodeSnapshotPayload(*snapshot);
  auto back = DecodeSnapshotPayload(again);
  FUZZ_CHECK(back.ok(), "a re-encoded snapshot does not decode");
  FUZZ_CHECK(*back == *snapshot, "a re-encoded snapshot decodes differently");
  FUZZ_CHECK(EncodeSnapshotPayload(*back) == again, "encoding is not stable");
  return 0;
}
