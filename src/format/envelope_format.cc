#include "format/envelope_format.h"

#include "core/coding.h"
#include "core/compress/zstd_codec.h"
#include "format/crypto_format.h"

namespace pxb {

std::string_view EnvelopeKindName(EnvelopeKind kind) {
  switch (kind) {
    case EnvelopeKind::kConfig:
      return "config";
    case EnvelopeKind::kIndex:
      return "index";
    case EnvelopeKind::kSnapshot:
      return "snapshot";
    case EnvelopeKind::kSession:
      return "session";
    case EnvelopeKind::kForgetRecord:
      return "forget record";
    case EnvelopeKind::kHold:
      return "hold";
    case EnvelopeKind::kDeletionPlan:
      return "deletion plan";
  }
  return "unknown";
}

StatusOr<Bytes> SealEnvelope(EnvelopeKind kind, AeadAlgorithm algorithm, const SecretKey& data_key,
                             ByteView payload) {
  PXB_ASSIGN_OR_RETURN(Bytes compressed, ZstdCompressAll(payload, 3));
  Salt salt = RandomSalt();
  Bytes out;
  out.reserve(kEnvelopeHeaderSize + compressed.size() + Aead::kTagSize);
  ByteWriter w(out);
  w.PutRaw(kEnvelopeMagic);
  w.PutU8(kEnvelopeVersion);
  w.PutU8(static_cast<uint8_t>(kind));
  w.PutU8(0);
  w.PutU8(0);
  w.PutRaw(salt);
  PXB_ASSIGN_OR_RETURN(SecretKey key, DeriveObjectKey(data_key, salt));
  PXB_ASSIGN_OR_RETURN(auto aead, Aead::Create(algorithm, key));
  std::array<std::byte, 24> nonce_buf{};
  MutableByteView nonce(nonce_buf.data(), aead->NonceSize());
  MakeNonce(kNonceDomainEnvelope, 0, nonce);
  out.resize(kEnvelopeHeaderSize + compressed.size() + Aead::kTagSize);
  PXB_RETURN_IF_ERROR(aead->Seal(nonce, ByteView(out.data(), kEnvelopeHeaderSize), compressed,
                                 MutableByteView(out).subspan(kEnvelopeHeaderSize)));
  return out;
}

StatusOr<Bytes> OpenEnvelope(EnvelopeKind kind, AeadAlgorithm algorithm, const SecretKey& data_key,
                             ByteView object) {
  const std::string what(EnvelopeKindName(kind));
  if (object.size() < kEnvelopeHeaderSize + Aead::kTagSize) {
    return DataLossError(what + " object too short (" + std::to_string(object.size()) + " bytes)");
  }
  if (AsChars(object.first(4)) != kEnvelopeMagic) {
    return DataLossError(what + " object has a wrong magic");
  }
  auto version = static_cast<uint8_t>(object[4]);
  if (version != kEnvelopeVersion) {
    return DataLossError(what + " envelope version " + std::to_string(version) +
                         " is not supported (this program knows version 1)");
  }
  auto stored_kind = static_cast<uint8_t>(object[5]);
  if (stored_kind != static_cast<uint8_t>(kind)) {
    return DataLossError("expected a " + what + " object, found kind " +
                         std::to_string(stored_kind));
  }
  PXB_ASSIGN_OR_RETURN(SecretKey key, DeriveObjectKey(data_key, object.subspan(8, kSaltSize)));
  PXB_ASSIGN_OR_RETURN(auto aead, Aead::Create(algorithm, key));
  std::array<std::byte, 24> nonce_buf{};
  MutableByteView nonce(nonce_buf.data(), aead->NonceSize());
  MakeNonce(kNonceDomainEnvelope, 0, nonce);
  ByteView sealed = object.subspan(kEnvelopeHeaderSize);
  Bytes compressed(sealed.size() - Aead::kTagSize);
  PXB_RETURN_IF_ERROR_CTX(aead->Open(nonce, object.first(kEnvelopeHeaderSize), sealed, compressed),
                          what);
  auto payload = ZstdDecompressAll(compressed, kMaxEnvelopePayload);
  if (!payload.ok()) return payload.status().WithContext(what + " payload");
  return payload;
}

}  // namespace pxb
