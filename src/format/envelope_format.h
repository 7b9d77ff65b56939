// The sealed object envelope that wraps indexes, snapshots and the config
// body. Implements doc/repository_format.md section 2.1.
//
// The payload is zstd-compressed, then encrypted under a key derived from
// the data key and a fresh random salt; the header is authenticated as AAD.
//
//   PXB_ASSIGN_OR_RETURN(Bytes object, SealEnvelope(EnvelopeKind::kIndex, alg, key, payload));
//   PXB_ASSIGN_OR_RETURN(Bytes payload, OpenEnvelope(EnvelopeKind::kIndex, alg, key, object));
//
// Thread-safety: free functions, safe to call concurrently.
#pragma once

#include <cstdint>
#include <string_view>

#include "core/crypto/aead.h"
#include "core/crypto/secret.h"
#include "pxb/bytes.h"
#include "pxb/status.h"

namespace pxb {

inline constexpr std::string_view kEnvelopeMagic = "PXBO";
inline constexpr uint8_t kEnvelopeVersion = 1;
inline constexpr size_t kEnvelopeHeaderSize = 40;  // magic, version, kind, reserved, salt
// Decoded payloads larger than this are refused (a corrupt length must not
// make us allocate without bound).
inline constexpr size_t kMaxEnvelopePayload = size_t{1} << 30;

enum class EnvelopeKind : uint8_t {
  kConfig = 1,
  kIndex = 2,
  kSnapshot = 3,
  kSession = 4,
  kForgetRecord = 5,
  kHold = 6,
  kDeletionPlan = 7,
};

std::string_view EnvelopeKindName(EnvelopeKind kind);

// Returns the sealed object. Fails only on internal crypto or compression errors.
StatusOr<Bytes> SealEnvelope(EnvelopeKind kind, AeadAlgorithm algorithm, const SecretKey& data_key,
                             ByteView payload);

// Returns the payload. kDataLoss for a wrong magic, version or kind, a failed
// authentication, or a corrupt compressed payload.
StatusOr<Bytes> OpenEnvelope(EnvelopeKind kind, AeadAlgorithm algorithm, const SecretKey& data_key,
                             ByteView object);

}  // namespace pxb
