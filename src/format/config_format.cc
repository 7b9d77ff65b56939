#include "format/config_format.h"

#include <nlohmann/json.hpp>

#include "core/coding.h"
#include "core/time.h"
#include "format/envelope_format.h"
#include "format/json_fields.h"

namespace pxb {

StatusOr<ConfigHeader> DecodeConfigHeader(ByteView object) {
  if (object.size() < kConfigHeaderSize || AsChars(object.first(8)) != kConfigMagic) {
    return DataLossError("config object is not a plexibackup config (wrong magic or too short)");
  }
  ConfigHeader h;
  h.format_version = LoadLe32(object.data() + 8);
  if (h.format_version > kFormatVersion) {
    return FailedPreconditionError("repository format version " + std::to_string(h.format_version) +
                                   " is newer than this program supports (version " +
                                   std::to_string(kFormatVersion) + "): upgrade plexibackup");
  }
  if (h.format_version == 0) return DataLossError("config has format version 0");
  h.id = RepositoryId(object.subspan(12, 32));
  return h;
}

StatusOr<Bytes> EncodeConfig(const RepositoryConfig& c, const SecretKey& data_key) {
  nlohmann::json j;
  j["version"] = c.format_version;
  j["id"] = c.id.Hex();
  j["created"] = FormatRfc3339(c.created_ns);
  j["cipher"] = AeadName(c.cipher);
  j["blob_id"] = kBlobIdAlgorithm;
  j["compression"] = kCompressionAlgorithm;
  j["chunker"] = {{"algorithm", kChunkerAlgorithm},
                  {"min_size", c.chunker.min_size},
                  {"avg_size", c.chunker.avg_size},
                  {"max_size", c.chunker.max_size},
                  {"normalization", c.chunker.normalization}};
  j["pack_size"] = c.pack_size;
  PXB_ASSIGN_OR_RETURN(Bytes body,
                       SealEnvelope(EnvelopeKind::kConfig, c.cipher, data_key, AsBytes(j.dump())));
  Bytes out;
  ByteWriter w(out);
  w.PutRaw(kConfigMagic);
  w.PutLe32(c.format_version);
  w.PutRaw(c.id.bytes());
  w.PutRaw(body);
  return out;
}

namespace {

uint32_t U32Field(const nlohmann::json& j, const char* name) {
  return static_cast<uint32_t>(UnsignedField(j, name, UINT32_MAX));
}

StatusOr<RepositoryConfig> ParseConfigJson(const nlohmann::json& j, const ConfigHeader& header) {
  if (!j.is_object()) return DataLossError("config is not a JSON object");
  RepositoryConfig c;
  c.format_version = U32Field(j, "version");
  if (c.format_version != header.format_version) {
    return DataLossError("config body version does not match its header");
  }
  PXB_ASSIGN_OR_RETURN(c.id, RepositoryId::FromHex(j.at("id").get<std::string>()));
  if (!(c.id == header.id)) return DataLossError("config body id does not match its header");
  PXB_ASSIGN_OR_RETURN(c.created_ns, ParseTime(j.at("created").get<std::string>()));
  PXB_ASSIGN_OR_RETURN(c.cipher, AeadFromName(j.at("cipher").get<std::string>()));
  auto require = [&](const char* field, std::string_view expected) -> Status {
    std::string value = j.at(field).get<std::string>();
    if (value != expected) {
      return FailedPreconditionError("repository uses " + std::string(field) + " '" + value +
                                     "', which this program does not support");
    }
    return Status::Ok();
  };
  PXB_RETURN_IF_ERROR(require("blob_id", kBlobIdAlgorithm));
  PXB_RETURN_IF_ERROR(require("compression", kCompressionAlgorithm));
  const auto& ch = j.at("chunker");
  if (ch.at("algorithm").get<std::string>() != kChunkerAlgorithm) {
    return FailedPreconditionError("repository uses chunker '" +
                                   ch.at("algorithm").get<std::string>() +
                                   "', which this program does not support");
  }
  c.chunker.min_size = U32Field(ch, "min_size");
  c.chunker.avg_size = U32Field(ch, "avg_size");
  c.chunker.max_size = U32Field(ch, "max_size");
  c.chunker.normalization = U32Field(ch, "normalization");
  PXB_RETURN_IF_ERROR_CTX(ValidateChunkerParams(c.chunker), "config");
  c.pack_size = UnsignedField(j, "pack_size", UINT64_MAX);
  if (c.pack_size < (1 << 20) || c.pack_size > (1ull << 31)) {
    return DataLossError("config pack_size " + std::to_string(c.pack_size) + " is out of range");
  }
  return c;
}

}  // namespace

StatusOr<RepositoryConfig> DecodeConfig(ByteView object, const SecretKey& data_key) {
  PXB_ASSIGN_OR_RETURN(ConfigHeader header, DecodeConfigHeader(object));
  ByteView body = object.subspan(kConfigHeaderSize);
  // The cipher is inside the body; try each: only the right one authenticates.
  Status last;
  for (AeadAlgorithm alg : {AeadAlgorithm::kAes256Gcm, AeadAlgorithm::kXChaCha20Poly1305}) {
    auto payload = OpenEnvelope(EnvelopeKind::kConfig, alg, data_key, body);
    if (!payload.ok()) {
      last = payload.status();
      continue;
    }
    try {
      auto parsed = ParseConfigJson(nlohmann::json::parse(AsChars(*payload)), header);
      if (parsed.ok() && parsed->cipher != alg) {
        return DataLossError("config is sealed with a cipher other than the one it names");
      }
      // A bad id, time or chunker parameter is damage, not the caller's mistake.
      if (!parsed.ok() && parsed.status().code() == StatusCode::kInvalidArgument) {
        return DataLossError("config: " + std::string(parsed.status().message()));
      }
      return parsed;
    } catch (const nlohmann::json::exception& e) {
      return DataLossError(std::string("config is malformed: ") + e.what());
    }
  }
  return last.WithContext("config");
}

}  // namespace pxb
