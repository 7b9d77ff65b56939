#include "core/crypto/hkdf.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#include <memory>
#include <string>

#include "core/crypto/evp_algorithms.h"

namespace pxb {
namespace {

struct KdfCtxFree {
  void operator()(EVP_KDF_CTX* ctx) const { EVP_KDF_CTX_free(ctx); }
};

// OSSL_PARAM wants a non-null pointer even for an empty string.
void* ParamData(ByteView b) {
  static unsigned char empty = 0;
  if (b.empty()) return &empty;
  return const_cast<std::byte*>(b.data());
}

}  // namespace

Status HkdfSha256(ByteView ikm, ByteView salt, ByteView info, MutableByteView out) {
  if (out.size() > kHkdfSha256MaxOutput) {
    return InvalidArgumentError("HKDF-SHA-256 output of " + std::to_string(out.size()) +
                                " bytes exceeds the maximum of " +
                                std::to_string(kHkdfSha256MaxOutput));
  }
  if (out.empty()) return Status::Ok();
  EVP_KDF* kdf = HkdfAlgorithm();
  if (kdf == nullptr) return InternalError("OpenSSL does not provide the HKDF KDF");
  std::unique_ptr<EVP_KDF_CTX, KdfCtxFree> ctx(EVP_KDF_CTX_new(kdf));
  if (ctx == nullptr) return InternalError("EVP_KDF_CTX_new(HKDF) failed");

  char digest_name[] = "SHA2-256";
  OSSL_PARAM params[5];
  size_t n = 0;
  params[n++] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest_name, 0);
  params[n++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, ParamData(ikm), ikm.size());
  if (!salt.empty()) {
    params[n++] =
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, ParamData(salt), salt.size());
  }
  if (!info.empty()) {
    params[n++] =
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, ParamData(info), info.size());
  }
  params[n] = OSSL_PARAM_construct_end();
  if (EVP_KDF_derive(ctx.get(), U8(out), out.size(), params) != 1) {
    OPENSSL_cleanse(out.data(), out.size());
    return InternalError("HKDF-SHA-256 derivation failed in OpenSSL");
  }
  return Status::Ok();
}

StatusOr<SecretKey> DeriveKey(const SecretKey& ikm, ByteView salt, std::string_view label) {
  SecretKey key;
  PXB_RETURN_IF_ERROR(HkdfSha256(ikm.bytes(), salt, AsBytes(label), key.mutable_bytes()));
  return key;
}

}  // namespace pxb
