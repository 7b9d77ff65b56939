// HKDF-SHA-256 (RFC 5869) through OpenSSL's EVP_KDF "HKDF": how every subkey
// and per-object key of a repository is derived (doc/repository_format.md,
// section 2).
//
//   PXB_ASSIGN_OR_RETURN(SecretKey data, DeriveKey(master, repo_id.bytes(), "pxb/v1/data"));
//   PXB_RETURN_IF_ERROR(HkdfSha256(ikm, salt, info, out));
//
// Thread-safety: free functions, safe to call concurrently.
#pragma once

#include <cstddef>
#include <string_view>

#include "core/crypto/secret.h"
#include "pxb/bytes.h"
#include "pxb/status.h"

namespace pxb {

// RFC 5869 limits the output to 255 hash lengths.
inline constexpr size_t kHkdfSha256MaxOutput = 255 * 32;

// Extract-then-expand HKDF with SHA-256, filling all of `out`. An empty salt
// means the RFC's default (a block of zeros); ikm and info may be empty. An
// empty `out` succeeds trivially. kInvalidArgument if out.size() >
// kHkdfSha256MaxOutput; kInternal if OpenSSL fails.
[[nodiscard]] Status HkdfSha256(ByteView ikm, ByteView salt, ByteView info, MutableByteView out);

// A 32-byte key: HKDF-SHA-256(ikm, salt, info = label, L = 32).
[[nodiscard]] StatusOr<SecretKey> DeriveKey(const SecretKey& ikm, ByteView salt,
                                            std::string_view label);

}  // namespace pxb
