// Snapshot objects: the root of one backup. Implements
// doc/repository_format.md section 8 (JSON payload of a sealed envelope of
// kind snapshot).
//
//   Bytes payload = EncodeSnapshotPayload(snapshot);
//   PXB_ASSIGN_OR_RETURN(Snapshot back, DecodeSnapshotPayload(payload));
//
// Thread-safety: free functions on values, safe to call concurrently.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "pxb/bytes.h"
#include "pxb/ids.h"
#include "pxb/status.h"

namespace pxb {

enum class BackupType { kFull, kIncremental, kDifferential, kSnapshot, kEmergency };
std::string_view BackupTypeName(BackupType type);
StatusOr<BackupType> BackupTypeFromName(std::string_view name);

struct SnapshotSummary {
  uint64_t files_new = 0;
  uint64_t files_changed = 0;
  uint64_t files_unmodified = 0;
  uint64_t dirs = 0;
  uint64_t other_nodes = 0;
  uint64_t bytes_read = 0;    // file bytes read from the source
  uint64_t bytes_total = 0;   // apparent size of all files in the snapshot
  uint64_t bytes_added = 0;   // plaintext bytes of new blobs
  uint64_t bytes_stored = 0;  // stored (compressed, encrypted) bytes of new blobs
  uint64_t blobs_added = 0;
  uint64_t errors = 0;
  int64_t duration_ns = 0;
};

struct Snapshot {
  int64_t time_ns = 0;
  std::string host;
  std::string user;
  std::vector<std::string> paths;
  std::vector<std::string> tags;
  BackupType type = BackupType::kIncremental;
  BlobId tree;
  std::optional<SnapshotId> parent;
  ObjectHash source;
  std::optional<SnapshotId> previous;
  SnapshotSummary summary;
  bool partial = false;
  std::string program;
};

// SHA-256 of host 0x00 path1 0x00 path2 ... over the sorted paths.
ObjectHash SourceHash(std::string_view host, const std::vector<std::string>& sorted_paths);

Bytes EncodeSnapshotPayload(const Snapshot& snapshot);

// The "summary" object of the payload (section 8), also what `--json`
// output shows of a snapshot's summary.
nlohmann::json SnapshotSummaryJson(const SnapshotSummary& summary);

// kDataLoss on malformed JSON, missing or mistyped fields.
StatusOr<Snapshot> DecodeSnapshotPayload(ByteView payload);

}  // namespace pxb
