// The repository config object. Implements doc/repository_format.md section 3.
//
//   PXB_ASSIGN_OR_RETURN(ConfigHeader h, DecodeConfigHeader(object));   // no key needed
//   PXB_ASSIGN_OR_RETURN(RepositoryConfig c, DecodeConfig(object, data_key));
//
// Thread-safety: free functions on values, safe to call concurrently.
#pragma once

#include <cstdint>
#include <string>

#include "core/chunker/fastcdc.h"
#include "core/crypto/aead.h"
#include "core/crypto/secret.h"
#include "pxb/bytes.h"
#include "pxb/ids.h"

namespace pxb {

inline constexpr std::string_view kConfigObjectName = "config";
inline constexpr std::string_view kConfigMagic{"PXBCONF\0", 8};
inline constexpr uint32_t kFormatVersion = 1;
inline constexpr size_t kConfigHeaderSize = 8 + 4 + 32;
inline constexpr std::string_view kChunkerAlgorithm = "fastcdc-keyed";
inline constexpr std::string_view kBlobIdAlgorithm = "hmac-sha256";
inline constexpr std::string_view kCompressionAlgorithm = "zstd";
inline constexpr uint64_t kDefaultPackSize = 16 << 20;

struct RepositoryConfig {
  RepositoryId id;
  uint32_t format_version = kFormatVersion;
  int64_t created_ns = 0;
  AeadAlgorithm cipher = AeadAlgorithm::kAes256Gcm;
  ChunkerParams chunker;
  uint64_t pack_size = kDefaultPackSize;
};

struct ConfigHeader {
  uint32_t format_version = 0;
  RepositoryId id;
};

// Reads the clear header. kDataLoss on a wrong magic; kFailedPrecondition when
// the format version is newer than this program knows.
StatusOr<ConfigHeader> DecodeConfigHeader(ByteView object);

StatusOr<Bytes> EncodeConfig(const RepositoryConfig& config, const SecretKey& data_key);

// kDataLoss if the body does not authenticate or is malformed;
// kFailedPrecondition for unknown algorithms or a newer version.
StatusOr<RepositoryConfig> DecodeConfig(ByteView object, const SecretKey& data_key);

}  // namespace pxb
