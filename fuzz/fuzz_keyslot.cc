// Fuzzes DecodeKeySlot. Argon2id is never run: fuzzed parameters could ask
// for any amount of memory and time. A decoded slot must re-encode and
// decode to the same slot.
#include "format/keyslot_format.h"
#include "fuzz_common.h"

namespace {

bool SameSlot(const pxb::KeySlot& a, const pxb::KeySlot& b) {
  return a.kind == b.kind && a.repository == b.repository && a.created_ns == b.created_ns &&
         a.host == b.host && a.user == b.user && a.label == b.label &&
         a.kdf.memory_kib == b.kdf.memory_kib && a.kdf.iterations == b.kdf.iterations &&
         a.kdf.parallelism == b.kdf.parallelism && a.kdf_salt == b.kdf_salt &&
         a.wrap_nonce == b.wrap_nonce && a.wrapped == b.wrapped;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace pxb;
  auto slot = DecodeKeySlot(fuzz::AsView(data, size));
  if (!slot.ok()) {
    FUZZ_CHECK(slot.status().code() == StatusCode::kDataLoss, "error is not data loss");
    return 0;
  }
  if (slot->kind == kPassphraseSlotKind) {
    FUZZ_CHECK(
        slot->kdf_salt.size() == 16 && slot->wrap_nonce.size() == 24 && slot->wrapped.size() == 48,
        "passphrase slot with fields of the wrong size");
  }
  Bytes again = EncodeKeySlot(*slot);
  auto back = DecodeKeySlot(again);
  FUZZ_CHECK(back.ok(), "a re-encoded slot does not decode");
  FUZZ_CHECK(SameSlot(*back, *slot), "a re-encoded slot decodes differently");
  return 0;
}
