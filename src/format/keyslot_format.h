// Key slots: the master key wrapped under one unlocking method. Implements
// doc/repository_format.md section 4.
//
// A slot is self-describing JSON. This version implements the `passphrase`
// kind (Argon2id + XChaCha20-Poly1305); other kinds decode as slots whose
// kind a caller can skip.
//
//   PXB_ASSIGN_OR_RETURN(KeySlot slot, MakePassphraseSlot(master, repo, "secret", params));
//   PXB_ASSIGN_OR_RETURN(SecretKey master, UnwrapPassphraseSlot(slot, "secret"));
//
// Thread-safety: free functions on values, safe to call concurrently.
#pragma once

#include <string>

#include "core/crypto/argon2.h"
#include "core/crypto/secret.h"
#include "pxb/bytes.h"
#include "pxb/ids.h"

namespace pxb {

inline constexpr std::string_view kPassphraseSlotKind = "passphrase";
inline constexpr int kKeySlotVersion = 1;

// Defaults: 32 MiB, 6 passes. An attacker's cost per guess is memory times
// passes, the same as RFC 9106's 64 MiB and 3 passes (OWASP lists such pairs
// as equal defences, from 46 MiB / 1 pass down to 7 MiB / 5), and so is the
// number of block operations, at half the memory every command holds at
// its peak.
inline constexpr Argon2idParams kDefaultArgon2idParams{32768, 6, 1};

// Largest Argon2id cost a slot may ask for (4 GiB, 100 passes); a slot
// beyond them is damaged (kDataLoss).
inline constexpr uint32_t kMaxSlotArgon2MemoryKib = 4u << 20;
inline constexpr uint32_t kMaxSlotArgon2Iterations = 100;

struct KeySlot {
  std::string kind;
  RepositoryId repository;
  int64_t created_ns = 0;
  std::string host;
  std::string user;
  std::string label;
  // passphrase kind:
  Argon2idParams kdf{};
  Bytes kdf_salt;    // 16 bytes
  Bytes wrap_nonce;  // 24 bytes
  Bytes wrapped;     // master key + tag
};

Bytes EncodeKeySlot(const KeySlot& slot);

// kDataLoss for malformed JSON or a slot of this version with bad fields.
// Slots of unknown kinds decode with only the common fields set.
StatusOr<KeySlot> DecodeKeySlot(ByteView object);

// Derives the wrapping key with Argon2id and wraps the master key.
StatusOr<KeySlot> MakePassphraseSlot(const SecretKey& master, const RepositoryId& repository,
                                     std::string_view passphrase, const Argon2idParams& params);

// kUnauthenticated when the passphrase does not open this slot.
StatusOr<SecretKey> UnwrapPassphraseSlot(const KeySlot& slot, std::string_view passphrase);

}  // namespace pxb
