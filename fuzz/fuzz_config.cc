// Fuzzes the config readers: DecodeConfigHeader and DecodeConfig (fixed key)
// on a whole fuzzed object, and the JSON body parser behind the AEAD by
// sealing a fuzzed body with the fixed key. A decoded config must re-encode
// and decode to the same config.
#include "core/coding.h"
#include "core/crypto/random.h"
#include "format/config_format.h"
#include "format/envelope_format.h"
#include "fuzz_common.h"

namespace pxb {
namespace {

void CheckRoundTrip(const RepositoryConfig& c) {
  auto again = EncodeConfig(c, fuzz::DataKey());
  FUZZ_CHECK(again.ok(), "a decoded config does not encode");
  auto back = DecodeConfig(*again, fuzz::DataKey());
  FUZZ_CHECK(back.ok(), "a re-encoded config does not decode");
  FUZZ_CHECK(back->id == c.id && back->format_version == c.format_version &&
                 back->created_ns == c.created_ns && back->cipher == c.cipher &&
                 back->chunker.min_size == c.chunker.min_size &&
                 back->chunker.avg_size == c.chunker.avg_size &&
                 back->chunker.max_size == c.chunker.max_size &&
                 back->chunker.normalization == c.chunker.normalization &&
                 back->pack_size == c.pack_size,
             "a re-encoded config decodes differently");
}

void CheckError(const Status& s) {
  FUZZ_CHECK(s.code() == StatusCode::kDataLoss || s.code() == StatusCode::kFailedPrecondition,
             "error is neither data loss nor failed precondition");
}

}  // namespace
}  // namespace pxb

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  FUZZ_CHECK(pxb::InitCrypto().ok(), "crypto initialisation failed");
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace pxb;
  if (size < 1) return 0;
  ByteView rest = fuzz::AsView(data + 1, size - 1);
  Bytes object;
  if (fuzz::ModeOf(data[0]) == fuzz::kConfigModeBody) {
    auto body = SealEnvelope(EnvelopeKind::kConfig, fuzz::CipherOf(data[0]), fuzz::DataKey(), rest);
    FUZZ_CHECK(body.ok(), "seal failed");
    ByteWriter w(object);
    w.PutRaw(kConfigMagic);
    w.PutLe32(kFormatVersion);
    w.PutRaw(fuzz::ConfigId().bytes());
    w.PutRaw(*body);
  } else {
    object = ToBytes(rest);
    auto header = DecodeConfigHeader(object);
    if (!header.ok()) CheckError(header.status());
  }
  auto config = DecodeConfig(object, fuzz::DataKey());
  if (!config.ok()) {
    CheckError(config.status());
    return 0;
  }
  CheckRoundTrip(*config);
  return 0;
}
