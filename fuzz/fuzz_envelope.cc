// Fuzzes OpenEnvelope with the fixed key (every kind and cipher), the zstd
// reader behind it (ZstdDecompressAll), and SealEnvelope/OpenEnvelope round
// trips of fuzzed payloads.
#include <cstring>

#include "core/compress/zstd_codec.h"
#include "core/crypto/random.h"
#include "format/envelope_format.h"
#include "fuzz_common.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  FUZZ_CHECK(pxb::InitCrypto().ok(), "crypto initialisation failed");
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace pxb;
  if (size < 2) return 0;
  const AeadAlgorithm alg = fuzz::CipherOf(data[0]);
  // Kinds 0 and 4 are not kinds: the decoder must refuse them.
  const auto kind = static_cast<EnvelopeKind>(data[1] % 5);
  ByteView rest = fuzz::AsView(data + 2, size - 2);
  switch (fuzz::ModeOf(data[0]) % 3) {
    case fuzz::kEnvelopeModeOpen: {
      auto payload = OpenEnvelope(kind, alg, fuzz::DataKey(), rest);
      if (!payload.ok()) {
        FUZZ_CHECK(payload.status().code() == StatusCode::kDataLoss, "error is not data loss");
      }
      break;
    }
    case fuzz::kEnvelopeModeZstd: {
      // A small limit: what matters is that bad frames fail, not their size.
      constexpr size_t kLimit = 1 << 20;
      auto out = ZstdDecompressAll(rest, kLimit);
      if (out.ok()) {
        FUZZ_CHECK(out->size() <= kLimit, "decompressed past the limit");
      } else {
        FUZZ_CHECK(out.status().code() == StatusCode::kDataLoss ||
                       out.status().code() == StatusCode::kResourceExhausted,
                   "error is not data loss");
      }
      break;
    }
    case fuzz::kEnvelopeModeSealOpen: {
      if (data[1] % 5 == 0 || data[1] % 5 == 4) break;
      auto sealed = SealEnvelope(kind, alg, fuzz::DataKey(), rest);
      FUZZ_CHECK(sealed.ok(), "seal failed");
      auto opened = OpenEnvelope(kind, alg, fuzz::DataKey(), *sealed);
      FUZZ_CHECK(opened.ok(), "a sealed envelope does not open");
      FUZZ_CHECK(opened->size() == rest.size() &&
                     (rest.empty() || std::memcmp(opened->data(), rest.data(), rest.size()) == 0),
                 "round trip changed the payload");
      break;
    }
  }
  return 0;
}
