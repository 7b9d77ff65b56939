#include "storage/erasure/erasure_backend.h"

#include <algorithm>
#include <cstring>
#include <future>
#include <map>
#include <optional>
#include <set>

#include "core/time.h"
#include "storage/erasure/shard_placer.h"

namespace pxb {
namespace {

// Errors that say nothing about the target's health: the object or range is
// simply not there, or the caller asked for something invalid.
bool IsTargetFault(const Status& s) {
  switch (s.code()) {
    case StatusCode::kOk:
    case StatusCode::kNotFound:
    case StatusCode::kOutOfRange:
    case StatusCode::kInvalidArgument:
    case StatusCode::kDataLoss:
      return false;
    default:
      return true;
  }
}

bool SameCoding(const ErasureBackend::ObjectShards& a, const ErasureBackend::ObjectShards& b) {
  return a.scheme == b.scheme && a.data_shards == b.data_shards &&
         a.parity_shards == b.parity_shards && a.length == b.length;
}

void AddShard(ErasureBackend::ObjectShards& object, int index, size_t target) {
  for (const auto& s : object.shards) {
    if (s.index == index && s.target == target) return;
  }
  object.shards.push_back({index, target});
}

size_t DistinctIndexes(const ErasureBackend::ObjectShards& object) {
  std::set<int> indexes;
  for (const auto& s : object.shards) indexes.insert(s.index);
  return indexes.size();
}

// Section 11: the highest version wins; among equal versions the greatest
// object name.
bool NewerTargetList(const TargetList& a, const TargetList& b) {
  if (a.version != b.version) return a.version > b.version;
  return TargetListObjectName(EncodeTargetList(a)) > TargetListObjectName(EncodeTargetList(b));
}

// The end of ReadShard's message for a shard it did not try because every
// target holding it is down.
constexpr std::string_view kTargetsDown = "its targets are down";

bool Readable(const ErasureBackend::ObjectShards& object) {
  return DistinctIndexes(object) >= static_cast<size_t>(object.data_shards);
}

// For max_element: a readable coding beats an unreadable one, then the one
// with more distinct shards wins.
bool BetterCoding(const ErasureBackend::ObjectShards& a, const ErasureBackend::ObjectShards& b) {
  if (Readable(a) != Readable(b)) return Readable(b);
  return DistinctIndexes(a) < DistinctIndexes(b);
}

// Bytes [begin, end) of data shard j's payload that the object range
// [offset, offset + length) covers; j is one of the shards it touches.
std::pair<uint64_t, uint64_t> DataShardSpan(int j, uint64_t shard_len, uint64_t offset,
                                            uint64_t length) {
  const uint64_t start = static_cast<uint64_t>(j) * shard_len;
  return {std::max<uint64_t>(offset, start) - start,
          std::min<uint64_t>(offset + length, start + shard_len) - start};
}

}  // namespace

StatusOr<std::unique_ptr<ErasureBackend>> ErasureBackend::Create(
    TargetList list, std::vector<std::unique_ptr<Backend>> targets, ErasureOptions options,
    TargetOpener open) {
  PXB_RETURN_IF_ERROR(ValidateTargetList(list));
  if (targets.size() != list.targets.size()) {
    return InvalidArgumentError("erasure backend: " + std::to_string(targets.size()) +
                                " backends for " + std::to_string(list.targets.size()) +
                                " targets");
  }
  PXB_RETURN_IF_ERROR(ReedSolomon::Create(list.data_shards, list.parity_shards).status());
  return std::unique_ptr<ErasureBackend>(
      new ErasureBackend(std::move(list), std::move(targets), options, std::move(open)));
}

ErasureBackend::ErasureBackend(TargetList list, std::vector<std::unique_ptr<Backend>> targets,
                               ErasureOptions options, TargetOpener open)
    : list_(std::move(list)),
      options_(options),
      open_(std::move(open)),
      targets_(list_.targets.size()),
      codec_(*ReedSolomon::Create(list_.data_shards, list_.parity_shards)) {
  used_bytes_.assign(targets_.size(), 0);
  for (size_t i = 0; i < targets_.size(); ++i) {
    targets_[i].spec = list_.targets[i];
    targets_[i].backend = std::move(targets[i]);
  }
  size_t threads = options_.io_threads;
  if (threads == 0) threads = std::max<size_t>(8, 2 * targets_.size());
  io_ = std::make_unique<TaskPool>(threads, 4 * threads);
}

ErasureBackend::~ErasureBackend() = default;

std::string ErasureBackend::Location() const {
  std::string out = "erasure:" + std::to_string(list_.data_shards) + "+" +
                    std::to_string(list_.parity_shards) + "[";
  for (size_t i = 0; i < targets_.size(); ++i) {
    if (i) out += ",";
    out += targets_[i].spec.name;
  }
  return out + "]";
}

// --- Health ---

StatusOr<uint64_t> ErasureBackend::RemoveStaleTemporaries(int64_t cutoff_ns) {
  uint64_t removed = 0;
  for (size_t t = 0; t < targets_.size(); ++t) {
    if (!IsUp(t)) continue;
    auto n = targets_[t].backend->RemoveStaleTemporaries(cutoff_ns);
    if (!n.ok()) {
      RecordFailure(t, n.status());
      continue;  // a target that is away is cleaned next time
    }
    removed += *n;
  }
  return removed;
}

bool ErasureBackend::IsUp(size_t target) const {
  std::lock_guard lock(targets_[target].mu);
  return targets_[target].down_until_ns <= NowNanos();
}

void ErasureBackend::RecordFailure(size_t target, const Status& status) {
  if (!IsTargetFault(status)) return;
  TargetRuntime& t = targets_[target];
  std::lock_guard lock(t.mu);
  t.failures++;
  const int64_t base_ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(options_.down_time).count();
  const int64_t max_ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(options_.max_down_time).count();
  const int shift = static_cast<int>(std::min<uint64_t>(t.failures - 1, 20));
  t.down_until_ns = NowNanos() + std::min(max_ns, base_ns << shift);
  t.last_error = std::string(status.message());
}

void ErasureBackend::RecordSuccess(size_t target, double latency_ms) {
  TargetRuntime& t = targets_[target];
  std::lock_guard lock(t.mu);
  t.failures = 0;
  t.down_until_ns = 0;
  if (latency_ms >= 0) {
    t.latency_ms = t.latency_ms == 0 ? latency_ms : 0.8 * t.latency_ms + 0.2 * latency_ms;
  }
}

void ErasureBackend::SetTargetUp(size_t target, bool up) {
  TargetRuntime& t = targets_[target];
  std::lock_guard lock(t.mu);
  t.down_until_ns = up ? 0 : INT64_MAX;
  if (up) t.failures = 0;
}

std::vector<size_t> ErasureBackend::ReadOrder(const std::vector<size_t>& holders) const {
  std::vector<std::pair<std::pair<int, double>, size_t>> keyed;
  for (size_t t : holders) {
    std::lock_guard lock(targets_[t].mu);
    const bool up = targets_[t].down_until_ns <= NowNanos();
    keyed.push_back({{up ? 0 : 1, targets_[t].latency_ms}, t});
  }
  std::stable_sort(keyed.begin(), keyed.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<size_t> order;
  for (const auto& k : keyed) order.push_back(k.second);
  return order;
}

std::vector<TargetHealth> ErasureBackend::Health() const {
  std::vector<TargetHealth> out(targets_.size());
  for (size_t i = 0; i < targets_.size(); ++i) {
    const TargetRuntime& t = targets_[i];
    std::lock_guard lock(t.mu);
    out[i].name = t.spec.name;
    out[i].up = t.down_until_ns <= NowNanos();
    out[i].failures = t.failures;
    out[i].latency_ms = t.latency_ms;
    out[i].last_error = t.last_error;
  }
  std::shared_lock lock(map_mu_);
  for (const auto& [name, object] : map_) {
    for (const auto& s : object.shards) out[s.target].shards_known++;
  }
  for (size_t i = 0; i < targets_.size(); ++i) out[i].bytes_known = used_bytes_[i];
  return out;
}

std::vector<TargetFill> ErasureBackend::TargetFills() const {
  std::vector<TargetFill> fills;
  std::shared_lock lock(map_mu_);
  for (size_t t = 0; t < targets_.size(); ++t) {
    const TargetSpec& spec = targets_[t].spec;
    fills.push_back({spec.weight, spec.capacity, used_bytes_[t],
                     spec.state == TargetState::kActive && IsUp(t)});
  }
  return fills;
}

// --- Placement map ---

uint64_t ErasureBackend::ShardObjectSize(const ObjectShards& object) {
  const uint64_t payload = object.scheme == ShardScheme::kReplica
                               ? object.length
                               : ShardLength(object.length, object.data_shards);
  return kShardHeaderSize + payload;
}

void ErasureBackend::AccountLocked(const ObjectShards& object, bool add) {
  const uint64_t size = ShardObjectSize(object);
  for (const auto& s : object.shards) {
    uint64_t& used = used_bytes_[s.target];
    used = add ? used + size : used - std::min(used, size);
  }
}

void ErasureBackend::Remember(const std::string& name, const ObjectShards& shards) {
  std::unique_lock lock(map_mu_);
  auto [it, inserted] = map_.try_emplace(name, shards);
  if (inserted) {
    AccountLocked(shards, true);
    return;
  }
  AccountLocked(it->second, false);
  if (SameCoding(it->second, shards)) {
    for (const auto& s : shards.shards) AddShard(it->second, s.index, s.target);
  } else if (!Readable(it->second) || DistinctIndexes(shards) > DistinctIndexes(it->second)) {
    // Two codings of one object (written under different settings, or the
    // orphans of a failed write): a write in progress replaces a coding that
    // cannot be read, shard by shard; otherwise the more complete one wins.
    // Either decodes to the same bytes.
    it->second = shards;
  }
  AccountLocked(it->second, true);
}

void ErasureBackend::Forget(const std::string& name) {
  std::unique_lock lock(map_mu_);
  auto it = map_.find(name);
  if (it == map_.end()) return;
  AccountLocked(it->second, false);
  map_.erase(it);
}

StatusOr<std::unordered_map<std::string, ErasureBackend::ObjectShards>> ErasureBackend::ListShards(
    std::string_view prefix, std::vector<std::string>* unlisted) {
  std::vector<std::future<StatusOr<std::vector<ObjectInfo>>>> listings;
  for (size_t t = 0; t < targets_.size(); ++t) {
    // A target known to be down is not asked (each call would cost its
    // retries); it counts as unlisted.
    const bool up = IsUp(t);
    listings.push_back(io_->Submit([this, t, up, p = std::string(prefix)] {
      if (!up) {
        return StatusOr<std::vector<ObjectInfo>>(
            UnavailableError(targets_[t].backend->Location() + ": down"));
      }
      std::vector<ObjectInfo> names;
      Status listed = targets_[t].backend->List(p, [&](const ObjectInfo& info) {
        names.push_back(info);
        return Status::Ok();
      });
      if (!listed.ok()) return StatusOr<std::vector<ObjectInfo>>(listed);
      return StatusOr<std::vector<ObjectInfo>>(std::move(names));
    }));
  }
  // Every coding seen per object (an object written again under other
  // settings, or an orphan of a failed write, has shards of two codings).
  std::unordered_map<std::string, std::vector<ObjectShards>> codings;
  std::vector<std::string> failed;
  for (size_t t = 0; t < targets_.size(); ++t) {
    auto names = listings[t].get();
    if (!names.ok()) {
      if (IsUp(t)) RecordFailure(t, names.status());
      failed.push_back(targets_[t].spec.name + ": " + std::string(names.status().message()));
      continue;
    }
    RecordSuccess(t, -1);
    for (const ObjectInfo& info : *names) {
      auto parsed = ParseShardObjectName(info.name);
      if (!parsed.ok()) continue;  // the target list, or foreign objects
      ObjectShards coding;
      coding.scheme = parsed->scheme;
      coding.data_shards = parsed->data_shards;
      coding.parity_shards = parsed->parity_shards;
      coding.length = parsed->object_length;
      std::vector<ObjectShards>& seen = codings[parsed->object];
      auto same = std::find_if(seen.begin(), seen.end(),
                               [&](const ObjectShards& o) { return SameCoding(o, coding); });
      if (same == seen.end()) same = seen.insert(seen.end(), coding);
      AddShard(*same, parsed->index, t);
    }
  }
  std::unordered_map<std::string, ObjectShards> objects;
  for (auto& [name, seen] : codings) {
    objects.emplace(name, std::move(*std::max_element(seen.begin(), seen.end(), BetterCoding)));
  }
  if (unlisted) *unlisted = failed;
  if (failed.size() > static_cast<size_t>(list_.parity_shards)) {
    std::string message = Location() + ": list " + std::string(prefix) + ": " +
                          std::to_string(failed.size()) + " targets cannot be listed";
    for (const std::string& f : failed) message += "; " + f;
    return UnavailableError(message);
  }
  return objects;
}

StatusOr<ErasureBackend::ObjectShards> ErasureBackend::Locate(std::string_view name) {
  {
    std::shared_lock lock(map_mu_);
    auto it = map_.find(std::string(name));
    if (it != map_.end()) return it->second;
  }
  // Unknown here (another process wrote it, or it does not exist): list this
  // object's shard names on every target, one request each.
  PXB_ASSIGN_OR_RETURN(auto objects, ListShards(std::string(name) + ".", nullptr));
  auto it = objects.find(std::string(name));
  if (it == objects.end()) {
    return NotFoundError(Location() + ": " + std::string(name) + ": no shard on any target");
  }
  Remember(it->first, it->second);
  return it->second;
}

Status ErasureBackend::ScanObjects(
    std::string_view prefix,
    const std::function<Status(const std::string&, const ObjectShards&)>& fn,
    std::vector<std::string>* unlisted) {
  PXB_ASSIGN_OR_RETURN(auto objects, ListShards(prefix, unlisted));
  std::vector<std::string> names;
  names.reserve(objects.size());
  for (auto& [name, shards] : objects) {
    {
      // The listing is the truth for what it saw: replace, do not merge, so
      // shards deleted since are forgotten.
      std::unique_lock lock(map_mu_);
      auto it = map_.find(name);
      if (it != map_.end()) AccountLocked(it->second, false);
      map_[name] = shards;
      AccountLocked(shards, true);
    }
    names.push_back(name);
  }
  std::sort(names.begin(), names.end());
  for (const std::string& name : names) PXB_RETURN_IF_ERROR(fn(name, objects[name]));
  return Status::Ok();
}

// --- Backend ---

Status ErasureBackend::Create(bool exclusive) {
  for (size_t t = 0; t < targets_.size(); ++t) {
    Backend& backend = *targets_[t].backend;
    Status created = backend.Create(/*exclusive=*/false);
    if (!created.ok()) return created.WithContext("target " + targets_[t].spec.name);
    if (!exclusive) continue;
    bool has_objects = false;
    Status listed = backend.List("", [&](const ObjectInfo& info) {
      if (!info.name.starts_with(kTargetListPrefix)) has_objects = true;
      return Status::Ok();
    });
    if (!listed.ok()) return listed.WithContext("target " + targets_[t].spec.name);
    if (has_objects) {
      return AlreadyExistsError("target " + targets_[t].spec.name + " (" + backend.Location() +
                                ") already holds a repository");
    }
  }
  return StoreTargetList();
}

Status ErasureBackend::StoreTargetList() {
  const Bytes encoded = EncodeTargetList(list_);
  const std::string name = TargetListObjectName(encoded);
  std::string failures;
  for (size_t t = 0; t < targets_.size(); ++t) {
    Status put = targets_[t].backend->Put(name, encoded);
    if (!put.ok()) {
      RecordFailure(t, put);
      failures += "; " + targets_[t].spec.name + ": " + std::string(put.message());
    }
  }
  if (!failures.empty()) {
    return UnavailableError(Location() + ": storing the target list failed" + failures);
  }
  return Status::Ok();
}

void ErasureBackend::RecycleShards(std::vector<PageBytes>& shards) const {
  // Small ones (indexes, snapshots) cost little to allocate.
  for (PageBytes& shard : shards) {
    if (shard.capacity() >= (size_t{1} << 20)) shard_buffers_.Give(std::move(shard));
  }
  shards.clear();
}

StatusOr<std::vector<PageBytes>> ErasureBackend::EncodeShards(
    std::string_view name, ByteView data, ShardScheme scheme, int k, int m,
    std::vector<ShardHeader>* unsealed) const {
  const ObjectNameHash id = HashObjectName(name);
  std::vector<PageBytes> shards;
  if (scheme == ShardScheme::kReplica) {
    for (int i = 0; i <= m; ++i) {
      PXB_ASSIGN_OR_RETURN(ShardHeader header, ShardHeader::ForReplica(id, data.size(), m, i));
      PXB_ASSIGN_OR_RETURN(Bytes shard, EncodeShard(header, data));
      shards.emplace_back(shard.begin(), shard.end());
    }
    return shards;
  }
  PXB_ASSIGN_OR_RETURN(ReedSolomon codec, ReedSolomon::Create(k, m));
  const uint64_t shard_len = ShardLength(data.size(), k);
  for (int j = 0; j < k + m; ++j) {
    // Page-aligned, so the local targets write it without a copy, and not
    // cleared: the header, the payload and the padding are all written.
    PageBytes shard = shard_buffers_.Take(kShardHeaderSize + shard_len);
    shard.resize(kShardHeaderSize + shard_len);
    std::byte* payload = shard.data() + kShardHeaderSize;
    // Data shards hold their stretch of the object, zero-padded at the end;
    // parity shards are all written by the encoder.
    if (j < k) {
      const uint64_t begin = std::min<uint64_t>(data.size(), j * shard_len);
      const uint64_t end = std::min<uint64_t>(data.size(), begin + shard_len);
      if (end > begin) std::memcpy(payload, data.data() + begin, end - begin);
      std::memset(payload + (end - begin), 0, shard_len - (end - begin));
    }
    shards.push_back(std::move(shard));
  }
  std::vector<const std::byte*> in;
  std::vector<std::byte*> out;
  for (int j = 0; j < k; ++j) in.push_back(shards[j].data() + kShardHeaderSize);
  for (int r = 0; r < m; ++r) out.push_back(shards[k + r].data() + kShardHeaderSize);
  codec.Encode(in, out, shard_len);
  for (int i = 0; i < k + m; ++i) {
    PXB_ASSIGN_OR_RETURN(ShardHeader header, ShardHeader::ForReedSolomon(id, data.size(), k, m, i));
    if (unsealed != nullptr) {
      unsealed->push_back(header);
    } else {
      PXB_RETURN_IF_ERROR(WriteShardHeader(header, shards[i]));
    }
  }
  return shards;
}

Status ErasureBackend::PutShard(std::string_view name, const ObjectShards& coding, int index,
                                size_t target, ByteView shard) {
  PXB_ASSIGN_OR_RETURN(ShardHeader header, DecodeShardHeader(shard));
  const std::string shard_name = ShardObjectName(name, header);
  Status put = targets_[target].backend->Put(shard_name, shard);
  if (!put.ok()) {
    RecordFailure(target, put);
    return put.WithContext("target " + targets_[target].spec.name);
  }
  RecordSuccess(target, -1);
  ObjectShards added = coding;
  added.shards = {{index, target}};
  Remember(std::string(name), added);
  return Status::Ok();
}

StatusOr<ShardHeader> ErasureBackend::ShardHeaderFor(std::string_view name,
                                                     const ObjectShards& coding, int index) {
  if (coding.scheme == ShardScheme::kReplica) {
    return ShardHeader::ForReplica(HashObjectName(name), coding.length, coding.parity_shards,
                                   index);
  }
  return ShardHeader::ForReedSolomon(HashObjectName(name), coding.length, coding.data_shards,
                                     coding.parity_shards, index);
}

Status ErasureBackend::DeleteShard(std::string_view name, const ObjectShards& coding, int index,
                                   size_t target) {
  PXB_ASSIGN_OR_RETURN(ShardHeader header, ShardHeaderFor(name, coding, index));
  Status deleted = targets_[target].backend->Delete(ShardObjectName(name, header));
  if (!deleted.ok() && !IsNotFound(deleted)) {
    RecordFailure(target, deleted);
    return deleted.WithContext("target " + targets_[target].spec.name);
  }
  std::unique_lock lock(map_mu_);
  auto it = map_.find(std::string(name));
  if (it != map_.end() && SameCoding(it->second, coding)) {
    AccountLocked(it->second, false);
    auto& shards = it->second.shards;
    shards.erase(std::remove_if(shards.begin(), shards.end(),
                                [&](const ShardLocation& s) {
                                  return s.index == index && s.target == target;
                                }),
                 shards.end());
    AccountLocked(it->second, true);
  }
  return Status::Ok();
}

Status ErasureBackend::Put(std::string_view name, ByteView data) {
  PXB_RETURN_IF_ERROR(ValidateObjectName(name));
  if (name.starts_with(kTargetListPrefix)) {
    return InvalidArgumentError(Location() + ": put " + std::string(name) +
                                ": targets/ is reserved for the target list");
  }
  ObjectShards coding;
  coding.length = data.size();
  int required;
  if (data.size() <= list_.replica_threshold) {
    coding.scheme = ShardScheme::kReplica;
    coding.data_shards = 1;
    coding.parity_shards = list_.parity_shards;
    required = std::min(list_.parity_shards + 1, 1 + list_.min_shards - list_.data_shards);
  } else {
    coding.scheme = ShardScheme::kReedSolomon;
    coding.data_shards = list_.data_shards;
    coding.parity_shards = list_.parity_shards;
    required = list_.min_shards;
  }
  const int total = coding.data_shards + coding.parity_shards;
  {
    // Objects are immutable: a complete one need not be written again.
    std::shared_lock lock(map_mu_);
    auto it = map_.find(std::string(name));
    if (it != map_.end() && SameCoding(it->second, coding) &&
        DistinctIndexes(it->second) == static_cast<size_t>(total)) {
      return Status::Ok();
    }
  }
  std::vector<ShardHeader> unsealed;
  PXB_ASSIGN_OR_RETURN(
      std::vector<PageBytes> shards,
      EncodeShards(name, data, coding.scheme, coding.data_shards, coding.parity_shards, &unsealed));
  // Each shard's header (and checksum) is written by the task that stores it.
  std::unique_ptr<bool[]> sealed(new bool[total]);
  for (int i = 0; i < total; ++i) sealed[i] = unsealed.empty();
  struct Recycle {
    const ErasureBackend& backend;
    std::vector<PageBytes>& shards;
    ~Recycle() { backend.RecycleShards(shards); }
  } recycle{*this, shards};

  std::vector<PlacementCandidate> candidates(targets_.size());
  {
    // A target with a capacity takes no shard that would overflow what the
    // listings and writes know it holds, and fewer the fuller it is.
    const uint64_t shard_size = shards.empty() ? 0 : shards[0].size();
    std::shared_lock lock(map_mu_);
    for (size_t t = 0; t < targets_.size(); ++t) {
      const TargetSpec& spec = targets_[t].spec;
      const bool has_room = spec.capacity == 0 || used_bytes_[t] + shard_size <= spec.capacity;
      candidates[t] = {spec.name, spec.region, spec.zone,
                       PlacementWeight(spec.weight, spec.capacity, used_bytes_[t]),
                       spec.state == TargetState::kActive && has_room && IsUp(t)};
    }
  }
  std::vector<size_t> placement = PlaceShards(candidates, name, static_cast<size_t>(total));

  std::vector<bool> landed(total, false);
  std::vector<std::string> errors;
  // Two rounds: shards whose target failed are placed again on the targets
  // still up.
  for (int round = 0; round < 2 && !placement.empty(); ++round) {
    std::vector<std::pair<int, std::future<Status>>> writes;
    for (int i = 0; i < total; ++i) {
      if (landed[i]) continue;
      const size_t t = placement[i];
      writes.emplace_back(i, io_->Submit([&, i, t] {
        if (!sealed[i]) {
          PXB_RETURN_IF_ERROR(WriteShardHeader(unsealed[i], shards[i]));
          sealed[i] = true;
        }
        return PutShard(name, coding, i, t, shards[i]);
      }));
    }
    bool any_failed = false;
    for (auto& [i, write] : writes) {
      Status s = write.get();
      if (s.ok()) {
        landed[i] = true;
      } else {
        any_failed = true;
        errors.push_back("shard " + std::to_string(i) + ": " + std::string(s.message()));
        candidates[placement[i]].writable = false;
      }
    }
    if (!any_failed) break;
    // Place only the shards that did not land: on writable targets holding
    // none of this object's shards, in rendezvous order; only when none is
    // left, on the writable target holding the fewest.
    std::vector<int> held(targets_.size(), 0);
    for (int i = 0; i < total; ++i) {
      if (landed[i]) held[placement[i]]++;
    }
    const std::vector<size_t> ranked = RankTargets(candidates, name);
    bool placed_all = true;
    for (int i = 0; i < total; ++i) {
      if (landed[i]) continue;
      size_t best = targets_.size();
      for (size_t t : ranked) {
        if (!candidates[t].writable) continue;
        if (best == targets_.size() || held[t] < held[best]) best = t;
        if (held[t] == 0) break;
      }
      if (best == targets_.size()) {
        placed_all = false;
        break;
      }
      placement[i] = best;
      held[best]++;
    }
    if (!placed_all) break;
  }
  const int count = static_cast<int>(std::count(landed.begin(), landed.end(), true));
  if (count < total) degraded_writes_++;
  if (count >= required) return Status::Ok();
  std::string message = Location() + ": put " + std::string(name) + ": only " +
                        std::to_string(count) + " of " + std::to_string(total) +
                        " shards stored, " + std::to_string(required) + " needed";
  if (errors.empty()) message += "; no target can take writes";
  for (const std::string& e : errors) message += "; " + e;
  return UnavailableError(message);
}

StatusOr<ByteView> ErasureBackend::ReadShardInto(std::string_view name, const ObjectShards& object,
                                                 int index, bool whole, uint64_t offset,
                                                 uint64_t length, bool skip_down,
                                                 ReadBuffer& buffer) {
  std::vector<size_t> holders;
  bool any_up = false;
  for (const auto& s : object.shards) {
    if (s.index == index) {
      holders.push_back(s.target);
      any_up |= IsUp(s.target);
    }
  }
  if (holders.empty()) {
    return NotFoundError("shard " + std::to_string(index) + " is on no target");
  }
  if (skip_down && !any_up) {
    return UnavailableError("shard " + std::to_string(index) + ": " + std::string(kTargetsDown));
  }
  auto header = ShardHeaderFor(name, object, index);
  PXB_RETURN_IF_ERROR(header.status());
  const std::string shard_name = ShardObjectName(name, *header);
  Status last;
  for (size_t t : ReadOrder(holders)) {
    const int64_t start = NowNanos();
    auto bytes =
        whole ? targets_[t].backend->Read(shard_name, 0, kWholeObject, buffer)
              : targets_[t].backend->Read(shard_name, kShardHeaderSize + offset, length, buffer);
    if (!bytes.ok()) {
      RecordFailure(t, bytes.status());
      last = bytes.status().WithContext("target " + targets_[t].spec.name);
      continue;
    }
    RecordSuccess(t, static_cast<double>(NowNanos() - start) / 1e6);
    if (whole) {
      auto verified = VerifyShard(*bytes);
      if (!verified.ok()) {
        last = verified.status().WithContext("target " + targets_[t].spec.name + ": shard " +
                                             std::to_string(index));
        continue;
      }
      if (!(*verified == *header)) {
        last = DataLossError("target " + targets_[t].spec.name + ": shard " +
                             std::to_string(index) + " has the header of another object");
        continue;
      }
    }
    return bytes;
  }
  return last;
}

StatusOr<Bytes> ErasureBackend::GetReplica(std::string_view name, const ObjectShards& object,
                                           uint64_t offset, uint64_t length) {
  const bool whole = offset == 0 && length == object.length;
  std::vector<int> copies;
  for (const auto& s : object.shards) {
    if (std::find(copies.begin(), copies.end(), s.index) == copies.end()) copies.push_back(s.index);
  }
  std::string errors;
  // Copies on targets that are up first; those on down targets only if
  // none of those worked.
  std::set<int> failed;  // asked and failed: not asked again
  ReadBuffer buffer;
  for (bool skip_down : {true, false}) {
    for (int index : copies) {
      if (failed.count(index)) continue;
      auto bytes = ReadShardInto(name, object, index, whole, offset, length, skip_down, buffer);
      if (bytes.ok()) {
        const ByteView payload = whole ? bytes->subspan(kShardHeaderSize) : *bytes;
        return Bytes(payload.begin(), payload.end());
      }
      if (bytes.status().message().ends_with(kTargetsDown)) continue;  // skipped as down
      failed.insert(index);
      errors += "; copy " + std::to_string(index) + ": " + std::string(bytes.status().message());
    }
  }
  return DataLossError(Location() + ": get " + std::string(name) + ": no readable copy" + errors);
}

StatusOr<Bytes> ErasureBackend::GetReedSolomon(std::string_view name, const ObjectShards& object,
                                               uint64_t offset, uint64_t length) {
  const int k = object.data_shards;
  const int m = object.parity_shards;
  const uint64_t shard_len = ShardLength(object.length, k);
  Bytes out(length);
  if (length == 0) return out;
  const bool whole = offset == 0 && length == object.length;
  // The data shards the range touches, and the byte window of each.
  const int first = static_cast<int>(offset / shard_len);
  const int last = static_cast<int>((offset + length - 1) / shard_len);
  uint64_t window_begin = shard_len, window_end = 0;
  std::vector<std::pair<uint64_t, uint64_t>> spans(k);
  for (int j = first; j <= last; ++j) {
    const auto [begin, end] = DataShardSpan(j, shard_len, offset, length);
    spans[j] = {begin, end};
    window_begin = std::min(window_begin, begin);
    window_end = std::max(window_end, end);
  }
  if (whole) {
    window_begin = 0;
    window_end = shard_len;
  }
  const uint64_t window = window_end - window_begin;

  // Shards whose targets are all down are skipped at first (a down target
  // costs its retries on every read), and tried last if still needed.
  auto read_window = [&](int index, bool skip_down = true) {
    return io_->Submit([&, index, skip_down]() -> StatusOr<Bytes> {
      thread_local ReadBuffer shard_buffer;
      PXB_ASSIGN_OR_RETURN(ByteView bytes, ReadShardInto(name, object, index, whole, window_begin,
                                                         window, skip_down, shard_buffer));
      if (whole) bytes = bytes.subspan(kShardHeaderSize);
      return Bytes(bytes.begin(), bytes.end());
    });
  };
  // The data shards first, in parallel; parity only for the ones missing.
  std::vector<Bytes> shards(k + m);
  std::vector<bool> present(k + m, false);
  // Shards whose read failed on a target that was asked (not skipped as
  // down): never asked again for this read.
  std::vector<bool> failed(k + m, false);
  std::string errors;
  auto record = [&](int i, StatusOr<Bytes>& bytes) {
    if (bytes.ok()) {
      shards[i] = std::move(*bytes);
      present[i] = true;
      return;
    }
    if (bytes.status().message().ends_with(kTargetsDown)) return;  // skipped, try later
    failed[i] = true;
    errors += "; shard " + std::to_string(i) + ": " + std::string(bytes.status().message());
  };
  std::vector<std::pair<int, std::future<StatusOr<Bytes>>>> reads;
  for (int j = first; j <= last; ++j) reads.emplace_back(j, read_window(j));
  for (auto& [j, read] : reads) {
    auto bytes = read.get();
    record(j, bytes);
  }
  int missing = 0;
  for (int j = first; j <= last; ++j) missing += present[j] ? 0 : 1;
  if (missing > 0) {
    // Decode the window from any k shards: other data shards first, then
    // parity, as many as are still needed each round; first from targets
    // that are up, then, if that is not enough, from down ones too.
    int have = static_cast<int>(std::count(present.begin(), present.end(), true));
    for (bool skip_down : {true, false}) {
      std::vector<int> candidates;
      for (int i = 0; i < k + m; ++i) {
        if (!present[i] && !failed[i] && (!skip_down || i < first || i > last)) {
          candidates.push_back(i);
        }
      }
      size_t next = 0;
      while (have < k && next < candidates.size()) {
        std::vector<std::pair<int, std::future<StatusOr<Bytes>>>> more;
        while (static_cast<int>(more.size()) < k - have && next < candidates.size()) {
          const int i = candidates[next++];
          more.emplace_back(i, read_window(i, skip_down));
        }
        for (auto& [i, read] : more) {
          auto bytes = read.get();
          record(i, bytes);
          if (present[i]) have++;
        }
      }
    }
    if (have < k) {
      return DataLossError(Location() + ": get " + std::string(name) + ": " + std::to_string(have) +
                           " of " + std::to_string(k + m) + " shards readable, " +
                           std::to_string(k) + " needed" + errors);
    }
    std::vector<std::byte*> pointers(k + m);
    for (int i = 0; i < k + m; ++i) {
      if (!present[i]) shards[i].assign(window, std::byte{0});
      pointers[i] = shards[i].data();
    }
    std::unique_ptr<bool[]> flags(new bool[k + m]);
    for (int i = 0; i < k + m; ++i) flags[i] = present[i];
    // Objects written under other settings carry their own k and m.
    std::optional<ReedSolomon> other;
    if (k != codec_.data_shards() || m != codec_.parity_shards()) {
      PXB_ASSIGN_OR_RETURN(ReedSolomon created, ReedSolomon::Create(k, m));
      other = std::move(created);
    }
    const ReedSolomon& codec = other ? *other : codec_;
    Status rebuilt = codec.Reconstruct(pointers, std::span<const bool>(flags.get(), k + m), window);
    if (!rebuilt.ok()) return rebuilt.WithContext(Location() + ": get " + std::string(name));
  }
  for (int j = first; j <= last; ++j) {
    const auto [begin, end] = spans[j];
    std::memcpy(out.data() + (j * shard_len + begin - offset),
                shards[j].data() + (begin - window_begin), end - begin);
  }
  return out;
}

StatusOr<ErasureBackend::ObjectShards> ErasureBackend::LocateRange(std::string_view name,
                                                                   uint64_t offset,
                                                                   uint64_t& length) {
  PXB_RETURN_IF_ERROR(ValidateObjectName(name));
  auto object = Locate(name);
  if (!object.ok()) return object.status();
  if (offset > object->length || (length != kWholeObject && length > object->length - offset)) {
    return OutOfRangeError(Location() + ": get " + std::string(name) + ": range " +
                           std::to_string(offset) + "+" +
                           (length == kWholeObject ? "end" : std::to_string(length)) +
                           " is beyond its " + std::to_string(object->length) + " bytes");
  }
  if (length == kWholeObject) length = object->length - offset;
  return object;
}

Status ErasureBackend::ReadDataShards(std::string_view name, const ObjectShards& object,
                                      uint64_t offset, MutableByteView out) {
  const uint64_t shard_len = ShardLength(object.length, object.data_shards);
  const bool whole = offset == 0 && out.size() == object.length;
  const int first = static_cast<int>(offset / shard_len);
  const int last = static_cast<int>((offset + out.size() - 1) / shard_len);
  std::vector<std::future<Status>> reads;
  for (int j = first; j <= last; ++j) {
    // Plain variables: clang 14 cannot capture structured bindings.
    const auto span = DataShardSpan(j, shard_len, offset, out.size());
    const uint64_t begin = span.first, end = span.second;
    std::byte* into = out.data() + (j * shard_len + begin - offset);
    reads.push_back(io_->Submit([&, j, begin, end, into]() -> Status {
      // Each I/O thread reads into the same buffer shard after shard.
      thread_local ReadBuffer shard_buffer;
      PXB_ASSIGN_OR_RETURN(ByteView bytes, ReadShardInto(name, object, j, whole, begin, end - begin,
                                                         /*skip_down=*/true, shard_buffer));
      const size_t skip = whole ? kShardHeaderSize + begin : 0;
      std::memcpy(into, bytes.data() + skip, end - begin);
      return Status::Ok();
    }));
  }
  Status first_error;
  for (auto& read : reads) {
    Status s = read.get();
    if (first_error.ok()) first_error = s;
  }
  return first_error;
}

StatusOr<ByteView> ErasureBackend::Read(std::string_view name, uint64_t offset, uint64_t length,
                                        ReadBuffer& buffer) {
  auto object = LocateRange(name, offset, length);
  if (!object.ok()) return object.status();
  if (object->scheme == ShardScheme::kReedSolomon && length > 0) {
    MutableByteView out = buffer.Prepare(length);
    if (ReadDataShards(name, *object, offset, out).ok()) return ByteView(out);
  }
  // A replicated object, or a data shard that did not read: Get decodes
  // from any k shards and reports what failed.
  PXB_ASSIGN_OR_RETURN(Bytes bytes, Get(name, offset, length));
  return buffer.Adopt(std::move(bytes));
}

StatusOr<Bytes> ErasureBackend::Get(std::string_view name, uint64_t offset, uint64_t length) {
  auto object = LocateRange(name, offset, length);
  if (!object.ok()) return object.status();
  auto read = object->scheme == ShardScheme::kReplica
                  ? GetReplica(name, *object, offset, length)
                  : GetReedSolomon(name, *object, offset, length);
  if (read.ok()) return read;
  // The map may be stale (shards moved by scrub, or the object deleted by
  // another process): list the object again and retry once.
  Forget(std::string(name));
  auto fresh = Locate(name);
  if (!fresh.ok()) return IsNotFound(fresh.status()) ? fresh.status() : read.status();
  if (fresh->shards.size() == object->shards.size() && SameCoding(*fresh, *object)) return read;
  return fresh->scheme == ShardScheme::kReplica ? GetReplica(name, *fresh, offset, length)
                                                : GetReedSolomon(name, *fresh, offset, length);
}

StatusOr<ObjectInfo> ErasureBackend::Stat(std::string_view name) {
  PXB_RETURN_IF_ERROR(ValidateObjectName(name));
  PXB_ASSIGN_OR_RETURN(ObjectShards object, Locate(name));
  return ObjectInfo{std::string(name), object.length};
}

Status ErasureBackend::List(std::string_view prefix,
                            const std::function<Status(const ObjectInfo&)>& fn) {
  PXB_RETURN_IF_ERROR(ValidateObjectPrefix(prefix));
  return ScanObjects(prefix, [&](const std::string& name, const ObjectShards& object) {
    if (name.starts_with(kTargetListPrefix)) return Status::Ok();
    // Fewer than k shards listed: the object cannot be read, so it is not
    // listed either (check then reports it missing, naming what needs it).
    if (DistinctIndexes(object) < static_cast<size_t>(object.data_shards)) return Status::Ok();
    return fn(ObjectInfo{name, object.length});
  });
}

Status ErasureBackend::Delete(std::string_view name) {
  PXB_RETURN_IF_ERROR(ValidateObjectName(name));
  // A process that opened the repository before `target add` would not see
  // the shards a rebalance copies to the new target: look for a newer list
  // before and after the listing rounds (doc/design.md section 13, "Moves
  // and deletes").
  std::shared_ptr<ErasureBackend> newest = NewestForDelete();
  if (newest.get() != this) {
    Forget(std::string(name));
    return newest->Delete(name);
  }
  Status deleted = DeleteHere(name);
  if (!deleted.ok() && !IsNotFound(deleted)) return deleted;
  newest = NewestForDelete();
  if (newest.get() == this) return deleted;
  Status again = newest->Delete(name);
  return IsNotFound(again) ? deleted : again;
}

Status ErasureBackend::DeleteHere(std::string_view name) {
  // Fresh listings, so that shards another process added are removed too;
  // and again after deleting until a listing finds none, so that a shard a
  // rebalance copied meanwhile does not stay behind as an orphan.
  constexpr int kRounds = 5;
  for (int round = 0; round < kRounds; ++round) {
    Forget(std::string(name));
    auto object = Locate(name);
    if (!object.ok()) {
      Forget(std::string(name));
      if (round > 0 && IsNotFound(object.status())) return Status::Ok();
      return object.status();
    }
    std::string errors;
    for (const auto& s : object->shards) {
      Status deleted = DeleteShard(name, *object, s.index, s.target);
      if (!deleted.ok()) errors += "; " + std::string(deleted.message());
    }
    if (!errors.empty()) {
      Forget(std::string(name));
      return UnavailableError(Location() + ": delete " + std::string(name) + errors);
    }
  }
  Forget(std::string(name));
  return UnavailableError(Location() + ": delete " + std::string(name) +
                          ": new shards of it kept appearing in " + std::to_string(kRounds) +
                          " listings; delete it again once the scrub or rebalance that writes "
                          "them has finished");
}

std::shared_ptr<ErasureBackend> ErasureBackend::NewestForDelete() {
  // One target tells: every list is stored on every target it names.
  for (size_t t = 0; t < targets_.size(); ++t) {
    if (!IsUp(t)) continue;
    Backend& target = *targets_[t].backend;
    std::vector<std::string> names;
    Status listed = target.List(kTargetListPrefix, [&](const ObjectInfo& info) {
      names.push_back(info.name);
      return Status::Ok();
    });
    if (!listed.ok()) continue;
    std::sort(names.begin(), names.end());
    std::lock_guard lock(newer_mu_);
    if (names != list_names_seen_) {
      auto stored = LoadTargetList(target);
      const uint64_t known = newer_ ? newer_->list_.version : list_.version;
      if (stored.ok() && stored->version > known) {
        auto opened = OpenErasureBackend(std::move(*stored), options_, open_);
        if (!opened.ok()) break;  // a new target that cannot be opened: as before
        newer_ = std::move(*opened);
      }
      if (stored.ok()) list_names_seen_ = std::move(names);
    }
    if (newer_) return newer_;
    break;
  }
  // Not owned: a shared_ptr that never deletes this.
  return std::shared_ptr<ErasureBackend>(std::shared_ptr<ErasureBackend>(), this);
}

StatusOr<TargetList> ErasureBackend::NewestStoredTargetList() {
  std::vector<std::future<StatusOr<TargetList>>> loads;
  for (size_t t = 0; t < targets_.size(); ++t) {
    loads.push_back(io_->Submit([this, t] { return LoadTargetList(*targets_[t].backend); }));
  }
  std::optional<TargetList> newest;
  Status last = NotFoundError(Location() + ": no target holds a target list");
  for (size_t t = 0; t < targets_.size(); ++t) {
    auto list = loads[t].get();
    if (!list.ok()) {
      RecordFailure(t, list.status());
      last = list.status().WithContext("target " + targets_[t].spec.name);
      continue;
    }
    if (!newest || NewerTargetList(*list, *newest)) newest = std::move(*list);
  }
  if (!newest) return last;
  return *newest;
}

// --- Opening ---

StatusOr<std::unique_ptr<ErasureBackend>> OpenErasureBackend(TargetList list,
                                                             ErasureOptions options,
                                                             const TargetOpener& open) {
  std::vector<std::unique_ptr<Backend>> backends;
  for (const TargetSpec& t : list.targets) {
    auto backend = open ? open(t) : OpenBackend(t.url);
    if (!backend.ok()) return backend.status().WithContext("target " + t.name);
    backends.push_back(std::move(*backend));
  }
  return ErasureBackend::Create(std::move(list), std::move(backends), options, open);
}

StatusOr<TargetList> LoadTargetList(Backend& backend) {
  std::vector<std::string> names;
  PXB_RETURN_IF_ERROR(backend.List(kTargetListPrefix, [&](const ObjectInfo& info) {
    names.push_back(info.name);
    return Status::Ok();
  }));
  std::sort(names.begin(), names.end());
  std::optional<TargetList> newest;
  Status last = NotFoundError(backend.Location() + ": no target list");
  for (const std::string& name : names) {
    auto bytes = backend.Get(name);
    if (!bytes.ok()) {
      last = bytes.status();
      continue;
    }
    if (TargetListObjectName(*bytes) != name) {
      last = DataLossError(backend.Location() + ": " + name + " does not match its name");
      continue;
    }
    auto list = DecodeTargetList(*bytes);
    if (!list.ok()) {
      last = list.status().WithContext(name);
      continue;
    }
    if (!newest || NewerTargetList(*list, *newest)) newest = std::move(*list);
  }
  if (!newest) return last;
  return *newest;
}

StatusOr<std::unique_ptr<Backend>> OpenRepositoryBackend(std::string_view url) {
  PXB_ASSIGN_OR_RETURN(std::unique_ptr<Backend> backend, OpenBackend(url));
  auto config = backend->Stat("config");
  if (config.ok() || !IsNotFound(config.status())) return backend;
  auto list = LoadTargetList(*backend);
  if (!list.ok()) {
    if (IsNotFound(list.status())) return backend;  // an empty or new repository
    return list.status();
  }
  PXB_ASSIGN_OR_RETURN(auto erasure, OpenErasureBackend(std::move(*list)));
  return std::unique_ptr<Backend>(std::move(erasure));
}

}  // namespace pxb
