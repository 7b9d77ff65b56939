// ErasureBackend: a Backend spread over several storage targets, every
// object stored as k data + m parity Reed-Solomon shards (or m + 1 copies
// when small), each shard on its own target (doc/design.md section 13;
// shard layout and names in doc/repository_format.md section 10).
//
// The repository above does not know about shards: it puts and gets whole
// objects. Writes succeed while at least `min_shards` shards land; reads
// succeed while any k good shards of an object remain.
//
//   PXB_ASSIGN_OR_RETURN(auto backend, OpenErasureBackend(list));
//   PXB_RETURN_IF_ERROR(backend->Put("data/ab/abcd...", pack));
//
// Thread-safety: safe for concurrent use from many threads and from several
// processes sharing the same targets (each shard name belongs to one object
// and shard index, and shards are immutable).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/buffer_pool.h"
#include "core/erasure/reed_solomon.h"
#include "core/task_pool.h"
#include "format/shard_format.h"
#include "format/target_list_format.h"
#include "storage/backend.h"
#include "storage/erasure/shard_placer.h"

namespace pxb {

struct ErasureOptions {
  // How long a failed target is left alone at first; doubles while it keeps
  // failing, up to max_down_time.
  std::chrono::milliseconds down_time{30'000};
  std::chrono::milliseconds max_down_time{600'000};
  // Threads for shard I/O; 0: two per target, at least 8.
  size_t io_threads = 0;
};

// Opens the backend of one target (its URL, plus settings the caller keeps
// outside the stored list, such as credentials).
using TargetOpener = std::function<StatusOr<std::unique_ptr<Backend>>(const TargetSpec&)>;

// What a target is doing, for `target status` and tests.
struct TargetHealth {
  std::string name;
  bool up = true;
  uint64_t failures = 0;      // consecutive failed calls
  double latency_ms = 0;      // moving average of successful reads
  uint64_t shards_known = 0;  // shards the placement map places there
  uint64_t bytes_known = 0;
  std::string last_error;
};

class ErasureBackend final : public Backend {
 public:
  // One backend per entry of list.targets, in the same order. Validates the
  // list (kInvalidArgument). `open` opens the targets of a newer stored list
  // for Delete (default: OpenBackend(url)).
  static StatusOr<std::unique_ptr<ErasureBackend>> Create(
      TargetList list, std::vector<std::unique_ptr<Backend>> targets, ErasureOptions options = {},
      TargetOpener open = {});
  ~ErasureBackend() override;

  std::string Location() const override;
  // Creates every target and stores the target list on each. exclusive:
  // kAlreadyExists if any target holds repository objects already.
  Status Create(bool exclusive) override;
  Status Put(std::string_view name, ByteView data) override;
  StatusOr<Bytes> Get(std::string_view name, uint64_t offset = 0,
                      uint64_t length = kWholeObject) override;
  // Reads the data shards of a Reed-Solomon object straight into `buffer`,
  // each through a buffer its reading thread keeps; anything else (a
  // replicated object, a shard to rebuild) goes through Get.
  StatusOr<ByteView> Read(std::string_view name, uint64_t offset, uint64_t length,
                          ReadBuffer& buffer) override;
  StatusOr<ObjectInfo> Stat(std::string_view name) override;
  // Objects, each once, from the listings of all targets; the target list
  // objects (`targets/`) and objects with fewer than k shards (unreadable)
  // are not listed. kUnavailable if more than m targets cannot be listed.
  Status List(std::string_view prefix, const std::function<Status(const ObjectInfo&)>& fn) override;
  // Deletes every shard a fresh listing finds, then lists again until a
  // listing finds none (a shard that a scrub copied meanwhile goes too);
  // over the targets of the newest stored target list, also when it is
  // newer than this backend's (a target added since, where a rebalance
  // copies shards). kNotFound if no shard existed; kUnavailable if a shard
  // cannot be deleted.
  Status Delete(std::string_view name) override;
  // Cleans every target that is up.
  StatusOr<uint64_t> RemoveStaleTemporaries(int64_t cutoff_ns) override;

  // Writes the target list object on every target; kUnavailable naming the
  // targets where it failed.
  Status StoreTargetList();

  // The newest target list stored on the targets (read in parallel; a
  // target that fails is marked down). kNotFound if none holds one.
  StatusOr<TargetList> NewestStoredTargetList();

  const TargetList& target_list() const { return list_; }
  size_t target_count() const { return targets_.size(); }
  Backend& target(size_t i) { return *targets_[i].backend; }
  std::vector<TargetHealth> Health() const;
  // Objects written with fewer than k + m shards since this backend opened.
  uint64_t degraded_writes() const { return degraded_writes_.load(); }

  // Where an object's shards are, as the placement map knows it after a
  // listing or a write: one entry per shard found.
  struct ShardLocation {
    int index = 0;
    size_t target = 0;
  };
  struct ObjectShards {
    ShardScheme scheme = ShardScheme::kReedSolomon;
    int data_shards = 1;
    int parity_shards = 0;
    uint64_t length = 0;
    std::vector<ShardLocation> shards;
  };
  // The header (without checksum) of shard `index` of object `name`.
  static StatusOr<ShardHeader> ShardHeaderFor(std::string_view name, const ObjectShards& coding,
                                              int index);
  // Looks the object up in the placement map, listing its shard names on
  // every target if the map does not know it. kNotFound if no shard exists.
  StatusOr<ObjectShards> Locate(std::string_view name);
  // Lists `prefix` on every target, refreshing the placement map, and calls
  // fn for every object seen (sorted by name). Targets that could not be
  // listed are named in `unlisted`.
  Status ScanObjects(std::string_view prefix,
                     const std::function<Status(const std::string&, const ObjectShards&)>& fn,
                     std::vector<std::string>* unlisted = nullptr);
  // Writes shard `index` of `name` (already encoded with its header) to
  // target `target` and records it; used by scrub and rebalance.
  Status PutShard(std::string_view name, const ObjectShards& coding, int index, size_t target,
                  ByteView shard);
  // Deletes shard `index` of `name` on `target` and drops it from the
  // placement map; OK if it was gone already. Used by scrub and rebalance.
  Status DeleteShard(std::string_view name, const ObjectShards& coding, int index, size_t target);
  // Encodes every shard of an object (headers included), index order.
  // Large shards come from a pool that RecycleShards refills. With
  // `unsealed`, Reed-Solomon shards come without their headers, which
  // `unsealed` receives for the caller to write (WriteShardHeader hashes the
  // whole shard: done on the threads that store the shards, side by side).
  StatusOr<std::vector<PageBytes>> EncodeShards(std::string_view name, ByteView data,
                                                ShardScheme scheme, int k, int m,
                                                std::vector<ShardHeader>* unsealed = nullptr) const;
  // Keeps the buffers of stored shards for the next object's.
  void RecycleShards(std::vector<PageBytes>& shards) const;
  // The size of each of the object's shard objects, header included.
  static uint64_t ShardObjectSize(const ObjectShards& object);
  // Per target: its weight and capacity, the bytes of the shards the
  // placement map knows (complete after a listing of ""), and whether it
  // holds a balanced share (active and up).
  std::vector<TargetFill> TargetFills() const;
  // False while a target is marked down after a failure.
  bool IsUp(size_t target) const;
  // Marks a target down now (tests, `target status` probes) or up again.
  void SetTargetUp(size_t target, bool up);

 private:
  struct TargetRuntime {
    TargetSpec spec;
    std::unique_ptr<Backend> backend;
    mutable std::mutex mu;
    int64_t down_until_ns = 0;
    uint64_t failures = 0;
    double latency_ms = 0;
    std::string last_error;
  };

  ErasureBackend(TargetList list, std::vector<std::unique_ptr<Backend>> targets,
                 ErasureOptions options, TargetOpener open);

  // The listing rounds of Delete over this backend's targets.
  Status DeleteHere(std::string_view name);
  // This backend, or one over a newer target list stored on the targets
  // (opened once, kept for later deletes); this one if none can be read.
  std::shared_ptr<ErasureBackend> NewestForDelete();

  void RecordFailure(size_t target, const Status& status);
  void RecordSuccess(size_t target, double latency_ms);
  // Targets in the order reads should try them for one object: up before
  // down, then by latency.
  std::vector<size_t> ReadOrder(const std::vector<size_t>& holders) const;
  void Remember(const std::string& name, const ObjectShards& shards);
  void Forget(const std::string& name);
  // Lists every target for names starting with `prefix`, grouped by object.
  StatusOr<std::unordered_map<std::string, ObjectShards>> ListShards(
      std::string_view prefix, std::vector<std::string>* unlisted);
  // Reads one shard of an object into `buffer`, whole (verified; the view
  // includes the header) or a byte range of its payload, trying every
  // target that holds it.
  StatusOr<ByteView> ReadShardInto(std::string_view name, const ObjectShards& object, int index,
                                   bool whole, uint64_t offset, uint64_t length, bool skip_down,
                                   ReadBuffer& buffer);
  // The object's length and the range [offset, offset + length) resolved
  // against it (kWholeObject: to the end); kOutOfRange beyond it.
  StatusOr<ObjectShards> LocateRange(std::string_view name, uint64_t offset, uint64_t& length);
  // Reads the range from the data shards alone, each straight into `out`;
  // fails if any of them cannot be read (the caller then decodes).
  Status ReadDataShards(std::string_view name, const ObjectShards& object, uint64_t offset,
                        MutableByteView out);
  StatusOr<Bytes> GetReplica(std::string_view name, const ObjectShards& object, uint64_t offset,
                             uint64_t length);
  StatusOr<Bytes> GetReedSolomon(std::string_view name, const ObjectShards& object, uint64_t offset,
                                 uint64_t length);

  TargetList list_;
  ErasureOptions options_;
  TargetOpener open_;
  std::vector<TargetRuntime> targets_;
  ReedSolomon codec_;
  std::unique_ptr<TaskPool> io_;
  // Shard buffers of a few packs, reused: fresh ones of several MiB would
  // be new pages, faulted in and zeroed, for every pack.
  mutable PageBufferPool shard_buffers_{16};

  // Adds or removes the object's shards to used_bytes_; map_mu_ held.
  void AccountLocked(const ObjectShards& object, bool add);

  mutable std::shared_mutex map_mu_;
  std::unordered_map<std::string, ObjectShards> map_;
  std::vector<uint64_t> used_bytes_;  // per target, of the shards in map_

  std::atomic<uint64_t> degraded_writes_{0};

  std::mutex newer_mu_;
  std::vector<std::string> list_names_seen_;  // targets/ names at the last look
  std::shared_ptr<ErasureBackend> newer_;     // over a newer stored list, if any
};

// Opens every target of `list` with `open` (default: OpenBackend(url), S3
// credentials from the environment) and returns the erasure backend over
// them. A target that cannot be opened (bad URL) is an error; one that is
// unreachable is not (it is marked down on first use).
StatusOr<std::unique_ptr<ErasureBackend>> OpenErasureBackend(TargetList list,
                                                             ErasureOptions options = {},
                                                             const TargetOpener& open = {});

// The newest target list stored on `backend` (highest version; among equal
// versions the greatest object name). kNotFound if it holds none.
StatusOr<TargetList> LoadTargetList(Backend& backend);

// Opens what a repository URL names: a plain backend, or, when the URL is
// one target of an erasure-coded repository (it holds a target list and no
// `config`), the erasure backend over all its targets.
StatusOr<std::unique_ptr<Backend>> OpenRepositoryBackend(std::string_view url);

}  // namespace pxb
