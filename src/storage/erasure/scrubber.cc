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
  // `largest_shard`: the largest shard object of any object listed.
  ObjectScrub(ErasureBackend& backend, const ScrubOptions& options, ScrubReport& report,
              const std::string& name, const ErasureBackend::ObjectShards& object,
              uint64_t largest_shard)
      : backend_(backend),
        options_(options),
        report_(report),
        name_(name),
        object_(object),
        largest_shard_(largest_shard) {}

  void Run() {
    problem_.object = name_;
    problem_.total = static_cast<size_t>(TotalShards(object_));
    Inspect();
    const size_t good_before = GoodIndexes().size();
    const size_t k = static_cast<size_t>(object_.data_shards);
    problem_.good = good_before;
    problem_.redundancy = RedundancyOf(object_, good_before);
    if (good_before < k && gone_since_listing_ && DeletedMeanwhile()) {
      report_.objects_deleted++;  // by prune, after the listing: not lost
      return;
    }
    const bool damaged = good_before < problem_.total || !corrupt_.empty();
    const bool needs_work = damaged || HasDrainingShards() || HasDoubledShards();
    Status failed;
    if (options_.repair && needs_work && good_before >= k) {
      Status repaired = Repair();
      if (!repaired.ok()) Fail(failed = repaired.WithContext("repair"));
      problem_.repaired = repaired.ok() && (options_.rebuild || !damaged);
    }
    if (options_.repair && options_.rebalance && problem_.details.empty()) {
      Status moved = Rebalance();
      if (!moved.ok()) Fail(failed = moved.WithContext("rebalance"));
    }
    Status settled = Settle();
    if (!settled.ok()) Fail(settled.WithContext("replaced shards kept"));
    if (!deleted_meanwhile_ && written_.empty() && IsNotFound(failed)) {
      // A shard to copy was gone: deleted by prune since the listing?
      deleted_meanwhile_ = DeletedMeanwhile();
    }
    if (deleted_meanwhile_) {
      report_.objects_deleted++;
      return;
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

  void Fail(const Status& status) {
    problem_.failed = true;
    problem_.details.emplace_back(status.message());
  }

  // No shard listed at the start is listed any more.
  bool DeletedMeanwhile() {
    auto listed = AnyListed(ToHeld(object_.shards));
    return listed.ok() && !*listed;
  }

  static std::vector<Held> ToHeld(const std::vector<ErasureBackend::ShardLocation>& shards) {
    std::vector<Held> held;
    for (const auto& s : shards) held.push_back({s.index, s.target});
    return held;
  }

  std::string Where(const Held& h) const {
    return "shard " + std::to_string(h.index) + " on " +
           backend_.target_list().targets[h.target].name;
  }

  // Reads a shard and checks its checksum and header: kNotFound when it is
  // gone, kDataLoss when it is corrupt.
  StatusOr<Bytes> ReadVerified(const Held& h) {
    PXB_ASSIGN_OR_RETURN(ShardHeader header,
                         ErasureBackend::ShardHeaderFor(name_, object_, h.index));
    PXB_ASSIGN_OR_RETURN(Bytes bytes,
                         backend_.target(h.target).Get(ShardObjectName(name_, header)));
    report_.shards_read++;
    report_.bytes_read += bytes.size();
    auto verified = VerifyShard(bytes);
    if (!verified.ok()) return DataLossError(std::string(verified.status().message()));
    if (!(*verified == header)) return DataLossError("header of another object");
    return bytes;
  }

  // Reads (or, without verify, trusts) every listed shard.
  void Inspect() {
    for (const Held& s : ToHeld(object_.shards)) {
      if (!options_.verify) {
        good_.push_back(s);
        continue;
      }
      auto bytes = ReadVerified(s);
      if (bytes.ok()) {
        good_.push_back(s);
      } else if (IsNotFound(bytes.status())) {
        gone_since_listing_ = true;
        problem_.details.push_back(Where(s) + ": gone since the listing");
      } else {
        if (bytes.status().code() == StatusCode::kDataLoss) {
          report_.shards_corrupt++;
          corrupt_.push_back(s);
        }
        problem_.details.push_back(Where(s) + ": " + std::string(bytes.status().message()));
      }
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
  std::map<size_t, int> ShardsPerTarget() const { return CurrentSpread().per_target; }
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

  // How many of this object's good shards each target, region and zone
  // holds.
  struct Spread {
    std::map<size_t, int> per_target;
    std::map<std::string, int> per_region;
    std::map<std::string, int> per_zone;
  };
  const std::string& RegionOf(size_t target) const {
    return backend_.target_list().targets[target].region;
  }
  std::string ZoneOf(size_t target) const {
    return RegionOf(target) + "/" + backend_.target_list().targets[target].zone;
  }
  Spread CurrentSpread() const {
    Spread spread;
    for (const Held& h : good_) {
      spread.per_target[h.target]++;
      spread.per_region[RegionOf(h.target)]++;
      spread.per_zone[ZoneOf(h.target)]++;
    }
    return spread;
  }

  // What each target holds now and should hold (shard_placer.h,
  // BalancedHoldings) over the active targets that are up.
  struct Fill {
    std::vector<TargetFill> targets;
    std::vector<uint64_t> goal;
  };
  Fill CurrentFill() const {
    Fill fill{backend_.TargetFills(), {}};
    fill.goal = BalancedHoldings(fill.targets);
    return fill;
  }
  static bool Balanced(const Fill& fill, size_t target) { return fill.targets[target].balanced; }
  uint64_t ShardSize() const { return ErasureBackend::ShardObjectSize(object_); }
  bool HasRoom(const Fill& fill, size_t target) const {
    const TargetFill& t = fill.targets[target];
    return t.capacity == 0 || t.used + ShardSize() <= t.capacity;
  }
  // Bytes below (positive) or above (negative) what the target should hold.
  static double Deficit(const Fill& fill, size_t target) {
    return static_cast<double>(fill.goal[target]) - static_cast<double>(fill.targets[target].used);
  }
  // Every target in rendezvous order for this object, by configured weight:
  // the order ties are broken in.
  std::vector<size_t> RankedTargets() const {
    std::vector<PlacementCandidate> candidates;
    for (const TargetSpec& t : backend_.target_list().targets) {
      candidates.push_back({t.name, t.region, t.zone, t.weight});
    }
    return RankTargets(candidates, name_);
  }
  // How far above its goal a target may be before it gives shards: 2 % of
  // the goal, so that the noise of hashing moves nothing.
  static double Surplus(const Fill& fill, size_t target) {
    return static_cast<double>(fill.goal[target]) / 50.0;
  }
  // How far below its goal a target may be before it takes a shard: also at
  // least the largest shard, so a receiver never overshoots its goal and a
  // giver, which gives only while above its goal, never falls short enough
  // to take shards: the givers and takers only dwindle during a pass, and
  // the next pass finds nothing to move.
  double Shortfall(const Fill& fill, size_t target) const {
    return std::max(static_cast<double>(largest_shard_), Surplus(fill, target));
  }

  // The writable target with room that holds the fewest of this object's
  // shards (then the fewest in its region and zone, then the one furthest
  // below its goal), in rendezvous order; `avoid` holds no new shard.
  // Returns target_count() when none can.
  size_t ChooseTarget(const std::set<size_t>& avoid) const {
    const Fill fill = CurrentFill();
    Spread spread = CurrentSpread();
    size_t best = backend_.target_count();
    std::tuple<int, int, int, double> best_key{INT32_MAX, INT32_MAX, INT32_MAX, 0};
    for (size_t t : RankedTargets()) {
      if (avoid.count(t) || !Writable(t) || !HasRoom(fill, t)) continue;
      std::tuple<int, int, int, double> key{spread.per_target[t], spread.per_region[RegionOf(t)],
                                            spread.per_zone[ZoneOf(t)], -Deficit(fill, t)};
      if (best == backend_.target_count() || key < best_key) {
        best_key = key;
        best = t;
      }
    }
    return best;
  }

  Status Repair() {
    std::vector<PageBytes> shards;  // every shard, re-encoded, when rebuilding
    if (options_.rebuild) {
      // The whole object, decoded (and verified) from any k good shards.
      PXB_ASSIGN_OR_RETURN(Bytes data, backend_.Get(name_));
      PXB_ASSIGN_OR_RETURN(shards,
                           backend_.EncodeShards(name_, data, object_.scheme, object_.data_shards,
                                                 object_.parity_shards));
      // 1. Rebuild missing and corrupt shards.
      std::set<int> good = GoodIndexes();
      for (int i = 0; i < TotalShards(object_); ++i) {
        if (good.count(i)) continue;
        const size_t target = ChooseTarget({});
        if (target == backend_.target_count()) {
          return UnavailableError("no target can take a shard");
        }
        PXB_RETURN_IF_ERROR(Write(i, target, shards[i]));
        good_.push_back({i, target});
        report_.shards_rebuilt++;
        // A corrupt copy elsewhere goes once the object is settled.
        for (const Held& c : corrupt_) {
          if (c.index == i && c.target != target) replaced_.push_back(c);
        }
      }
    }
    // 2. Move shards off draining targets, and undouble.
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
      PXB_RETURN_IF_ERROR(MoveShard(
          n, target, shards.empty() ? nullptr : &shards[static_cast<size_t>(held.index)]));
      report_.shards_moved++;
    }
    return Status::Ok();
  }

  // The target a shard on `source` should move to for Rebalance, or
  // target_count(): one that is active, writable, has room and holds none
  // of the object's shards, crowds no domain, takes a crowded shard out of
  // its crowd, and otherwise is below its goal; the furthest below first.
  size_t Destination(const std::vector<size_t>& ranked, const Fill& fill, size_t source,
                     bool crowded, Spread& spread, int region_cap, int zone_cap) const {
    const bool region_crowded = spread.per_region[RegionOf(source)] > region_cap;
    size_t to = backend_.target_count();
    for (size_t t : ranked) {
      if (spread.per_target.count(t) || !Balanced(fill, t) || !Writable(t) || !HasRoom(fill, t)) {
        continue;
      }
      const bool same_region = RegionOf(t) == RegionOf(source);
      const bool same_zone = ZoneOf(t) == ZoneOf(source);
      if (!same_region && spread.per_region[RegionOf(t)] + 1 > region_cap) continue;
      if (!same_zone && spread.per_zone[ZoneOf(t)] + 1 > zone_cap) continue;
      if (crowded) {
        if (region_crowded ? same_region : same_zone) continue;
      } else if (Deficit(fill, t) <= Shortfall(fill, t)) {
        continue;
      }
      if (to == backend_.target_count() || Deficit(fill, t) > Deficit(fill, to)) to = t;
    }
    return to;
  }

  // Moves good shards, one at a time, onto active targets that hold none of
  // this object's shards: first out of a region or zone holding more than
  // placement allows (written while domains were down), then off targets
  // holding more than their goal onto ones holding less (after `target
  // add`, a changed weight or capacity, a target back from draining). Both
  // rules judge a state, not where hashing would put this object now, so a
  // balanced repository moves nothing.
  Status Rebalance() {
    const auto& specs = backend_.target_list().targets;
    Fill fill = CurrentFill();
    std::set<std::string> regions;
    std::set<std::string> zones;
    for (size_t t = 0; t < specs.size(); ++t) {
      if (!Balanced(fill, t)) continue;
      regions.insert(RegionOf(t));
      zones.insert(ZoneOf(t));
    }
    if (regions.empty()) return Status::Ok();
    const int total = TotalShards(object_);
    const auto cap = [&](size_t domains) {
      return (total + static_cast<int>(domains) - 1) / static_cast<int>(domains);
    };
    const int region_cap = cap(regions.size());
    const int zone_cap = cap(zones.size());
    const std::vector<size_t> ranked = RankedTargets();
    for (size_t moves = 0; moves < good_.size(); ++moves) {
      Spread spread = CurrentSpread();
      // Shards that should move: out of a crowded domain first, then off
      // the target furthest above its goal.
      std::vector<std::tuple<bool, double, size_t>> movable;  // crowded, excess, n
      for (size_t n = 0; n < good_.size(); ++n) {
        const size_t t = good_[n].target;
        if (!Balanced(fill, t) || spread.per_target[t] > 1) continue;  // Repair's business
        const bool crowded =
            spread.per_region[RegionOf(t)] > region_cap || spread.per_zone[ZoneOf(t)] > zone_cap;
        const double excess = -Deficit(fill, t);
        if (crowded || excess > Surplus(fill, t)) movable.emplace_back(crowded, excess, n);
      }
      std::sort(movable.rbegin(), movable.rend());
      size_t from = good_.size();
      size_t to = specs.size();
      for (const auto& [crowded, excess, n] : movable) {
        to = Destination(ranked, fill, good_[n].target, crowded, spread, region_cap, zone_cap);
        if (to != specs.size()) {
          from = n;
          break;
        }
      }
      if (from == good_.size()) break;
      const size_t source = good_[from].target;
      PXB_RETURN_IF_ERROR(MoveShard(from, to, nullptr));
      // The original still counts until the object is settled; the goal
      // is judged as if it were gone.
      uint64_t& given = fill.targets[source].used;
      given -= std::min(given, ShardSize());
      fill.targets[to].used += ShardSize();
      report_.shards_rebalanced++;
    }
    return Status::Ok();
  }

  // Copies good_[n] to target `to`: the re-encoded shard if given, else the
  // shard read from where it is and verified. The original is deleted when
  // the object is settled, so redundancy only grows until then.
  Status MoveShard(size_t n, size_t to, const PageBytes* encoded) {
    const Held from = good_[n];
    Bytes read;
    ByteView shard;
    if (encoded != nullptr) {
      shard = *encoded;
    } else {
      auto bytes = ReadVerified(from);
      if (!bytes.ok()) return bytes.status().WithContext(Where(from));
      read = std::move(*bytes);
      shard = read;
    }
    PXB_RETURN_IF_ERROR(Write(from.index, to, shard));
    good_[n].target = to;
    replaced_.push_back(from);
    return Status::Ok();
  }

  Status Write(int index, size_t target, ByteView shard) {
    PXB_RETURN_IF_ERROR(backend_.PutShard(name_, object_, index, target, shard));
    written_.push_back({index, target});
    return Status::Ok();
  }
  bool Wrote(const Held& h) const {
    return std::any_of(written_.begin(), written_.end(),
                       [&](const Held& w) { return w.index == h.index && w.target == h.target; });
  }

  // Deletes the shards that the written copies replace. If the object was
  // deleted meanwhile (prune), no shard that was there before is listed
  // any more: the copies are withdrawn instead, so that none is left behind
  // as an orphan (doc/design.md section 13, "Moves and deletes").
  Status Settle() {
    if (written_.empty()) return Status::Ok();
    std::vector<Held> before;  // listed before, and not overwritten here
    for (const Held& h : ToHeld(object_.shards)) {
      if (!Wrote(h)) before.push_back(h);
    }
    if (!before.empty()) {
      PXB_ASSIGN_OR_RETURN(bool survives, AnyListed(before));
      if (!survives) {
        for (const Held& w : written_) PXB_RETURN_IF_ERROR(DeleteShard(w));
        report_.shards_withdrawn += written_.size();
        deleted_meanwhile_ = true;
        return Status::Ok();
      }
    }
    for (const Held& r : replaced_) {
      // A shard moved away and back again is where it belongs.
      const bool back = std::any_of(good_.begin(), good_.end(), [&](const Held& g) {
        return g.index == r.index && g.target == r.target;
      });
      if (!back) PXB_RETURN_IF_ERROR(DeleteShard(r));
    }
    return Status::Ok();
  }

  // Whether a fresh listing of every target finds any of `shards`.
  // kUnavailable if a target that held one of them cannot be listed.
  StatusOr<bool> AnyListed(const std::vector<Held>& shards) {
    std::vector<std::string> unlisted;
    bool found = false;
    PXB_RETURN_IF_ERROR(backend_.ScanObjects(
        name_ + ".",
        [&](const std::string& name, const ErasureBackend::ObjectShards& now) {
          const bool same_coding = name == name_ && now.scheme == object_.scheme &&
                                   now.data_shards == object_.data_shards &&
                                   now.parity_shards == object_.parity_shards &&
                                   now.length == object_.length;
          for (const auto& s : now.shards) {
            for (const Held& h : shards)
              found |= same_coding && s.index == h.index && s.target == h.target;
          }
          return Status::Ok();
        },
        &unlisted));
    if (found) return true;
    for (const Held& h : shards) {
      const std::string& target = backend_.target_list().targets[h.target].name;
      for (const std::string& u : unlisted) {
        if (u.starts_with(target + ": ")) {
          return UnavailableError("target " + target + " cannot be listed: " + u);
        }
      }
    }
    return false;
  }

  Status DeleteShard(const Held& held) {
    return backend_.DeleteShard(name_, object_, held.index, held.target);
  }

  ErasureBackend& backend_;
  const ScrubOptions& options_;
  ScrubReport& report_;
  const std::string& name_;
  const ErasureBackend::ObjectShards& object_;
  const uint64_t largest_shard_;
  std::vector<Held> good_;
  std::vector<Held> corrupt_;
  std::vector<Held> written_;   // by this scrub
  std::vector<Held> replaced_;  // to delete once the object is settled
  bool gone_since_listing_ = false;
  bool deleted_meanwhile_ = false;
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
  uint64_t largest_shard = 0;
  PXB_RETURN_IF_ERROR(backend.ScanObjects(
      "",
      [&](const std::string& name, const ErasureBackend::ObjectShards& object) {
        all++;
        largest_shard = std::max(largest_shard, ErasureBackend::ShardObjectSize(object));
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
  // With a limit that stops short of the end, the cursor stays at the last
  // object scrubbed.
  const bool stops_short = limit && objects.size() > limit;
  if (stops_short) objects.resize(limit);
  report.objects_listed = all;
  report.objects_to_scrub = objects.size();
  for (const auto& [name, object] : objects) report.bytes_to_scrub += object.length;
  if (progress) progress(report);
  for (const auto& [name, object] : objects) {
    if (options.cancel && options.cancel->load()) return CancelledError("scrub cancelled");
    ObjectScrub(backend, options, report, name, object, largest_shard).Run();
    report.objects++;
    report.object_bytes += object.length;
    report.cursor = name;
    if (progress) progress(report);
  }
  if (!stops_short) report.cursor.clear();  // reached the end
  return report;
}

}  // namespace pxb
