// Constants and derivations of the repository's key hierarchy and nonce
// layout. Implements doc/repository_format.md section 2.
//
// Thread-safety: free functions, safe to call concurrently.
//
//   PXB_ASSIGN_OR_RETURN(RepositoryKeys keys, DeriveRepositoryKeys(master, repo_id));
//   PXB_ASSIGN_OR_RETURN(SecretKey k, DeriveObjectKey(keys.data, salt));
#pragma once

#include <array>
#include <string_view>

#include "core/crypto/aead.h"
#include "core/crypto/secret.h"
#include "pxb/ids.h"

namespace pxb {

inline constexpr std::string_view kDataKeyLabel = "pxb/v1/data";
inline constexpr std::string_view kBlobIdKeyLabel = "pxb/v1/blob-id";
inline constexpr std::string_view kChunkerKeyLabel = "pxb/v1/chunker";
inline constexpr std::string_view kObjectKeyLabel = "pxb/v1/object-key";

inline constexpr size_t kSaltSize = 32;
using Salt = std::array<std::byte, kSaltSize>;

// Nonce domains (repository_format.md section 2).
inline constexpr uint32_t kNonceDomainBlob = 0;
inline constexpr uint32_t kNonceDomainPackHeader = 1;
inline constexpr uint32_t kNonceDomainEnvelope = 2;

// The subkeys every repository operation uses, derived from the master key.
struct RepositoryKeys {
  SecretKey data;     // parent of every object and pack key
  SecretKey blob_id;  // HMAC-SHA-256 key of blob ids
  SecretKey chunker;  // gear table of the chunker
};

// HKDF-SHA-256(master, salt = repository id, info = label) for each subkey.
StatusOr<RepositoryKeys> DeriveRepositoryKeys(const SecretKey& master, const RepositoryId& id);

// The key of one pack or sealed object: HKDF(data key, salt, "pxb/v1/object-key").
StatusOr<SecretKey> DeriveObjectKey(const SecretKey& data_key, ByteView salt);

Salt RandomSalt();

}  // namespace pxb
