#include "storage/erasure/shard_placer.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <map>
#include <utility>

#include "core/crypto/sha256.h"

namespace pxb {
namespace {

// -weight / ln(u) with u uniform in (0, 1) from SHA-256(object, target):
// the target with the highest score wins an object with probability
// proportional to its weight (weighted rendezvous hashing).
double Score(std::string_view object, const PlacementCandidate& target) {
  std::string key;
  key.reserve(object.size() + target.name.size() + 1);
  key.append(object).push_back('\n');
  key.append(target.name);
  const Sha256Digest digest =
      Sha256(ByteView(reinterpret_cast<const std::byte*>(key.data()), key.size()));
  uint64_t bits = 0;
  std::memcpy(&bits, digest.data(), sizeof(bits));
  // 53 random bits, strictly inside (0, 1).
  const double u = (static_cast<double>(bits >> 11) + 0.5) / 9007199254740992.0;
  return -target.weight / std::log(u);
}

size_t CeilDiv(size_t a, size_t b) { return (a + b - 1) / b; }

}  // namespace

std::vector<size_t> RankTargets(std::span<const PlacementCandidate> candidates,
                                std::string_view object) {
  std::vector<std::pair<double, size_t>> scored;
  scored.reserve(candidates.size());
  for (size_t i = 0; i < candidates.size(); ++i)
    scored.emplace_back(Score(object, candidates[i]), i);
  std::sort(scored.begin(), scored.end(), [&](const auto& a, const auto& b) {
    if (a.first != b.first) return a.first > b.first;
    return candidates[a.second].name < candidates[b.second].name;
  });
  std::vector<size_t> order;
  order.reserve(scored.size());
  for (const auto& [score, index] : scored) order.push_back(index);
  return order;
}

std::vector<size_t> PlaceShards(std::span<const PlacementCandidate> candidates,
                                std::string_view object, size_t shards) {
  std::vector<size_t> ranked;
  for (size_t i : RankTargets(candidates, object)) {
    if (candidates[i].writable) ranked.push_back(i);
  }
  if (ranked.empty() || shards == 0) return {};

  std::map<std::string, size_t> region_load;
  std::map<std::pair<std::string, std::string>, size_t> zone_load;
  for (size_t i : ranked) {
    region_load[candidates[i].region] = 0;
    zone_load[{candidates[i].region, candidates[i].zone}] = 0;
  }
  const size_t target_cap = CeilDiv(shards, ranked.size());
  const size_t region_cap = CeilDiv(shards, region_load.size());
  const size_t zone_cap = CeilDiv(shards, zone_load.size());
  std::vector<size_t> target_load(candidates.size(), 0);

  std::vector<size_t> placement;
  placement.reserve(shards);
  while (placement.size() < shards) {
    // Strictest first: all caps, then without the zone cap, then only the
    // per-target cap, which can always be met.
    bool placed = false;
    for (int relax = 0; relax < 3 && !placed; ++relax) {
      for (size_t i : ranked) {
        const PlacementCandidate& c = candidates[i];
        if (target_load[i] >= target_cap) continue;
        if (relax < 2 && region_load[c.region] >= region_cap) continue;
        if (relax < 1 && zone_load[{c.region, c.zone}] >= zone_cap) continue;
        target_load[i]++;
        region_load[c.region]++;
        zone_load[{c.region, c.zone}]++;
        placement.push_back(i);
        placed = true;
        break;
      }
    }
  }
  return placement;
}

double PlacementWeight(double weight, uint64_t capacity, uint64_t used) {
  if (capacity == 0) return weight;
  const uint64_t free = capacity > used ? capacity - used : 0;
  return weight * (static_cast<double>(free) / static_cast<double>(capacity));
}

std::vector<uint64_t> BalancedHoldings(std::span<const TargetFill> targets) {
  std::vector<uint64_t> goals(targets.size(), 0);
  double total = 0;
  bool unlimited = false;
  double all_capacity = 0;
  for (const TargetFill& t : targets) {
    if (!t.balanced || t.weight <= 0) continue;
    total += static_cast<double>(t.used);
    unlimited |= t.capacity == 0;
    all_capacity += static_cast<double>(t.capacity);
  }
  const auto goal_at = [&](double factor, const TargetFill& t) {
    const double share = factor * t.weight;
    if (t.capacity == 0) return share;
    const double capacity = static_cast<double>(t.capacity);
    return share * capacity / (capacity + share);
  };
  const auto sum_at = [&](double factor) {
    double sum = 0;
    for (const TargetFill& t : targets) {
      if (t.balanced && t.weight > 0) sum += goal_at(factor, t);
    }
    return sum;
  };
  if (total == 0) return goals;
  if (!unlimited && total >= all_capacity) {
    for (size_t i = 0; i < targets.size(); ++i) {
      if (targets[i].balanced && targets[i].weight > 0) goals[i] = targets[i].capacity;
    }
    return goals;
  }
  // The sum grows strictly with the factor: bisect for the one that gives
  // the total.
  double low = 0;
  double high = 1;
  while (sum_at(high) < total && high < 1e300) high *= 2;
  for (int step = 0; step < 200 && high - low > high * 1e-15; ++step) {
    const double mid = (low + high) / 2;
    (sum_at(mid) < total ? low : high) = mid;
  }
  for (size_t i = 0; i < targets.size(); ++i) {
    if (targets[i].balanced && targets[i].weight > 0) {
      goals[i] = static_cast<uint64_t>(std::llround(goal_at(high, targets[i])));
    }
  }
  return goals;
}

}  // namespace pxb
