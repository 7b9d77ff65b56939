#include "engine/check.h"

#include <algorithm>
#include <deque>
#include <future>
#include <map>
#include <set>
#include <tuple>
#include <unordered_map>
#include <unordered_set>

#include "core/crypto/random.h"
#include "core/crypto/sha256.h"
#include "core/task_pool.h"
#include "engine/tree_walker.h"
#include "format/keyslot_format.h"
#include "format/object_names.h"

namespace pxb {

namespace {

constexpr size_t kMaxFilesPerProblem = 200;

struct SnapshotRef {
  SnapshotId id;
  Snapshot snapshot;
};

class Checker {
 public:
  Checker(Repository& repo, const CheckOptions& options, Progress& progress)
      : repo_(repo), options_(options), progress_(progress) {}

  StatusOr<CheckReport> Run() {
    PXB_RETURN_IF_ERROR(CheckKeySlots());
    PXB_RETURN_IF_ERROR(ListPacks());
    PXB_RETURN_IF_ERROR(LoadIndexes());
    PXB_RETURN_IF_ERROR(LoadSnapshots());
    PXB_RETURN_IF_ERROR(CheckChains());
    NotePendingDeletions();
    for (const SnapshotRef& s : snapshots_) CheckSnapshotTrees(s);
    CheckPacksExist();
    if (options_.read_data) ReadData();
    if (!damaged_blobs_.empty()) NameAffectedFiles();
    return std::move(report_);
  }

 private:
  void Problem(std::string object, std::string message) {
    report_.problems.push_back(CheckProblem{std::move(object), std::move(message), {}, {}});
  }

  // A pack problem; NameAffectedFiles adds the snapshots and files it affects.
  void PackProblem(const PackId& id, std::string message) {
    pack_problems_.emplace_back(id, report_.problems.size());
    Problem("pack " + id.ShortHex(), std::move(message));
  }

  // Each key slot must match its name and decode; one that names another
  // repository is damaged too. Unknown kinds are left to newer readers.
  Status CheckKeySlots() {
    std::vector<std::string> names;
    PXB_RETURN_IF_ERROR(repo_.backend().List(kKeysPrefix, [&](const ObjectInfo& info) {
      names.push_back(info.name);
      return Status::Ok();
    }));
    for (const std::string& name : names) {
      auto id = IdFromObjectName<KeySlotId>(name, kKeysPrefix);
      if (!id) {
        report_.notes.push_back("object " + name + " is not a key slot name; ignored");
        continue;
      }
      auto bytes = repo_.backend().Get(name);
      if (!bytes.ok()) {
        if (bytes.status().code() == StatusCode::kUnavailable) return bytes.status();
        Problem("key slot " + id->ShortHex(), std::string(bytes.status().message()));
        continue;
      }
      if (!(KeySlotId(ByteView(Sha256(*bytes))) == *id)) {
        Problem("key slot " + id->ShortHex(), "object does not match its name");
        continue;
      }
      auto slot = DecodeKeySlot(*bytes);
      if (!slot.ok()) {
        Problem("key slot " + id->ShortHex(), std::string(slot.status().message()));
      } else if (!(slot->repository == repo_.config().id)) {
        Problem("key slot " + id->ShortHex(),
                "belongs to repository " + slot->repository.ShortHex());
      }
    }
    return Status::Ok();
  }

  Status ListPacks() {
    return repo_.backend().List(kDataPrefix, [&](const ObjectInfo& info) {
      auto id = IdFromObjectName<PackId>(info.name, kDataPrefix);
      if (!id || PackObjectName(*id) != info.name) {
        report_.notes.push_back("object " + info.name + " is not a pack name; ignored");
        return Status::Ok();
      }
      stored_packs_[*id] = info.size;
      return Status::Ok();
    });
  }

  Status LoadIndexes() {
    std::vector<IndexId> ids;
    PXB_RETURN_IF_ERROR(repo_.backend().List(kIndexPrefix, [&](const ObjectInfo& info) {
      if (auto id = IdFromObjectName<IndexId>(info.name, kIndexPrefix)) ids.push_back(*id);
      return Status::Ok();
    }));
    for (const IndexId& id : ids) {
      auto file = repo_.ReadIndexFile(id);
      if (!file.ok()) {
        if (file.status().code() == StatusCode::kUnavailable) return file.status();
        Problem("index " + id.ShortHex(), std::string(file.status().message()));
        continue;
      }
    }
    // The repository's own index also recovers packs whose index is damaged.
    Status loaded = repo_.LoadIndex();
    if (!loaded.ok()) Problem("index", std::string(loaded.message()));
    report_.packs = stored_packs_.size();
    return Status::Ok();
  }

  Status LoadSnapshots() {
    std::vector<SnapshotId> ids;
    PXB_RETURN_IF_ERROR(repo_.backend().List(kSnapshotsPrefix, [&](const ObjectInfo& info) {
      if (auto id = IdFromObjectName<SnapshotId>(info.name, kSnapshotsPrefix)) ids.push_back(*id);
      return Status::Ok();
    }));
    for (const SnapshotId& id : ids) {
      auto s = repo_.LoadSnapshot(id);
      if (!s.ok()) {
        if (s.status().code() == StatusCode::kUnavailable) return s.status();
        Problem("snapshot " + id.ShortHex(), std::string(s.status().message()));
        continue;
      }
      snapshots_.push_back(SnapshotRef{id, std::move(*s)});
    }
    std::sort(snapshots_.begin(), snapshots_.end(), [](const SnapshotRef& a, const SnapshotRef& b) {
      return a.snapshot.time_ns < b.snapshot.time_ns;
    });
    report_.snapshots = snapshots_.size();
    return Status::Ok();
  }

  // Each snapshot's `previous` must name an existing snapshot of the same
  // source, or one that a forget record says was forgotten.
  Status CheckChains() {
    std::map<SnapshotId, const SnapshotRef*> by_id;
    for (const SnapshotRef& s : snapshots_) by_id[s.id] = &s;
    PXB_ASSIGN_OR_RETURN(std::vector<ForgetRecordEntry> records, repo_.ListForgetRecords());
    std::map<SnapshotId, ObjectHash> forgotten;  // id -> source
    for (const ForgetRecordEntry& r : records) {
      for (const ForgottenSnapshot& f : r.value.snapshots) forgotten[f.id] = f.source;
    }
    std::map<SnapshotId, int> successors;
    for (const SnapshotRef& s : snapshots_) {
      if (!s.snapshot.previous) continue;
      auto it = by_id.find(*s.snapshot.previous);
      if (it == by_id.end()) {
        auto f = forgotten.find(*s.snapshot.previous);
        if (f == forgotten.end()) {
          Problem("snapshot " + s.id.ShortHex(),
                  "its chain link names snapshot " + s.snapshot.previous->ShortHex() +
                      ", which is missing without a forget record (deleted or lost)");
        } else if (!(f->second == s.snapshot.source)) {
          Problem("snapshot " + s.id.ShortHex(), "its chain link names forgotten snapshot " +
                                                     s.snapshot.previous->ShortHex() +
                                                     " of a different source");
        }
        continue;
      }
      if (!(it->second->snapshot.source == s.snapshot.source)) {
        Problem("snapshot " + s.id.ShortHex(), "its chain link names snapshot " +
                                                   s.snapshot.previous->ShortHex() +
                                                   " of a different source");
      }
      if (++successors[*s.snapshot.previous] == 2) {
        report_.notes.push_back("snapshot " + s.snapshot.previous->ShortHex() +
                                " has several successors (concurrent backups of one source)");
      }
    }
    return Status::Ok();
  }

  void CheckSnapshotTrees(const SnapshotRef& s) {
    std::vector<std::pair<BlobId, std::string>> stack{{s.snapshot.tree, ""}};
    while (!stack.empty()) {
      auto [id, path] = stack.back();
      stack.pop_back();
      if (!checked_trees_.insert(id).second) continue;  // shared with an earlier snapshot
      report_.trees++;
      auto tree = LoadTree(repo_, id);
      if (!tree.ok()) {
        damaged_blobs_.insert(id);
        Problem("tree blob " + id.ShortHex(), std::string(tree.status().message()) + " (folder '" +
                                                  (path.empty() ? "/" : path) + "' of snapshot " +
                                                  s.id.ShortHex() + ")");
        continue;
      }
      for (const Node& n : tree->nodes) {
        if (n.type == NodeType::kDirectory) {
          stack.emplace_back(n.subtree, path + "/" + n.name);
        } else if (n.type == NodeType::kFile) {
          for (const Extent& e : n.extents) {
            for (const BlobId& c : e.chunks) {
              if (referenced_data_.insert(c).second) report_.data_blobs_referenced++;
              if (!repo_.HasBlob(c)) damaged_blobs_.insert(c);
            }
          }
        }
      }
    }
  }

  // Prune's plans in progress are normal; a damaged lifecycle object is not.
  void NotePendingDeletions() {
    for (const DeletionPlanEntry& plan : repo_.deletion_plans()) {
      report_.notes.push_back("deletion plan " + plan.id.ShortHex() + " condemns " +
                              std::to_string(plan.value.packs.size()) +
                              " packs; a later prune deletes them");
    }
    if (repo_.damaged_lifecycle_objects() > 0) {
      Problem("lifecycle objects", std::to_string(repo_.damaged_lifecycle_objects()) +
                                       " session, hold, forget record or deletion plan objects "
                                       "cannot be read");
    }
  }

  void CheckPacksExist() {
    for (const PackRecord& pack : repo_.IndexedPacks()) {
      auto it = stored_packs_.find(pack.id);
      if (it == stored_packs_.end() && repo_.IsCondemned(pack.id)) {
        report_.notes.push_back("pack " + pack.id.ShortHex() +
                                " was deleted by a prune while this check ran");
        continue;
      }
      if (it == stored_packs_.end()) {
        MarkPackBlobsDamaged(pack.id);
        PackProblem(pack.id, "is in the index but missing from storage");
      } else if (it->second != pack.length) {
        MarkPackBlobsDamaged(pack.id);
        PackProblem(pack.id, "has " + std::to_string(it->second) + " bytes, the index says " +
                                 std::to_string(pack.length));
      }
    }
    std::set<PackId> indexed;
    for (const PackRecord& pack : repo_.IndexedPacks()) indexed.insert(pack.id);
    for (const auto& [id, size] : stored_packs_) {
      if (!indexed.contains(id)) {
        report_.notes.push_back("pack " + id.ShortHex() +
                                " is not in any index (left by an interrupted backup); "
                                "prune removes it");
      }
    }
  }

  void MarkPackBlobsDamaged(const PackId& pack) {
    repo_.ForEachIndexedBlob([&](const BlobLocation& loc) {
      if (loc.pack.id == pack) damaged_blobs_.insert(loc.blob.id);
    });
  }

  bool InSubset(const PackId& id) {
    if (options_.subset_group) {
      auto [n, m] = *options_.subset_group;
      return (id.Prefix64() % m) == (n - 1);
    }
    if (options_.subset_fraction) {
      uint64_t r;
      RandomBytes(MutableByteView(reinterpret_cast<std::byte*>(&r), sizeof(r)));
      return static_cast<double>(r) / static_cast<double>(UINT64_MAX) < *options_.subset_fraction;
    }
    return true;
  }

  void ReadData() {
    // Group indexed blobs by pack.
    std::unordered_map<PackId, std::vector<PackBlob>, IdHash> blobs_by_pack;
    repo_.ForEachIndexedBlob(
        [&](const BlobLocation& loc) { blobs_by_pack[loc.pack.id].push_back(loc.blob); });
    uint64_t total = 0;
    for (const PackRecord& pack : repo_.IndexedPacks()) {
      if (stored_packs_.contains(pack.id) && InSubset(pack.id)) {
        selected_.push_back(pack);
        total += pack.length;
      }
    }
    progress_.bytes_total = total;
    progress_.files_total = selected_.size();
    progress_.totals_known = true;
    // Packs are read and verified on every core, a few at a time (each
    // holds a whole pack), and their results taken in order.
    TaskPool pool(TaskPool::ThreadsForReading(0), 1);
    const size_t window = pool.thread_count() + 1;
    std::deque<std::future<PackVerdict>> running;
    size_t next = 0;
    while (next < selected_.size() || !running.empty()) {
      while (next < selected_.size() && running.size() < window) {
        const PackRecord& pack = selected_[next++];
        std::vector<PackBlob>& blobs = blobs_by_pack[pack.id];
        running.push_back(pool.Submit([this, &pack, &blobs] { return VerifyPack(pack, blobs); }));
      }
      Record(running.front().get());
      running.pop_front();
    }
  }

  // What reading one pack found.
  struct PackVerdict {
    PackId pack;
    uint64_t bytes_read = 0;
    std::vector<BlobId> damaged;
    std::string problem;  // "" if the pack is sound
  };

  // Reads a pack whole and checks its hash, header and every indexed blob
  // in it. Runs on a pool thread: touches nothing of the checker's but the
  // repository.
  PackVerdict VerifyPack(const PackRecord& pack, std::vector<PackBlob>& blobs) {
    PackVerdict verdict;
    verdict.pack = pack.id;
    // Each pool thread reads into the same buffers pack after pack: fresh
    // ones of 16 MiB would be new pages, faulted in and zeroed, every time.
    thread_local ReadBuffer read_buffer;
    thread_local PageBytes payload, plain;
    auto bytes = repo_.backend().Read(PackObjectName(pack.id), 0, kWholeObject, read_buffer);
    if (!bytes.ok()) {
      verdict.problem = std::string(bytes.status().message());
      for (const PackBlob& b : blobs) verdict.damaged.push_back(b.id);
      return verdict;
    }
    verdict.bytes_read = bytes->size();
    const bool hash_ok = PackId(ByteView(Sha256(*bytes))) == pack.id;
    std::vector<std::string> bad;
    std::sort(blobs.begin(), blobs.end(), [](const PackBlob& a, const PackBlob& b) {
      return std::tie(a.offset, a.member_offset) < std::tie(b.offset, b.member_offset);
    });
    // The pack's key is derived once for all its blobs; if that fails, each
    // blob's decoding reports why. A frame decoded from an earlier read is
    // not taken for this one's.
    auto cipher = repo_.PackCipher(pack);
    Repository::ForgetDecodedFrame();
    for (const PackBlob& b : blobs) {
      Status s;
      if (static_cast<uint64_t>(b.offset) + b.stored_length > bytes->size()) {
        s = DataLossError("beyond the end of the pack");
      } else {
        s = repo_
                .DecodeBlob(pack, b, bytes->subspan(b.offset, b.stored_length), payload, plain,
                            cipher.ok() ? cipher->get() : nullptr)
                .status();
      }
      if (!s.ok()) {
        verdict.damaged.push_back(b.id);
        bad.push_back(std::string(BlobTypeName(b.type)) + " blob " + b.id.ShortHex());
      }
    }
    auto header = repo_.DecodePackBlobs(*bytes);
    if (!hash_ok || !bad.empty() || !header.ok()) {
      std::string message = hash_ok ? "" : "content does not match its name";
      if (!header.ok()) {
        message += (message.empty() ? "" : "; ") + std::string("header: ") +
                   std::string(header.status().message());
      }
      if (!bad.empty()) {
        message += (message.empty() ? "" : "; ") + std::to_string(bad.size()) + " of " +
                   std::to_string(blobs.size()) + " blobs damaged (";
        for (size_t i = 0; i < bad.size() && i < 5; ++i) message += (i ? ", " : "") + bad[i];
        message += bad.size() > 5 ? ", ...)" : ")";
      }
      verdict.problem = std::move(message);
    }
    return verdict;
  }

  void Record(const PackVerdict& verdict) {
    progress_.SetCurrent("pack " + verdict.pack.ShortHex());
    report_.packs_read++;
    progress_.files_done++;
    report_.bytes_read += verdict.bytes_read;
    progress_.bytes_done += verdict.bytes_read;
    damaged_blobs_.insert(verdict.damaged.begin(), verdict.damaged.end());
    if (!verdict.problem.empty()) PackProblem(verdict.pack, verdict.problem);
  }

  // Walks every snapshot again and names the files that need a damaged blob.
  void NameAffectedFiles() {
    std::map<BlobId, size_t> problem_of_blob;
    std::vector<std::pair<BlobId, CheckProblem>> per_blob;
    std::map<PackId, CheckProblem> per_pack;  // snapshots and files only
    auto note_pack = [&](const BlobId& blob, const SnapshotId& snapshot, const std::string& path) {
      auto loc = repo_.FindBlob(blob);
      if (!loc) return;
      AddTo(per_pack[loc->pack.id], snapshot, path);
    };
    for (const SnapshotRef& s : snapshots_) {
      Status walked = WalkTree(
          repo_, s.snapshot.tree, "",
          [&](const std::string& path, const Node& n) -> StatusOr<bool> {
            if (n.type == NodeType::kDirectory && damaged_blobs_.contains(n.subtree)) {
              AddAffected(n.subtree, BlobType::kTree, s.id, path + "/", problem_of_blob, per_blob);
              note_pack(n.subtree, s.id, path + "/");
              return false;
            }
            if (n.type != NodeType::kFile) return true;
            bool named = false;
            std::set<PackId> packs;
            for (const Extent& e : n.extents) {
              for (const BlobId& c : e.chunks) {
                if (!damaged_blobs_.contains(c)) continue;
                if (!named) AddAffected(c, BlobType::kData, s.id, path, problem_of_blob, per_blob);
                named = true;
                auto loc = repo_.FindBlob(c);
                if (loc && packs.insert(loc->pack.id).second) note_pack(c, s.id, path);
              }
            }
            return true;
          });
      if (damaged_blobs_.contains(s.snapshot.tree)) {
        AddAffected(s.snapshot.tree, BlobType::kTree, s.id, "/", problem_of_blob, per_blob);
        note_pack(s.snapshot.tree, s.id, "/");
      }
      walked.IgnoreError();  // damaged trees were reported above
    }
    // Each damaged pack names what depends on it.
    for (const auto& [pack, index] : pack_problems_) {
      auto it = per_pack.find(pack);
      if (it == per_pack.end()) continue;
      report_.problems[index].snapshots = it->second.snapshots;
      report_.problems[index].files = it->second.files;
    }
    // One summary problem per damaged data blob that some file needs.
    for (auto& [id, problem] : per_blob) report_.problems.push_back(std::move(problem));
  }

  static void AddTo(CheckProblem& p, const SnapshotId& snapshot, const std::string& path) {
    if (p.snapshots.empty() || !(p.snapshots.back() == snapshot)) p.snapshots.push_back(snapshot);
    if (p.files.size() < kMaxFilesPerProblem) p.files.push_back(snapshot.ShortHex() + ":" + path);
  }

  // `type` names the blob when no index knows it.
  void AddAffected(const BlobId& blob, BlobType type, const SnapshotId& snapshot,
                   const std::string& path, std::map<BlobId, size_t>& index_of,
                   std::vector<std::pair<BlobId, CheckProblem>>& out) {
    auto it = index_of.find(blob);
    if (it == index_of.end()) {
      auto loc = repo_.FindBlob(blob);
      CheckProblem p;
      p.object =
          std::string(BlobTypeName(loc ? loc->blob.type : type)) + " blob " + blob.ShortHex();
      p.message = loc ? "is damaged (in pack " + loc->pack.id.ShortHex() + ")"
                      : "is missing: no index names it";
      it = index_of.emplace(blob, out.size()).first;
      out.emplace_back(blob, std::move(p));
    }
    AddTo(out[it->second].second, snapshot, path);
  }

  Repository& repo_;
  const CheckOptions& options_;
  Progress& progress_;
  CheckReport report_;
  std::map<PackId, uint64_t> stored_packs_;
  std::vector<SnapshotRef> snapshots_;
  std::unordered_set<BlobId, IdHash> checked_trees_;
  std::unordered_set<BlobId, IdHash> referenced_data_;
  std::unordered_set<BlobId, IdHash> damaged_blobs_;
  std::vector<PackRecord> selected_;
  std::vector<std::pair<PackId, size_t>> pack_problems_;  // pack, index in report_.problems
};

}  // namespace

Status ParseReadDataSubset(std::string_view text, CheckOptions& options) {
  auto invalid = [&] {
    return InvalidArgumentError("--read-data-subset '" + std::string(text) +
                                "': use n/m (group n of m, e.g. 1/5) or a percentage (e.g. 10%)");
  };
  std::string s(text);
  if (!s.empty() && s.back() == '%') {
    char* end = nullptr;
    double percent = std::strtod(s.c_str(), &end);
    if (end != s.c_str() + s.size() - 1 || !(percent > 0) || percent > 100) return invalid();
    options.subset_fraction = percent / 100.0;
    options.read_data = true;
    return Status::Ok();
  }
  unsigned n = 0, m = 0;
  int consumed = 0;
  if (std::sscanf(s.c_str(), "%u/%u%n", &n, &m, &consumed) != 2 ||
      consumed != static_cast<int>(s.size()) || m == 0 || n == 0 || n > m) {
    return invalid();
  }
  options.subset_group = std::make_pair(n, m);
  options.read_data = true;
  return Status::Ok();
}

StatusOr<CheckReport> RunCheck(Repository& repo, const CheckOptions& options, Progress& progress) {
  Checker checker(repo, options, progress);
  return checker.Run();
}

}  // namespace pxb
