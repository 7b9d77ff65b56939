// The objects of a repository's lifecycle: sessions, forget records, holds
// and deletion plans. Implements doc/repository_format.md sections 12 to 15
// (UTF-8 JSON payloads of sealed envelopes of kinds 4 to 7); design.md
// section 15 says how forget and prune use them.
//
//   Bytes payload = EncodeDeletionPlanPayload(plan);
//   PXB_ASSIGN_OR_RETURN(DeletionPlan back, DecodeDeletionPlanPayload(payload));
//
// Thread-safety: free functions on values, safe to call concurrently.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "pxb/bytes.h"
#include "pxb/ids.h"
#include "pxb/status.h"

namespace pxb {

inline constexpr std::string_view kSessionsPrefix = "sessions/";
inline constexpr std::string_view kForgottenPrefix = "forgotten/";
inline constexpr std::string_view kHoldsPrefix = "holds/";
inline constexpr std::string_view kDeletionsPrefix = "deletions/";

struct SessionRecord {
  std::string session;  // 32 lower-case hex digits, the same in every renewal
  std::string host;
  std::string command;
  uint64_t pid = 0;
  int64_t started_ns = 0;
  int64_t renewed_ns = 0;
  int64_t expires_ns = 0;

  friend bool operator==(const SessionRecord&, const SessionRecord&) = default;
};

struct ForgottenSnapshot {
  SnapshotId id;
  ObjectHash source;
  int64_t time_ns = 0;
  std::optional<SnapshotId> previous;

  friend bool operator==(const ForgottenSnapshot&, const ForgottenSnapshot&) = default;
};

struct ForgetRecord {
  int64_t time_ns = 0;
  std::vector<ForgottenSnapshot> snapshots;

  friend bool operator==(const ForgetRecord&, const ForgetRecord&) = default;
};

enum class HoldKind { kLegalHold, kLock };
std::string_view HoldKindName(HoldKind kind);

struct Hold {
  SnapshotId snapshot;
  HoldKind kind = HoldKind::kLegalHold;
  int64_t until_ns = 0;  // end of a lock; 0 for a legal hold
  std::string reason;
  int64_t created_ns = 0;
  std::string host;
  std::string user;

  // Whether the hold still protects its snapshot at `now_ns`.
  bool ActiveAt(int64_t now_ns) const { return kind == HoldKind::kLegalHold || now_ns < until_ns; }
  friend bool operator==(const Hold&, const Hold&) = default;
};

struct DeletionPlan {
  int64_t created_ns = 0;
  std::string host;
  std::vector<PackId> packs;  // sorted
  bool sessions_listed = false;
  std::vector<std::string> waits_for;  // session ids

  friend bool operator==(const DeletionPlan&, const DeletionPlan&) = default;
};

// Encoders never fail. Decoders return kDataLoss for malformed JSON, a
// missing or mistyped field, an unknown version or kind, or a session id
// that is not 32 lower-case hex digits.
Bytes EncodeSessionPayload(const SessionRecord& session);
StatusOr<SessionRecord> DecodeSessionPayload(ByteView payload);
Bytes EncodeForgetRecordPayload(const ForgetRecord& record);
StatusOr<ForgetRecord> DecodeForgetRecordPayload(ByteView payload);
Bytes EncodeHoldPayload(const Hold& hold);
StatusOr<Hold> DecodeHoldPayload(ByteView payload);
Bytes EncodeDeletionPlanPayload(const DeletionPlan& plan);
StatusOr<DeletionPlan> DecodeDeletionPlanPayload(ByteView payload);

// True for 32 lower-case hex digits.
bool IsSessionId(std::string_view text);

}  // namespace pxb
