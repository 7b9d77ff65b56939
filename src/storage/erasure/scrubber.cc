#include "storage/erasure/scrubber.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "storage/erasure/shard_placer.h"

namespace pxb {
namespace {

int TotalShards(const ErasureBackend::ObjectShards& object) {
  return object.data_shards + object.parity_shards;
}

// Scrubs one object; appends to the report.
class ObjectScrub {
 public:
  ObjectScrub(ErasureBackend& backend, const ScrubOptions& options, ScrubReport& report,
              const std::string& name, const ErasureBackend::ObjectShards& object)
      : backend_(backend), options_(options), report_(report), name_(name), object_(object) {}

  void Run() {
    problem_.object = name_;
    problem_.total = static_cast<size_t>(TotalShards(object_));
    Inspect();
    const size_t good_before = GoodIndexes().size();
    problem_.good = good_before;
    problem_.redundancy = RedundancyOf(object_, good_before);
    const bool needs_work = good_before < problem_.total || !corrupt_.empty() ||
                            HasDrainingShards() || HasDoubledShards();
    if (options_.repair && needs_work && good_before >= static_cast<size_t>(object_.data_shards)) {
      Status repaired = Repair();
      if (!repaired.ok()) problem_.details.push_back("repair: " + std::string(repaired.message()));
      problem_.repaired = repaired.ok();
    }
    if (options_.repair && options_.rebalance && problem_.details.empty()) {
      Status moved = Rebalance();
      if (!moved.ok()) problem_.details.push_back("rebalance: " + std::string(moved.message()));
    }
    const Redundancy after = RedundancyOf(object_, GoodIndexes().size());
    switch (after) {
      case Redundancy::kFull:
        report_.objects_full++;
        break;
      case Redundancy::kDegraded:
        report_.objects_degraded++;
        break;
      case Redundancy::kAtRisk:
        report_.objects_at_risk++;
        break;
      case Redundancy::kLost:
        report_.objects_lost++;
        break;
    }
    if (needs_work || !problem_.details.empty()) report_.problems.push_back(std::move(problem_));
  }

 private:
  struct Held {
    int index;
    size_t target;
  };

  // Reads (or, without verify, trusts) every listed shard.
  void Inspect() {
    for (const auto& s : object_.shards) {
      if (!options_.verify) {
        good_.push_back({s.index, s.target});
        continue;
      }
      auto header = ErasureBackend::ShardHeaderFor(name_, object_, s.index);
      if (!header.ok()) continue;
      const std::string shard_name = ShardObjectName(name_, *header);
      auto bytes = backend_.target(s.target).Get(shard_name);
      const std::string where = "shard " + std::to_string(s.index) + " on " +
                                backend_.target_list().targets[s.target].name;
      if (!bytes.ok()) {
        if (IsNotFound(bytes.status())) {
          problem_.details.push_back(where + ": gone since the listing");
        } else {
          problem_.details.push_back(where + ": " + std::string(bytes.status().message()));
        }
        continue;
      }
      report_.shards_read++;
      report_.bytes_read += bytes->size();
      auto verified = VerifyShard(*bytes);
      if (!verified.ok() || !(*verified == *header)) {
        report_.shards_corrupt++;
        corrupt_.push_back({s.index, s.target});
        problem_.details.push_back(where + ": " +
                                   (verified.ok() ? "header of another object"
                                                  : std::string(verified.status().message())));
        continue;
      }
      good_.push_back({s.index, s.target});
    }
    const auto good = GoodIndexes();
    for (int i = 0; i < TotalShards(object_); ++i) {
      if (!good.count(i)) {
        bool corrupt = false;
        for (const Held& c : corrupt_) corrupt |= c.index == i;
        if (!corrupt) {
          report_.shards_missing++;
          problem_.details.push_back("shard " + std::to_string(i) + ": missing");
        }
      }
    }
  }

  std::set<int> GoodIndexes() const {
    std::set<int> indexes;
    for (const Held& h : good_) indexes.insert(h.index);
    return indexes;
  }

  bool Draining(size_t target) const {
    return backend_.target_list().targets[target].state == TargetState::kDraining;
  }
  bool HasDrainingShards() const {
    for (const Held& h : good_) {
      if (Draining(h.target)) return true;
    }
    return false;
  }
  std::map<size_t, int> ShardsPerTarget() const {
    std::map<size_t, int> count;
    for (const Held& h : good_) count[h.target]++;
    return count;
  }
  // Doubled and a writable target holds none of this object's shards.
  bool HasDoubledShards() const {
    const auto per_target = ShardsPerTarget();
    bool doubled = false;
    for (const auto& [t, n] : per_target) doubled |= n > 1;
    if (!doubled) return false;
    for (size_t t = 0; t < backend_.target_count(); ++t) {
      if (!per_target.count(t) && Writable(t)) return true;
    }
    return false;
  }
  bool Writable(size_t target) const { return !Draining(target) && backend_.IsUp(target); }

  // The writable target that holds the fewest of this object's shards (then
  // the fewest in its region and zone), in rendezvous order; `avoid` holds
  // no new shard. Returns target_count() when none can.
  size_t ChooseTarget(const std::set<size_t>& avoid) const {
    const auto& specs = backend_.target_list().targets;
    std::vector<PlacementCandidate> candidates;
    for (const TargetSpec& t : specs) candidates.push_back({t.name, t.region, t.zone, t.weight});
    std::map<size_t, int> per_target;
    std::map<std::string, int> per_region;
    std::map<std::string, int> per_zone;
    for (const Held& h : good_) {
      per_target[h.target]++;
      per_region[specs[h.target].region]++;
      per_zone[specs[h.target].region + "/" + specs[h.target].zone]++;
    }
    size_t best = backend_.target_count();
    std::tuple<int, int, int> best_key{INT32_MAX, INT32_MAX, INT32_MAX};
    for (size_t t : RankTargets(candidates, name_)) {
      if (avoid.count(t) || !Writable(t)) continue;
      std::tuple<int, int, int> key{per_target[t], per_region[specs[t].region],
                                    per_zone[specs[t].region + "/" + specs[t].zone]};
      if (key < best_key) {
        best_key = key;
        best = t;
      }
    }
    return best;
  }

  Status Repair() {
    // The whole object, decoded (and verified) from any k good shards.
    PXB_ASSIGN_OR_RETURN(Bytes data, backend_.Get(name_));
    PXB_ASSIGN_OR_RETURN(std::vector<Bytes> shards,
                         backend_.EncodeShards(name_, data, object_.scheme, object_.data_shards,
                                               object_.parity_shards));
    // 1. Rebuild missing and corrupt shards.
    std::set<int> good = GoodIndexes();
    for (int i = 0; i < TotalShards(object_); ++i) {
      if (good.count(i)) continue;
      const size_t target = ChooseTarget({});
      if (target == backend_.target_count()) return UnavailableError("no target can take a shard");
      PXB_RETURN_IF_ERROR(backend_.PutShard(name_, object_, i, target, shards[i]));
      good_.push_back({i, target});
      report_.shards_rebuilt++;
      // A corrupt copy elsewhere goes once its replacement landed.
      for (const Held& c : corrupt_) {
        if (c.index == i && c.target != target) PXB_RETURN_IF_ERROR(DeleteShard(c));
      }
    }
    // 2. Move shards off draining targets, and undouble: put the copy
    // first, delete the old one after.
    for (size_t n = 0; n < good_.size(); ++n) {
      const Held held = good_[n];
      const auto per_target = ShardsPerTarget();
      const bool move = Draining(held.target) || per_target.at(held.target) > 1;
      if (!move) continue;
      // Undoubling only helps onto a target without a shard of this object;
      // draining must go on even if that doubles a shard elsewhere.
      std::set<size_t> avoid{held.target};
      if (!Draining(held.target)) {
        for (const auto& [t, count] : per_target) avoid.insert(t);
      }
      const size_t target = ChooseTarget(avoid);
      if (target == backend_.target_count()) {
        if (Draining(held.target)) return UnavailableError("no target can take a draining shard");
        continue;  // doubled, and no better place: keep it
      }
      PXB_RETURN_IF_ERROR(
          backend_.PutShard(name_, object_, held.index, target, shards[held.index]));
      good_[n].target = target;
      PXB_RETURN_IF_ERROR(DeleteShard(held));
      report_.shards_moved++;
    }
    return Status::Ok();
  }

  // Moves good shards that sit outside the targets placement picks now to
  // a picked target that holds none of this object's shards: copy, verify
  // the copy landed, then delete the original.
  Status Rebalance() {
    const auto& specs = backend_.target_list().targets;
    std::vector<PlacementCandidate> candidates;
    for (size_t t = 0; t < specs.size(); ++t) {
      candidates.push_back({specs[t].name, specs[t].region, specs[t].zone, specs[t].weight,
                            specs[t].state == TargetState::kActive && Writable(t)});
    }
    const std::vector<size_t> placement =
        PlaceShards(candidates, name_, static_cast<size_t>(TotalShards(object_)));
    if (placement.empty()) return Status::Ok();
    std::multiset<size_t> wanted(placement.begin(), placement.end());
    for (const Held& h : good_) {
      auto it = wanted.find(h.target);
      if (it != wanted.end()) wanted.erase(it);
    }
    // `wanted` now holds the picked targets still short of a shard.
    for (size_t n = 0; n < good_.size() && !wanted.empty(); ++n) {
      const Held held = good_[n];
      if (std::count(placement.begin(), placement.end(), held.target) >=
          static_cast<std::ptrdiff_t>(ShardsPerTarget().at(held.target))) {
        continue;  // this target is meant to hold what it holds
      }
      const size_t to = *wanted.begin();
      PXB_ASSIGN_OR_RETURN(ShardHeader header,
                           ErasureBackend::ShardHeaderFor(name_, object_, held.index));
      const std::string shard_name = ShardObjectName(name_, header);
      PXB_ASSIGN_OR_RETURN(Bytes shard, backend_.target(held.target).Get(shard_name));
      PXB_RETURN_IF_ERROR(VerifyShard(shard).status());
      PXB_RETURN_IF_ERROR(backend_.PutShard(name_, object_, held.index, to, shard));
      wanted.erase(wanted.begin());
      good_[n].target = to;
      PXB_RETURN_IF_ERROR(DeleteShard(held));
      report_.shards_rebalanced++;
    }
    return Status::Ok();
  }

  Status DeleteShard(const Held& held) {
    return backend_.DeleteShard(name_, object_, held.index, held.target);
  }

  ErasureBackend& backend_;
  const ScrubOptions& options_;
  ScrubReport& report_;
  const std::string& name_;
  const ErasureBackend::ObjectShards& object_;
  std::vector<Held> good_;
  std::vector<Held> corrupt_;
  ScrubObjectProblem problem_;
};

}  // namespace

std::string_view RedundancyName(Redundancy r) {
  switch (r) {
    case Redundancy::kFull:
      return "full";
    case Redundancy::kDegraded:
      return "degraded";
    case Redundancy::kAtRisk:
      return "at-risk";
    case Redundancy::kLost:
      return "lost";
  }
  return "unknown";
}

Redundancy RedundancyOf(const ErasureBackend::ObjectShards& object, size_t good) {
  const size_t k = static_cast<size_t>(object.data_shards);
  const size_t total = static_cast<size_t>(TotalShards(object));
  if (good >= total) return Redundancy::kFull;
  if (good < k) return Redundancy::kLost;
  if (good == k) return Redundancy::kAtRisk;
  return Redundancy::kDegraded;
}

std::string RedundancyCounts(const ScrubReport& report) {
  return std::to_string(report.objects_full) + " full, " + std::to_string(report.objects_degraded) +
         " degraded, " + std::to_string(report.objects_at_risk) + " at risk, " +
         std::to_string(report.objects_lost) + " lost";
}

StatusOr<ScrubReport> SurveyRedundancy(ErasureBackend& backend) {
  ScrubOptions presence;
  presence.verify = false;
  presence.repair = false;
  return Scrub(backend, presence);
}

StatusOr<ScrubReport> Scrub(ErasureBackend& backend, const ScrubOptions& options,
                            const ScrubProgress& progress) {
  ScrubReport report;
  std::vector<std::pair<std::string, ErasureBackend::ObjectShards>> objects;
  uint64_t all = 0;
  PXB_RETURN_IF_ERROR(backend.ScanObjects(
      "",
      [&](const std::string& name, const ErasureBackend::ObjectShards& object) {
        all++;
        if (name > options.start_after) objects.emplace_back(name, object);
        return Status::Ok();
      },
      &report.unlisted_targets));
  uint64_t limit = options.max_objects;
  if (options.fraction < 1.0) {
    const auto share =
        static_cast<uint64_t>(std::ceil(static_cast<double>(all) * options.fraction));
    limit = limit ? std::min(limit, std::max<uint64_t>(share, 1)) : std::max<uint64_t>(share, 1);
  }
  for (const auto& [name, object] : objects) {
    if (options.cancel && options.cancel->load()) return CancelledError("scrub cancelled");
    if (limit && report.objects >= limit) {
      return report;  // cursor stays at the last object scrubbed
    }
    ObjectScrub(backend, options, report, name, object).Run();
    report.objects++;
    report.cursor = name;
    if (progress) progress(report);
  }
  report.cursor.clear();  // reached the end
  return report;
}

}  // namespace pxb
