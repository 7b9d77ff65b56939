#include "format/crypto_format.h"

#include "core/crypto/hkdf.h"
#include "core/crypto/random.h"

namespace pxb {

StatusOr<RepositoryKeys> DeriveRepositoryKeys(const SecretKey& master, const RepositoryId& id) {
  PXB_ASSIGN_OR_RETURN(SecretKey data, DeriveKey(master, id.bytes(), kDataKeyLabel));
  PXB_ASSIGN_OR_RETURN(SecretKey blob_id, DeriveKey(master, id.bytes(), kBlobIdKeyLabel));
  PXB_ASSIGN_OR_RETURN(SecretKey chunker, DeriveKey(master, id.bytes(), kChunkerKeyLabel));
  return RepositoryKeys{std::move(data), std::move(blob_id), std::move(chunker)};
}

StatusOr<SecretKey> DeriveObjectKey(const SecretKey& data_key, ByteView salt) {
  if (salt.size() != kSaltSize) {
    return DataLossError("object salt has " + std::to_string(salt.size()) + " bytes, expected 32");
  }
  return DeriveKey(data_key, salt, kObjectKeyLabel);
}

Salt RandomSalt() {
  Salt salt;
  RandomBytes(salt);
  return salt;
}

}  // namespace pxb
