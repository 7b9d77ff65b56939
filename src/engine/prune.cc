#include "engine/prune.h"

#include <algorithm>
#include <map>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "core/host.h"
#include "core/time.h"
#include "engine/tree_walker.h"
#include "format/object_names.h"

namespace pxb {

namespace {

using PackSet = std::unordered_set<PackId, IdHash>;

// Ids of live blobs: a sorted array (32 bytes per id), with new ids
// appended and merged in batches so that memory stays near 32 bytes per
// distinct live blob however often snapshots repeat them.
class LiveSet {
 public:
  void Add(const BlobId& id) {
    added_.push_back(id);
    if (added_.size() >= std::max<size_t>(1 << 20, sorted_.size())) Compact();
  }
  // Must run before Contains after Adds.
  void Compact() {
    if (added_.empty()) return;
    std::sort(added_.begin(), added_.end());
    added_.erase(std::unique(added_.begin(), added_.end()), added_.end());
    const size_t middle = sorted_.size();
    sorted_.insert(sorted_.end(), added_.begin(), added_.end());
    std::inplace_merge(sorted_.begin(), sorted_.begin() + static_cast<ptrdiff_t>(middle),
                       sorted_.end());
    sorted_.erase(std::unique(sorted_.begin(), sorted_.end()), sorted_.end());
    added_.clear();
    added_.shrink_to_fit();
  }
  bool Contains(const BlobId& id) const {
    return std::binary_search(sorted_.begin(), sorted_.end(), id);
  }
  size_t size() const { return sorted_.size(); }

 private:
  std::vector<BlobId> sorted_;
  std::vector<BlobId> added_;
};

Status IgnoreNotFound(Status s) { return s.code() == StatusCode::kNotFound ? Status::Ok() : s; }

class Pruner {
 public:
  Pruner(Repository& repo, const PruneOptions& options, Progress& progress)
      : repo_(repo), options_(options), progress_(progress), now_(NowNanos()) {}

  StatusOr<PruneReport> Run() {
    PXB_RETURN_IF_ERROR(RefreshIndex());
    PXB_ASSIGN_OR_RETURN(std::vector<DeletionPlanEntry> ready, PlansReadyToSweep());
    if (!ready.empty()) PXB_RETURN_IF_ERROR(Sweep(ready));
    PXB_ASSIGN_OR_RETURN(std::optional<DeletionPlanEntry> plan, Mark());
    if (plan && plan->value.waits_for.empty() && options_.grace_ns == 0) {
      PXB_RETURN_IF_ERROR(Sweep({*plan}));
    } else if (plan) {
      Wait(*plan, plan->value.waits_for.empty()
                      ? "its grace period ends at " +
                            FormatRfc3339(plan->value.created_ns + options_.grace_ns)
                      : "waits for " + std::to_string(plan->value.waits_for.size()) +
                            " running sessions to end");
    }
    if (!options_.dry_run) PXB_RETURN_IF_ERROR(CleanUp());
    return report_;
  }

 private:
  // Loads the index (and the plans with it) unless it is current: every
  // load reads all index objects, so it is done only after this prune
  // itself changed what it holds.
  Status RefreshIndex() {
    if (index_current_) return Status::Ok();
    PXB_RETURN_IF_ERROR(repo_.LoadIndex());
    index_current_ = true;
    return Status::Ok();
  }

  // Session id -> latest expiry, of every session object.
  StatusOr<std::map<std::string, SessionRecord>> Sessions() {
    PXB_ASSIGN_OR_RETURN(std::vector<SessionEntry> entries, repo_.ListSessions());
    std::map<std::string, SessionRecord> out;
    for (SessionEntry& e : entries) {
      auto [it, added] = out.emplace(e.value.session, e.value);
      if (!added && it->second.expires_ns < e.value.expires_ns) it->second = e.value;
    }
    return out;
  }

  bool Running(const SessionRecord& s) const { return now_ < s.expires_ns + options_.grace_ns; }

  void Wait(const DeletionPlanEntry& plan, const std::string& why) {
    report_.waiting.push_back("plan " + plan.id.ShortHex() + " (" +
                              std::to_string(plan.value.packs.size()) + " packs): " + why);
  }

  StatusOr<std::vector<DeletionPlanEntry>> PlansReadyToSweep() {
    PXB_ASSIGN_OR_RETURN(auto sessions, Sessions());
    std::vector<DeletionPlanEntry> ready;
    for (const DeletionPlanEntry& plan : repo_.deletion_plans()) {
      if (!plan.value.sessions_listed) {
        // Left by a prune killed between its two writes (or still being
        // written): never swept; removed once surely abandoned.
        if (plan.value.created_ns + kIncompletePlanAgeNs < now_ && !options_.dry_run) {
          PXB_RETURN_IF_ERROR(repo_.DeleteDeletionPlan(plan.id));
          report_.plans_discarded++;
        }
        continue;
      }
      if (now_ < plan.value.created_ns + options_.grace_ns) {
        Wait(plan, "its grace period ends at " +
                       FormatRfc3339(plan.value.created_ns + options_.grace_ns));
        continue;
      }
      std::string blocker;
      for (const std::string& id : plan.value.waits_for) {
        auto it = sessions.find(id);
        if (it == sessions.end() || !Running(it->second)) continue;
        const SessionRecord& s = it->second;
        blocker = "waits for " + s.command + " on " + s.host + " (pid " + std::to_string(s.pid) +
                  "), running since " + FormatRfc3339(s.started_ns) + ", lease until " +
                  FormatRfc3339(s.expires_ns);
        break;
      }
      if (!blocker.empty()) {
        Wait(plan, blocker);
        continue;
      }
      ready.push_back(plan);
    }
    return ready;
  }

  // Adds the blobs of every snapshot not walked yet to live_.
  Status WalkSnapshots() {
    progress_.SetCurrent("finding live data");
    PXB_ASSIGN_OR_RETURN(std::vector<SnapshotEntry> snapshots, repo_.ListSnapshots());
    if (repo_.damaged_snapshots() > 0) {
      return DataLossError(std::to_string(repo_.damaged_snapshots()) +
                           " snapshot objects cannot be read, so what they need is unknown: run "
                           "'plexibackup check' and remove or repair them before pruning");
    }
    for (const SnapshotEntry& s : snapshots) {
      if (!walked_snapshots_.insert(s.id).second) continue;
      std::vector<BlobId> stack{s.snapshot.tree};
      while (!stack.empty()) {
        BlobId id = stack.back();
        stack.pop_back();
        if (!walked_trees_.insert(id).second) continue;
        live_.Add(id);
        auto tree = LoadTree(repo_, id);
        if (!tree.ok() && tree.status().code() == StatusCode::kNotFound) {
          // A snapshot committed after the index was loaded: its index is
          // stored by now (a backup writes it before the snapshot).
          PXB_RETURN_IF_ERROR(repo_.LoadIndex());
          tree = LoadTree(repo_, id);
        }
        if (!tree.ok()) {
          return DataLossError("snapshot " + s.id.ShortHex() + " needs tree " + id.ShortHex() +
                               ", which cannot be read (" + std::string(tree.status().message()) +
                               "): run 'plexibackup check' before pruning");
        }
        for (const Node& node : tree->nodes) {
          if (node.type == NodeType::kDirectory) stack.push_back(node.subtree);
          for (const Extent& e : node.extents) {
            for (const BlobId& chunk : e.chunks) live_.Add(chunk);
          }
        }
      }
      progress_.files_done++;
    }
    live_.Compact();
    report_.live_blobs = live_.size();
    return Status::Ok();
  }

  // Every index object that no other supersedes, listed again if one
  // vanishes while it is read (a concurrent sweep).
  StatusOr<std::vector<std::pair<IndexId, IndexFile>>> CurrentIndexFiles() {
    for (int attempt = 0; attempt < 5; ++attempt) {
      std::vector<IndexId> ids;
      PXB_RETURN_IF_ERROR(repo_.backend().List(kIndexPrefix, [&](const ObjectInfo& info) {
        if (auto id = IdFromObjectName<IndexId>(info.name, kIndexPrefix)) ids.push_back(*id);
        return Status::Ok();
      }));
      std::vector<std::pair<IndexId, IndexFile>> files;
      std::set<IndexId> superseded;
      bool vanished = false;
      for (const IndexId& id : ids) {
        auto file = repo_.ReadIndexFile(id);
        if (!file.ok()) {
          if (file.status().code() == StatusCode::kNotFound) {
            vanished = true;
            break;
          }
          if (file.status().code() == StatusCode::kDataLoss) continue;  // check reports it
          return file.status();
        }
        superseded.insert(file->superseded.begin(), file->superseded.end());
        files.emplace_back(id, std::move(*file));
      }
      if (vanished) continue;
      std::erase_if(files, [&](const auto& f) { return superseded.contains(f.first); });
      return files;
    }
    return UnavailableError("index objects kept vanishing while they were read: try again");
  }

  // Deletes the packs of plans whose waiting is over, except those a
  // snapshot written meanwhile needs.
  Status Sweep(const std::vector<DeletionPlanEntry>& plans) {
    progress_.SetCurrent("deleting condemned packs");
    PXB_RETURN_IF_ERROR(RefreshIndex());
    PXB_RETURN_IF_ERROR(WalkSnapshots());
    PackSet doomed;
    for (const DeletionPlanEntry& plan : plans) {
      doomed.insert(plan.value.packs.begin(), plan.value.packs.end());
    }
    PXB_ASSIGN_OR_RETURN(auto files, CurrentIndexFiles());
    std::unordered_map<PackId, const IndexedPack*, IdHash> listed;
    for (const auto& [id, file] : files) {
      for (const IndexedPack& pack : file.packs) {
        if (doomed.contains(pack.id)) listed.emplace(pack.id, &pack);
      }
    }
    std::unordered_map<PackId, uint64_t, IdHash> sizes;
    for (auto it = doomed.begin(); it != doomed.end();) {
      PXB_ASSIGN_OR_RETURN(bool needed, NeededByALiveBlob(*it, listed, sizes));
      if (needed) {
        report_.packs_rescued++;
        it = doomed.erase(it);
      } else {
        ++it;
      }
    }

    std::vector<IndexId> superseded;
    std::vector<IndexedPack> kept;
    PackSet kept_ids;
    for (const auto& [id, file] : files) {
      if (std::none_of(file.packs.begin(), file.packs.end(),
                       [&](const IndexedPack& p) { return doomed.contains(p.id); })) {
        continue;
      }
      superseded.push_back(id);
      for (const IndexedPack& pack : file.packs) {
        if (!doomed.contains(pack.id) && kept_ids.insert(pack.id).second) kept.push_back(pack);
      }
    }
    report_.plans_swept += plans.size();
    report_.indexes_superseded += superseded.size();
    report_.packs_deleted += doomed.size();
    for (const PackId& id : doomed) report_.bytes_deleted += sizes[id];
    if (options_.dry_run) return Status::Ok();

    // Order matters (design.md section 15): the new index, the packs, the
    // old indexes, and the plans last.
    index_current_ = false;
    if (!superseded.empty()) {
      PXB_RETURN_IF_ERROR(repo_.WriteSupersedingIndex(std::move(kept), superseded).status());
    }
    for (const PackId& id : doomed) {
      PXB_RETURN_IF_ERROR(IgnoreNotFound(repo_.backend().Delete(PackObjectName(id))));
    }
    for (const IndexId& id : superseded) {
      PXB_RETURN_IF_ERROR(IgnoreNotFound(repo_.backend().Delete(IndexObjectName(id))));
    }
    for (const DeletionPlanEntry& plan : plans) {
      PXB_RETURN_IF_ERROR(repo_.DeleteDeletionPlan(plan.id));
    }
    return Status::Ok();
  }

  // Whether a condemned pack holds a live blob that has no copy outside
  // condemned packs. Records the pack's size in `sizes`.
  StatusOr<bool> NeededByALiveBlob(
      const PackId& id, const std::unordered_map<PackId, const IndexedPack*, IdHash>& listed,
      std::unordered_map<PackId, uint64_t, IdHash>& sizes) {
    std::vector<PackBlob> blobs;
    if (auto it = listed.find(id); it != listed.end()) {
      blobs = it->second->blobs;
      sizes[id] = it->second->length;
    } else {
      // Named by no index (adopted by the prune that condemned it).
      auto info = repo_.backend().Stat(PackObjectName(id));
      if (!info.ok()) {
        if (info.status().code() == StatusCode::kNotFound) return false;  // already gone
        return info.status();
      }
      sizes[id] = info->size;
      auto header = repo_.ReadPackHeader(id, info->size);
      if (!header.ok()) {
        // Unreadable and unindexed: nothing can be read from it anyway.
        if (header.status().code() == StatusCode::kDataLoss) return false;
        return header.status();
      }
      blobs = std::move(*header);
    }
    for (const PackBlob& b : blobs) {
      if (!live_.Contains(b.id)) continue;
      auto loc = repo_.FindBlob(b.id);
      if (!loc || repo_.IsCondemned(loc->pack.id)) return true;
    }
    return false;
  }

  // Repacks and condemns; returns the plan written, if any.
  StatusOr<std::optional<DeletionPlanEntry>> Mark() {
    PXB_RETURN_IF_ERROR(RefreshIndex());
    // Packs of killed writers are judged like the others.
    PXB_RETURN_IF_ERROR(repo_.AdoptUnindexedPacks().status());
    PXB_RETURN_IF_ERROR(WalkSnapshots());

    std::unordered_map<PackId, uint64_t, IdHash> used;
    repo_.ForEachIndexedBlob([&](const BlobLocation& loc) {
      if (live_.Contains(loc.blob.id)) used[loc.pack.id] += loc.blob.stored_share();
    });
    std::vector<PackRecord> condemn;
    std::vector<PackRecord> repack;
    std::vector<std::pair<double, PackRecord>> kept;  // unused share, pack
    uint64_t live_total = 0, unused_kept = 0;
    for (const PackRecord& pack : repo_.IndexedPacks()) {
      if (repo_.IsCondemned(pack.id)) continue;  // an earlier plan's
      report_.packs_total++;
      report_.bytes_total += pack.length;
      // Headers are not waste: a small pack of live blobs is mostly header.
      const uint64_t live = std::min(used[pack.id], pack.blob_bytes);
      const uint64_t unused = pack.blob_bytes - live;
      live_total += live;
      const double share = static_cast<double>(unused) / static_cast<double>(pack.length);
      if (live == 0) {
        condemn.push_back(pack);
      } else if (share >= options_.repack_threshold) {
        repack.push_back(pack);
      } else {
        kept.emplace_back(share, pack);
        unused_kept += unused;
      }
    }
    // The repository-wide limit: the most wasteful of the kept packs go too.
    std::sort(kept.begin(), kept.end(),
              [](const auto& a, const auto& b) { return a.first > b.first; });
    const double allowed = options_.max_unused * static_cast<double>(live_total);
    for (const auto& [share, pack] : kept) {
      const uint64_t unused = pack.blob_bytes - std::min(used[pack.id], pack.blob_bytes);
      if (options_.max_unused >= 1 || static_cast<double>(unused_kept) <= allowed || unused == 0) {
        report_.bytes_unused_kept += unused;
        continue;
      }
      repack.push_back(pack);
      unused_kept -= unused;
    }
    PackSet leaving;
    for (const auto* list : {&condemn, &repack}) {
      for (const PackRecord& p : *list) leaving.insert(p.id);
    }

    progress_.SetCurrent("repacking");
    for (const PackRecord& pack : repack) {
      PXB_ASSIGN_OR_RETURN(bool repacked, Repack(pack, leaving));
      if (repacked) {
        condemn.push_back(pack);
        report_.packs_repacked++;
      } else {
        report_.bytes_unused_kept += pack.blob_bytes - std::min(used[pack.id], pack.blob_bytes);
      }
    }
    if (!options_.dry_run) PXB_RETURN_IF_ERROR(repo_.Flush());

    report_.packs_condemned = condemn.size();
    for (const PackRecord& p : condemn) report_.bytes_condemned += p.length;
    if (condemn.empty() || options_.dry_run) return std::optional<DeletionPlanEntry>();

    DeletionPlan plan;
    plan.created_ns = NowNanos();
    plan.host = CurrentHostName();
    for (const PackRecord& p : condemn) plan.packs.push_back(p.id);
    std::sort(plan.packs.begin(), plan.packs.end());
    index_current_ = false;  // a sweep must see the new plan's packs as condemned
    PXB_ASSIGN_OR_RETURN(ObjectHash first, repo_.SaveDeletionPlan(plan));
    // Listed only now that the plan is stored: a session started later
    // reads the plan before the index (design.md section 15).
    PXB_ASSIGN_OR_RETURN(auto sessions, Sessions());
    const std::string own = repo_.session_id();
    for (const auto& [id, s] : sessions) {
      if (id != own && Running(s)) plan.waits_for.push_back(id);
    }
    plan.sessions_listed = true;
    PXB_ASSIGN_OR_RETURN(ObjectHash complete, repo_.SaveDeletionPlan(plan));
    PXB_RETURN_IF_ERROR(repo_.DeleteDeletionPlan(first));
    return std::optional<DeletionPlanEntry>(DeletionPlanEntry{complete, std::move(plan)});
  }

  // Copies a pack's live blobs that have no copy in a pack that stays into
  // new packs. False if the pack cannot be read: it is then left alone for
  // check and scrub to deal with.
  StatusOr<bool> Repack(const PackRecord& pack, const PackSet& leaving) {
    auto bytes = repo_.backend().Get(PackObjectName(pack.id));
    if (!bytes.ok()) {
      if (bytes.status().code() == StatusCode::kUnavailable) return bytes.status();
      return false;
    }
    auto blobs = repo_.DecodePackBlobs(*bytes);
    if (!blobs.ok()) return false;
    std::vector<const PackBlob*> to_copy;
    for (const PackBlob& b : *blobs) {
      if (!live_.Contains(b.id)) continue;
      auto loc = repo_.FindBlob(b.id);
      if (loc && !leaving.contains(loc->pack.id) && !repo_.IsCondemned(loc->pack.id)) continue;
      if (b.offset + uint64_t{b.stored_length} > bytes->size()) return false;
      to_copy.push_back(&b);
    }
    for (size_t i = 0; i < to_copy.size();) {
      const PackBlob& b = *to_copy[i];
      // A blob goes alone; the live members of one frame, listed one after
      // the other, go together into a new frame.
      size_t end = i + 1;
      while (b.member() && end < to_copy.size() && to_copy[end]->member() &&
             to_copy[end]->offset == b.offset) {
        ++end;
      }
      std::vector<PackBlob> group;
      for (size_t j = i; j < end; ++j) group.push_back(*to_copy[j]);
      i = end;
      if (options_.dry_run) {
        report_.blobs_repacked += group.size();
        for (const PackBlob& g : group) report_.bytes_repacked += g.stored_share();
        continue;
      }
      const ByteView stored = ByteView(*bytes).subspan(b.offset, b.stored_length);
      StatusOr<std::vector<SaveBlobResult>> copied = std::vector<SaveBlobResult>();
      if (b.member()) {
        copied = repo_.CopyMembers(pack, group, stored);
      } else if (auto one = repo_.CopyBlob(pack, b, stored); one.ok()) {
        copied->push_back(SaveBlobResult{b.id, *one, *one ? b.stored_length : 0});
      } else {
        copied = one.status();
      }
      if (!copied.ok()) {
        // A damaged live blob must keep its pack: it may still be repaired.
        if (copied.status().code() == StatusCode::kDataLoss) return false;
        return copied.status();
      }
      for (const SaveBlobResult& result : *copied) {
        if (!result.added) continue;
        report_.blobs_repacked++;
        report_.bytes_repacked += result.stored_length;
      }
    }
    progress_.bytes_done += pack.length;
    return true;
  }

  Status CleanUp() {
    progress_.SetCurrent("cleaning up");
    PXB_ASSIGN_OR_RETURN(std::vector<SessionEntry> sessions, repo_.ListSessions());
    for (const SessionEntry& s : sessions) {
      if (Running(s.value)) continue;
      PXB_RETURN_IF_ERROR(repo_.DeleteSession(s.id));
      report_.sessions_removed++;
    }
    PXB_ASSIGN_OR_RETURN(report_.temporaries_removed,
                         repo_.backend().RemoveStaleTemporaries(now_ - kStaleTemporaryAgeNs));
    return Status::Ok();
  }

  Repository& repo_;
  const PruneOptions& options_;
  Progress& progress_;
  const int64_t now_;
  PruneReport report_;
  bool index_current_ = false;
  LiveSet live_;
  std::set<SnapshotId> walked_snapshots_;
  std::unordered_set<BlobId, IdHash> walked_trees_;
};

}  // namespace

StatusOr<PruneReport> RunPrune(Repository& repo, const PruneOptions& options, Progress& progress) {
  if (!(options.repack_threshold >= 0.01 && options.repack_threshold <= 1)) {
    return InvalidArgumentError("the repack threshold must be between 1% and 100%");
  }
  if (!(options.max_unused >= 0 && options.max_unused <= 1)) {
    return InvalidArgumentError("the unused limit must be between 0% and 100%");
  }
  if (options.grace_ns < 0) return InvalidArgumentError("the grace period must not be negative");
  Pruner pruner(repo, options, progress);
  return pruner.Run();
}

}  // namespace pxb
