// Shared by the libFuzzer targets and write_seeds: the fixed keys that let
// fuzzed objects authenticate, the layout of the mode byte some targets
// read first, and a check that aborts so libFuzzer records the input.
//
//   FUZZ_CHECK(again.ok(), "EncodeTree refused a decoded tree");
//
// Thread-safety: libFuzzer runs one input at a time.
#pragma once

#include <cstdio>
#include <cstdlib>

#include "core/crypto/aead.h"
#include "core/crypto/secret.h"
#include "format/crypto_format.h"
#include "format/pack_format.h"
#include "pxb/bytes.h"
#include "pxb/ids.h"

// Aborts with a message when a property of a decoder does not hold.
#define FUZZ_CHECK(cond, message)                                                            \
  do {                                                                                       \
    if (!(cond)) {                                                                           \
      std::fprintf(stderr, "%s:%d: property failed: %s (%s)\n", __FILE__, __LINE__, message, \
                   #cond);                                                                   \
      std::abort();                                                                          \
    }                                                                                        \
  } while (0)

namespace pxb::fuzz {

// The data key every target opens sealed objects with.
inline SecretKey DataKey() {
  SecretKey key;
  for (size_t i = 0; i < SecretKey::kSize; ++i) {
    key.mutable_bytes()[i] = static_cast<std::byte>(0xa0 + i);
  }
  return key;
}

// The salt of packs the pack-header target builds around a fuzzed header.
inline Salt PackSalt() {
  Salt salt;
  for (size_t i = 0; i < salt.size(); ++i) salt[i] = static_cast<std::byte>(0x50 + i);
  return salt;
}

// The repository id of configs the config target builds around a fuzzed body.
inline RepositoryId ConfigId() {
  RepositoryId id;
  for (size_t i = 0; i < RepositoryId::kSize; ++i) {
    id.mutable_bytes()[i] = static_cast<std::byte>(0x30 + i);
  }
  return id;
}

// Bit 0 of a mode byte picks the cipher.
inline AeadAlgorithm CipherOf(uint8_t mode) {
  return (mode & 1) != 0 ? AeadAlgorithm::kXChaCha20Poly1305 : AeadAlgorithm::kAes256Gcm;
}

// Mode bytes (bits 1 and up; bit 0 is the cipher).
// fuzz_pack_header: the rest is a whole pack, or a header plaintext that the
// target seals into a pack whose blob area has the length in the next 3 bytes
// (little-endian, low 20 bits).
inline constexpr uint8_t kPackModeRaw = 0;
inline constexpr uint8_t kPackModePlaintext = 1;
// fuzz_envelope: open the rest as a sealed object of a kind, or decompress it.
inline constexpr uint8_t kEnvelopeModeOpen = 0;
inline constexpr uint8_t kEnvelopeModeZstd = 1;
inline constexpr uint8_t kEnvelopeModeSealOpen = 2;
// fuzz_config: the rest is a whole config object, or a JSON body to seal.
inline constexpr uint8_t kConfigModeRaw = 0;
inline constexpr uint8_t kConfigModeBody = 1;

// fuzz_shard (bit 0 unused): the rest is a whole shard object, or header
// fields (scheme, index, k, m: one byte each; object length: u64 LE) followed
// by a payload, which the target encodes.
inline constexpr uint8_t kShardModeRaw = 0;
inline constexpr uint8_t kShardModeFields = 1;
inline constexpr size_t kShardFieldsSize = 12;

inline uint8_t ModeOf(uint8_t mode_byte) { return mode_byte >> 1; }
inline uint8_t ModeByte(uint8_t mode, AeadAlgorithm cipher) {
  return static_cast<uint8_t>(mode << 1 | (cipher == AeadAlgorithm::kXChaCha20Poly1305 ? 1 : 0));
}

inline ByteView AsView(const uint8_t* data, size_t size) {
  return ByteView(reinterpret_cast<const std::byte*>(data), size);
}

// Follows the entries of one decoded pack (header or index) and checks that
// each frame's members sit where it is, one after the other, and fill it.
class FrameMembersCheck {
 public:
  // True if `b` is a member (checked here), false for an entry of its own.
  bool Member(const PackBlob& b) {
    if (!b.member()) {
      Finish();
      frame_ = b.type == BlobType::kFrame ? &b : nullptr;
      member_end_ = 0;
      return false;
    }
    FUZZ_CHECK(frame_ != nullptr, "a member without its frame");
    FUZZ_CHECK(b.offset == frame_->offset && b.stored_length == frame_->stored_length,
               "a member not where its frame is");
    FUZZ_CHECK(b.member_offset == member_end_, "members do not follow each other");
    FUZZ_CHECK(b.frame_raw_length == frame_->raw_length, "a member of another frame's length");
    member_end_ += b.raw_length;
    FUZZ_CHECK(member_end_ <= frame_->raw_length, "members past their frame's end");
    return true;
  }
  // After the last entry.
  void Finish() const {
    FUZZ_CHECK(frame_ == nullptr || member_end_ == frame_->raw_length,
               "members do not fill their frame");
  }

 private:
  const PackBlob* frame_ = nullptr;
  uint64_t member_end_ = 0;
};

}  // namespace pxb::fuzz
