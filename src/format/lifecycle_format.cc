#include "format/lifecycle_format.h"

#include <algorithm>
#include <functional>
#include <nlohmann/json.hpp>

#include "core/time.h"
#include "format/json_fields.h"

namespace pxb {

namespace {

constexpr int kLifecycleVersion = 1;

using json = nlohmann::json;

Bytes Dump(const json& j) {
  return ToBytes(j.dump(-1, ' ', false, json::error_handler_t::replace));
}

StatusOr<int64_t> TimeField(const json& j, const char* name) {
  return ParseTime(j.at(name).get<std::string>());
}

template <typename Id>
StatusOr<Id> IdField(const json& j, const char* name) {
  return Id::FromHex(j.at(name).get<std::string>());
}

Status CheckVersion(const json& j, std::string_view what) {
  if (!j.is_object()) return DataLossError(std::string(what) + " is not a JSON object");
  if (UnsignedField(j, "version", INT32_MAX) != kLifecycleVersion) {
    return DataLossError(std::string(what) + " version " + j.at("version").dump() +
                         " is not supported");
  }
  return Status::Ok();
}

// Parses and decodes, turning parser exceptions and every other failure
// into kDataLoss that names the object kind.
template <typename T>
StatusOr<T> DecodeWith(ByteView payload, std::string_view what,
                       const std::function<StatusOr<T>(const json&)>& decode) {
  try {
    json j = json::parse(AsChars(payload));
    PXB_RETURN_IF_ERROR(CheckVersion(j, what));
    auto value = decode(j);
    if (!value.ok() && value.status().code() != StatusCode::kDataLoss) {
      return DataLossError(std::string(what) + ": " + std::string(value.status().message()));
    }
    return value;
  } catch (const json::exception& e) {
    return DataLossError(std::string(what) + " is malformed: " + e.what());
  }
}

}  // namespace

bool IsSessionId(std::string_view text) {
  return text.size() == 32 && text.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

std::string_view HoldKindName(HoldKind kind) {
  return kind == HoldKind::kLegalHold ? "legal-hold" : "lock";
}

Bytes EncodeSessionPayload(const SessionRecord& s) {
  return Dump(json{{"version", kLifecycleVersion},
                   {"session", s.session},
                   {"host", s.host},
                   {"command", s.command},
                   {"pid", s.pid},
                   {"started", FormatRfc3339(s.started_ns)},
                   {"renewed", FormatRfc3339(s.renewed_ns)},
                   {"expires", FormatRfc3339(s.expires_ns)}});
}

StatusOr<SessionRecord> DecodeSessionPayload(ByteView payload) {
  return DecodeWith<SessionRecord>(payload, "session",
                                   [](const json& j) -> StatusOr<SessionRecord> {
                                     SessionRecord s;
                                     s.session = j.at("session").get<std::string>();
                                     if (!IsSessionId(s.session))
                                       return DataLossError("session id is not 32 hex digits");
                                     s.host = j.at("host").get<std::string>();
                                     s.command = j.at("command").get<std::string>();
                                     s.pid = UnsignedField(j, "pid", UINT32_MAX);
                                     PXB_ASSIGN_OR_RETURN(s.started_ns, TimeField(j, "started"));
                                     PXB_ASSIGN_OR_RETURN(s.renewed_ns, TimeField(j, "renewed"));
                                     PXB_ASSIGN_OR_RETURN(s.expires_ns, TimeField(j, "expires"));
                                     return s;
                                   });
}

Bytes EncodeForgetRecordPayload(const ForgetRecord& r) {
  json snapshots = json::array();
  for (const ForgottenSnapshot& f : r.snapshots) {
    snapshots.push_back({{"id", f.id.Hex()},
                         {"source", f.source.Hex()},
                         {"time", FormatRfc3339(f.time_ns)},
                         {"previous", f.previous ? json(f.previous->Hex()) : json(nullptr)}});
  }
  return Dump(json{{"version", kLifecycleVersion},
                   {"time", FormatRfc3339(r.time_ns)},
                   {"snapshots", snapshots}});
}

StatusOr<ForgetRecord> DecodeForgetRecordPayload(ByteView payload) {
  return DecodeWith<ForgetRecord>(
      payload, "forget record", [](const json& j) -> StatusOr<ForgetRecord> {
        ForgetRecord r;
        PXB_ASSIGN_OR_RETURN(r.time_ns, TimeField(j, "time"));
        const json& list = j.at("snapshots");
        if (!list.is_array()) return DataLossError("forget record: snapshots is not an array");
        for (const json& e : list) {
          ForgottenSnapshot f;
          PXB_ASSIGN_OR_RETURN(f.id, IdField<SnapshotId>(e, "id"));
          PXB_ASSIGN_OR_RETURN(f.source, IdField<ObjectHash>(e, "source"));
          PXB_ASSIGN_OR_RETURN(f.time_ns, TimeField(e, "time"));
          if (!e.at("previous").is_null()) {
            PXB_ASSIGN_OR_RETURN(f.previous, IdField<SnapshotId>(e, "previous"));
          }
          r.snapshots.push_back(f);
        }
        return r;
      });
}

Bytes EncodeHoldPayload(const Hold& h) {
  return Dump(
      json{{"version", kLifecycleVersion},
           {"snapshot", h.snapshot.Hex()},
           {"kind", HoldKindName(h.kind)},
           {"until", h.kind == HoldKind::kLock ? json(FormatRfc3339(h.until_ns)) : json(nullptr)},
           {"reason", h.reason},
           {"created", FormatRfc3339(h.created_ns)},
           {"host", h.host},
           {"user", h.user}});
}

StatusOr<Hold> DecodeHoldPayload(ByteView payload) {
  return DecodeWith<Hold>(payload, "hold", [](const json& j) -> StatusOr<Hold> {
    Hold h;
    PXB_ASSIGN_OR_RETURN(h.snapshot, IdField<SnapshotId>(j, "snapshot"));
    const std::string kind = j.at("kind").get<std::string>();
    if (kind == HoldKindName(HoldKind::kLegalHold)) {
      h.kind = HoldKind::kLegalHold;
    } else if (kind == HoldKindName(HoldKind::kLock)) {
      h.kind = HoldKind::kLock;
      PXB_ASSIGN_OR_RETURN(h.until_ns, TimeField(j, "until"));
    } else {
      return DataLossError("hold kind '" + kind + "' is not known");
    }
    h.reason = j.value("reason", "");
    PXB_ASSIGN_OR_RETURN(h.created_ns, TimeField(j, "created"));
    h.host = j.value("host", "");
    h.user = j.value("user", "");
    return h;
  });
}

Bytes EncodeDeletionPlanPayload(const DeletionPlan& p) {
  json packs = json::array();
  for (const PackId& id : p.packs) packs.push_back(id.Hex());
  return Dump(json{{"version", kLifecycleVersion},
                   {"created", FormatRfc3339(p.created_ns)},
                   {"host", p.host},
                   {"packs", packs},
                   {"sessions_listed", p.sessions_listed},
                   {"waits_for", p.waits_for}});
}

StatusOr<DeletionPlan> DecodeDeletionPlanPayload(ByteView payload) {
  return DecodeWith<DeletionPlan>(
      payload, "deletion plan", [](const json& j) -> StatusOr<DeletionPlan> {
        DeletionPlan p;
        PXB_ASSIGN_OR_RETURN(p.created_ns, TimeField(j, "created"));
        p.host = j.value("host", "");
        const json& packs = j.at("packs");
        if (!packs.is_array()) return DataLossError("deletion plan: packs is not an array");
        for (const json& e : packs) {
          PXB_ASSIGN_OR_RETURN(PackId id, PackId::FromHex(e.get<std::string>()));
          p.packs.push_back(id);
        }
        std::sort(p.packs.begin(), p.packs.end());
        p.sessions_listed = j.at("sessions_listed").get<bool>();
        p.waits_for = j.at("waits_for").get<std::vector<std::string>>();
        for (const std::string& s : p.waits_for) {
          if (!IsSessionId(s)) return DataLossError("deletion plan: bad session id");
        }
        return p;
      });
}

}  // namespace pxb
