#include "format/snapshot_format.h"

#include <nlohmann/json.hpp>

#include "core/crypto/sha256.h"
#include "core/time.h"
#include "format/json_fields.h"

namespace pxb {

namespace {
constexpr int kSnapshotVersion = 1;
}

std::string_view BackupTypeName(BackupType type) {
  switch (type) {
    case BackupType::kFull:
      return "full";
    case BackupType::kIncremental:
      return "incremental";
    case BackupType::kDifferential:
      return "differential";
    case BackupType::kSnapshot:
      return "snapshot";
    case BackupType::kEmergency:
      return "emergency";
  }
  return "unknown";
}

StatusOr<BackupType> BackupTypeFromName(std::string_view name) {
  for (BackupType t : {BackupType::kFull, BackupType::kIncremental, BackupType::kDifferential,
                       BackupType::kSnapshot, BackupType::kEmergency}) {
    if (BackupTypeName(t) == name) return t;
  }
  return InvalidArgumentError("unknown backup type '" + std::string(name) +
                              "': use full, incremental, differential, snapshot or emergency");
}

ObjectHash SourceHash(std::string_view host, const std::vector<std::string>& sorted_paths) {
  Sha256Hasher h;
  h.Update(AsBytes(host));
  for (const std::string& p : sorted_paths) {
    const std::byte zero{0};
    h.Update(ByteView(&zero, 1));
    h.Update(AsBytes(p));
  }
  return ObjectHash(ByteView(h.Finish()));
}

nlohmann::json SnapshotSummaryJson(const SnapshotSummary& m) {
  return {{"files_new", m.files_new},
          {"files_changed", m.files_changed},
          {"files_unmodified", m.files_unmodified},
          {"dirs", m.dirs},
          {"other_nodes", m.other_nodes},
          {"bytes_read", m.bytes_read},
          {"bytes_total", m.bytes_total},
          {"bytes_added", m.bytes_added},
          {"bytes_stored", m.bytes_stored},
          {"blobs_added", m.blobs_added},
          {"errors", m.errors},
          {"duration_ns", m.duration_ns}};
}

Bytes EncodeSnapshotPayload(const Snapshot& s) {
  nlohmann::json j;
  j["version"] = kSnapshotVersion;
  j["time"] = FormatRfc3339(s.time_ns);
  j["host"] = s.host;
  j["user"] = s.user;
  j["paths"] = s.paths;
  j["tags"] = s.tags;
  j["type"] = BackupTypeName(s.type);
  j["tree"] = s.tree.Hex();
  j["parent"] = s.parent ? nlohmann::json(s.parent->Hex()) : nlohmann::json(nullptr);
  j["source"] = s.source.Hex();
  j["previous"] = s.previous ? nlohmann::json(s.previous->Hex()) : nlohmann::json(nullptr);
  j["summary"] = SnapshotSummaryJson(s.summary);
  j["partial"] = s.partial;
  j["program"] = s.program;
  // Invalid UTF-8 in paths is replaced rather than failing the backup.
  return ToBytes(j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

namespace {

uint64_t Counter(const nlohmann::json& summary, const char* name) {
  return summary.contains(name) ? UnsignedField(summary, name, UINT64_MAX) : 0;
}

template <typename Id>
StatusOr<std::optional<Id>> OptionalId(const nlohmann::json& j, const char* field) {
  if (!j.contains(field) || j[field].is_null()) return std::optional<Id>();
  PXB_ASSIGN_OR_RETURN(Id id, Id::FromHex(j[field].get<std::string>()));
  return std::optional<Id>(id);
}

StatusOr<Snapshot> DecodeJson(const nlohmann::json& j) {
  if (!j.is_object()) return DataLossError("snapshot is not a JSON object");
  if (UnsignedField(j, "version", INT32_MAX) != kSnapshotVersion) {
    return DataLossError("snapshot version " + j.at("version").dump() + " is not supported");
  }
  Snapshot s;
  PXB_ASSIGN_OR_RETURN(s.time_ns, ParseTime(j.at("time").get<std::string>()));
  s.host = j.at("host").get<std::string>();
  s.user = j.value("user", "");
  s.paths = j.at("paths").get<std::vector<std::string>>();
  s.tags = j.value("tags", std::vector<std::string>{});
  PXB_ASSIGN_OR_RETURN(s.type, BackupTypeFromName(j.at("type").get<std::string>()));
  PXB_ASSIGN_OR_RETURN(s.tree, BlobId::FromHex(j.at("tree").get<std::string>()));
  PXB_ASSIGN_OR_RETURN(s.parent, OptionalId<SnapshotId>(j, "parent"));
  PXB_ASSIGN_OR_RETURN(s.source, ObjectHash::FromHex(j.at("source").get<std::string>()));
  PXB_ASSIGN_OR_RETURN(s.previous, OptionalId<SnapshotId>(j, "previous"));
  if (j.contains("summary")) {
    const auto& m = j["summary"];
    if (!m.is_object()) return DataLossError("snapshot summary is not a JSON object");
    s.summary.files_new = Counter(m, "files_new");
    s.summary.files_changed = Counter(m, "files_changed");
    s.summary.files_unmodified = Counter(m, "files_unmodified");
    s.summary.dirs = Counter(m, "dirs");
    s.summary.other_nodes = Counter(m, "other_nodes");
    s.summary.bytes_read = Counter(m, "bytes_read");
    s.summary.bytes_total = Counter(m, "bytes_total");
    s.summary.bytes_added = Counter(m, "bytes_added");
    s.summary.bytes_stored = Counter(m, "bytes_stored");
    s.summary.blobs_added = Counter(m, "blobs_added");
    s.summary.errors = Counter(m, "errors");
    if (m.contains("duration_ns")) {
      const auto& d = m["duration_ns"];
      if (!d.is_number_integer() || (d.is_number_unsigned() && d.get<uint64_t>() > INT64_MAX)) {
        return DataLossError("snapshot duration_ns is not an integer in range");
      }
      s.summary.duration_ns = d.get<int64_t>();
    }
  }
  s.partial = j.value("partial", false);
  s.program = j.value("program", "");
  return s;
}

}  // namespace

StatusOr<Snapshot> DecodeSnapshotPayload(ByteView payload) {
  try {
    auto j = nlohmann::json::parse(AsChars(payload));
    auto s = DecodeJson(j);
    if (!s.ok() && s.status().code() != StatusCode::kDataLoss) {
      return DataLossError("snapshot: " + std::string(s.status().message()));
    }
    return s;
  } catch (const nlohmann::json::exception& e) {
    return DataLossError(std::string("snapshot is malformed: ") + e.what());
  }
}

}  // namespace pxb
