#include "format/keyslot_format.h"

#include <unistd.h>

#include <nlohmann/json.hpp>

#include "core/crypto/aead.h"
#include "core/crypto/random.h"
#include "core/host.h"
#include "core/time.h"
#include "format/json_fields.h"

namespace pxb {

namespace {

constexpr size_t kKdfSaltSize = 16;
constexpr size_t kWrapNonceSize = 24;

// The associated data binds every parameter that decides the wrapping key.
Bytes SlotAad(const KeySlot& s) {
  std::string aad = "pxb-keyslot-v1";
  auto field = [&](std::string_view v) {
    aad.push_back('\0');
    aad.append(v);
  };
  field(s.kind);
  field(s.repository.Hex());
  field("argon2id");
  field("19");
  field(std::to_string(s.kdf.memory_kib));
  field(std::to_string(s.kdf.iterations));
  field(std::to_string(s.kdf.parallelism));
  field(ToHex(s.kdf_salt));
  return ToBytes(aad);
}

Bytes HexField(const nlohmann::json& j, const char* name, size_t expected_size) {
  Bytes out;
  std::string hex = j.at(name).get<std::string>();
  if (!FromHex(hex, out) || (expected_size != 0 && out.size() != expected_size)) {
    throw nlohmann::json::other_error::create(501, std::string("bad hex field ") + name, &j);
  }
  return out;
}

StatusOr<KeySlot> DecodeJson(const nlohmann::json& j) {
  if (!j.is_object()) return DataLossError("key slot is not a JSON object");
  if (UnsignedField(j, "version", INT32_MAX) != kKeySlotVersion) {
    return DataLossError("key slot version " + j.at("version").dump() + " is not supported");
  }
  KeySlot s;
  s.kind = j.at("kind").get<std::string>();
  PXB_ASSIGN_OR_RETURN(s.repository, RepositoryId::FromHex(j.at("repository").get<std::string>()));
  PXB_ASSIGN_OR_RETURN(s.created_ns, ParseTime(j.at("created").get<std::string>()));
  s.host = j.value("host", "");
  s.user = j.value("user", "");
  s.label = j.value("label", "");
  if (s.kind == kPassphraseSlotKind) {
    const auto& kdf = j.at("kdf");
    if (kdf.at("algorithm").get<std::string>() != "argon2id" ||
        UnsignedField(kdf, "version", UINT32_MAX) != 19) {
      return DataLossError("passphrase key slot uses an unknown KDF");
    }
    // Slots are read before any key is known: bound what a forged slot can
    // make Open() spend.
    s.kdf.memory_kib =
        static_cast<uint32_t>(UnsignedField(kdf, "memory_kib", kMaxSlotArgon2MemoryKib));
    s.kdf.iterations =
        static_cast<uint32_t>(UnsignedField(kdf, "iterations", kMaxSlotArgon2Iterations));
    s.kdf.parallelism = static_cast<uint32_t>(UnsignedField(kdf, "parallelism", UINT32_MAX));
    s.kdf_salt = HexField(kdf, "salt", kKdfSaltSize);
    const auto& wrap = j.at("wrap");
    if (wrap.at("algorithm").get<std::string>() != "xchacha20-poly1305") {
      return DataLossError("passphrase key slot uses an unknown wrapping algorithm");
    }
    s.wrap_nonce = HexField(wrap, "nonce", kWrapNonceSize);
    s.wrapped = HexField(wrap, "ciphertext", SecretKey::kSize + Aead::kTagSize);
  }
  return s;
}

std::string CurrentUser() {
  const char* user = getenv("USER");
  return user ? user : "";
}

}  // namespace

Bytes EncodeKeySlot(const KeySlot& s) {
  nlohmann::json j;
  j["version"] = kKeySlotVersion;
  j["kind"] = s.kind;
  j["repository"] = s.repository.Hex();
  j["created"] = FormatRfc3339(s.created_ns);
  j["host"] = s.host;
  j["user"] = s.user;
  j["label"] = s.label;
  if (s.kind == kPassphraseSlotKind) {
    j["kdf"] = {{"algorithm", "argon2id"},          {"version", 19},
                {"memory_kib", s.kdf.memory_kib},   {"iterations", s.kdf.iterations},
                {"parallelism", s.kdf.parallelism}, {"salt", ToHex(s.kdf_salt)}};
    j["wrap"] = {{"algorithm", "xchacha20-poly1305"},
                 {"nonce", ToHex(s.wrap_nonce)},
                 {"ciphertext", ToHex(s.wrapped)}};
  }
  return ToBytes(j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace));
}

StatusOr<KeySlot> DecodeKeySlot(ByteView object) {
  try {
    auto slot = DecodeJson(nlohmann::json::parse(AsChars(object)));
    // A bad id or time is damage to the slot, not the caller's mistake.
    if (!slot.ok() && slot.status().code() != StatusCode::kDataLoss) {
      return DataLossError("key slot: " + std::string(slot.status().message()));
    }
    return slot;
  } catch (const nlohmann::json::exception& e) {
    return DataLossError(std::string("key slot is malformed: ") + e.what());
  }
}

StatusOr<KeySlot> MakePassphraseSlot(const SecretKey& master, const RepositoryId& repository,
                                     std::string_view passphrase, const Argon2idParams& params) {
  KeySlot s;
  s.kind = std::string(kPassphraseSlotKind);
  s.repository = repository;
  s.created_ns = NowNanos();
  s.host = CurrentHostName();
  s.user = CurrentUser();
  s.kdf = params;
  s.kdf_salt.resize(kKdfSaltSize);
  RandomBytes(s.kdf_salt);
  s.wrap_nonce.resize(kWrapNonceSize);
  RandomBytes(s.wrap_nonce);
  PXB_ASSIGN_OR_RETURN(SecretKey kek, Argon2id(passphrase, s.kdf_salt, params));
  PXB_ASSIGN_OR_RETURN(auto aead, Aead::Create(AeadAlgorithm::kXChaCha20Poly1305, kek));
  s.wrapped.resize(SecretKey::kSize + Aead::kTagSize);
  PXB_RETURN_IF_ERROR(aead->Seal(s.wrap_nonce, SlotAad(s), master.bytes(), s.wrapped));
  return s;
}

StatusOr<SecretKey> UnwrapPassphraseSlot(const KeySlot& s, std::string_view passphrase) {
  if (s.kind != kPassphraseSlotKind) {
    return InvalidArgumentError("key slot of kind '" + s.kind + "' is not a passphrase slot");
  }
  PXB_ASSIGN_OR_RETURN(SecretKey kek, Argon2id(passphrase, s.kdf_salt, s.kdf));
  PXB_ASSIGN_OR_RETURN(auto aead, Aead::Create(AeadAlgorithm::kXChaCha20Poly1305, kek));
  SecretKey master;
  Status opened = aead->Open(s.wrap_nonce, SlotAad(s), s.wrapped, master.mutable_bytes());
  if (!opened.ok()) return UnauthenticatedError("the passphrase does not open this key slot");
  return master;
}

}  // namespace pxb
