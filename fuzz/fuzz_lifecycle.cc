// Fuzzes the decoders of sessions, forget records, holds and deletion plans;
// the first byte picks the decoder. A decoded object must re-encode and
// decode to the same object, and re-encoding that gives the same bytes.
#include "format/lifecycle_format.h"
#include "fuzz_common.h"

namespace {

template <typename T>
void RoundTrip(pxb::ByteView payload, pxb::StatusOr<T> (*decode)(pxb::ByteView),
               pxb::Bytes (*encode)(const T&)) {
  auto value = decode(payload);
  if (!value.ok()) {
    FUZZ_CHECK(value.status().code() == pxb::StatusCode::kDataLoss, "error is not data loss");
    return;
  }
  pxb::Bytes again = encode(*value);
  auto back = decode(again);
  FUZZ_CHECK(back.ok(), "a re-encoded object does not decode");
  FUZZ_CHECK(*back == *value, "a re-encoded object decodes differently");
  FUZZ_CHECK(encode(*back) == again, "encoding is not stable");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace pxb;
  if (size == 0) return 0;
  ByteView payload = fuzz::AsView(data + 1, size - 1);
  switch (data[0] % 4) {
    case 0:
      RoundTrip<SessionRecord>(payload, DecodeSessionPayload, EncodeSessionPayload);
      break;
    case 1:
      RoundTrip<ForgetRecord>(payload, DecodeForgetRecordPayload, EncodeForgetRecordPayload);
      break;
    case 2:
      RoundTrip<Hold>(payload, DecodeHoldPayload, EncodeHoldPayload);
      break;
    default:
      RoundTrip<DeletionPlan>(payload, DecodeDeletionPlanPayload, EncodeDeletionPlanPayload);
      break;
  }
  return 0;
}
