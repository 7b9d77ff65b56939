// Repository: the content-addressed, encrypted store that the engine uses.
//
// It opens a repository with a passphrase (trying every key slot), derives
// the subkeys, loads the index, reads and writes blobs (deduplicating,
// compressing, encrypting and packing them) and reads and writes snapshots
// and key slots. It takes no lock: every object it writes has a new name
// (see doc/design.md section 6).
//
//   PXB_ASSIGN_OR_RETURN(auto repo, Repository::Open(std::move(backend), passphrase));
//   PXB_RETURN_IF_ERROR(repo->LoadIndex());
//   PXB_ASSIGN_OR_RETURN(Bytes tree, repo->LoadBlob(BlobType::kTree, id));
//
// Thread-safety: every method may be called concurrently from several
// threads, except Flush(), which must not run concurrently with SaveBlob().
#pragma once

#include <array>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <shared_mutex>
#include <span>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include "core/buffer_pool.h"
#include "core/chunker/fastcdc.h"
#include "core/compress/zstd_codec.h"
#include "core/crypto/argon2.h"
#include "core/crypto/hmac.h"
#include "format/config_format.h"
#include "format/crypto_format.h"
#include "format/envelope_format.h"
#include "format/keyslot_format.h"
#include "format/lifecycle_format.h"
#include "format/pack_format.h"
#include "format/snapshot_format.h"
#include "repo/master_index.h"
#include "storage/backend.h"

namespace pxb {

// The default average chunk size of new repositories (doc/design.md section
// 4 gives the measurement behind it).
inline constexpr ChunkerParams kDefaultRepositoryChunker{128 * 1024, 512 * 1024, 2048 * 1024, 2};

struct InitOptions {
  AeadAlgorithm cipher = AeadAlgorithm::kAes256Gcm;
  ChunkerParams chunker = kDefaultRepositoryChunker;
  uint64_t pack_size = kDefaultPackSize;
  Argon2idParams kdf = kDefaultArgon2idParams;
  std::string key_label;
};

// A zstd dictionary and its blob id: every pack that holds a blob compressed
// with it holds a copy (doc/repository_format.md section 5).
struct BlobDictionary {
  BlobId id;
  std::shared_ptr<const ZstdDictionary> zstd;
};

struct SaveBlobResult {
  BlobId id;
  bool added = false;          // false: the repository already had it
  uint64_t stored_length = 0;  // bytes this call added to a pack (0 if not added)
};

struct SnapshotEntry {
  SnapshotId id;
  Snapshot snapshot;
};

// A lifecycle object (doc/repository_format.md sections 12 to 15) and the
// hash that names it.
template <typename T>
struct LifecycleEntry {
  ObjectHash id;
  T value;
};
using SessionEntry = LifecycleEntry<SessionRecord>;
using ForgetRecordEntry = LifecycleEntry<ForgetRecord>;
using HoldEntry = LifecycleEntry<Hold>;
using DeletionPlanEntry = LifecycleEntry<DeletionPlan>;

// The default lease of a session (doc/design.md section 15).
inline constexpr int64_t kDefaultSessionLeaseNs = 600'000'000'000;

struct KeySlotEntry {
  KeySlotId id;
  KeySlot slot;        // kind "damaged" when the object cannot be decoded
  std::string damage;  // why it cannot be decoded; empty for a good slot
};

// Counters of what this process wrote.
struct WriteStats {
  std::atomic<uint64_t> blobs_added{0};
  std::atomic<uint64_t> bytes_added{0};   // plaintext
  std::atomic<uint64_t> bytes_stored{0};  // in packs, after compression and encryption
  std::atomic<uint64_t> packs_written{0};
  std::atomic<uint64_t> index_files_written{0};
};

class Repository {
 public:
  ~Repository();

  // Creates a new repository on an empty backend with one passphrase slot.
  // kAlreadyExists if the backend already holds a repository or other objects.
  static StatusOr<std::unique_ptr<Repository>> Init(std::unique_ptr<Backend> backend,
                                                    std::string_view passphrase,
                                                    const InitOptions& options);

  // Opens an existing repository. kNotFound if there is none at the backend;
  // kUnauthenticated if no key slot opens with the passphrase;
  // kFailedPrecondition for a newer format; kDataLoss for a damaged config.
  static StatusOr<std::unique_ptr<Repository>> Open(std::unique_ptr<Backend> backend,
                                                    std::string_view passphrase);

  const RepositoryConfig& config() const { return config_; }
  Backend& backend() { return *backend_; }
  const Chunker& chunker() const { return *chunker_; }
  const KeySlotId& unlocked_slot() const { return unlocked_slot_; }
  BlobId ComputeBlobId(ByteView plaintext) const;

  // --- Index ---
  // Reads the deletion plans, then every index object (dropping superseded
  // ones) into memory, packs condemned by a plan last. Damaged index objects
  // are skipped and the packs they named are recovered from their own
  // headers (see damaged_index_files()). An index deleted by a concurrent
  // prune while loading makes it list and load again.
  Status LoadIndex();
  size_t damaged_index_files() const { return damaged_index_files_; }
  // Adds packs that are stored but named by no index (left by an interrupted
  // backup) to the in-memory index, and to the next index this process
  // writes, so their blobs are reused instead of uploaded again. Returns how
  // many packs were adopted.
  StatusOr<size_t> AdoptUnindexedPacks();
  // Where a blob can be read (a copy outside condemned packs if there is one).
  std::optional<BlobLocation> FindBlob(const BlobId& id) const;
  bool HasBlob(const BlobId& id) const { return FindBlob(id).has_value(); }
  // Whether a new snapshot may reference the blob: it has a copy in a pack
  // that no deletion plan condemns (doc/design.md section 15).
  bool HasReusableBlob(const BlobId& id) const;
  // Packs named by the deletion plans LoadIndex read.
  bool IsCondemned(const PackId& id) const;
  const std::vector<DeletionPlanEntry>& deletion_plans() const { return deletion_plans_; }
  size_t IndexedBlobCount() const;
  size_t IndexMemoryBytes() const;
  std::vector<PackRecord> IndexedPacks() const;
  // Calls fn(location) for every indexed blob, under the index's read lock.
  void ForEachIndexedBlob(const std::function<void(const BlobLocation&)>& fn) const;
  // Reads and decodes one index object.
  StatusOr<IndexFile> ReadIndexFile(const IndexId& id);

  // --- Blobs ---
  // Loads a blob through the index, decrypts, decompresses and checks its id.
  // kNotFound if not indexed; kDataLoss if stored bytes are damaged.
  StatusOr<Bytes> LoadBlob(BlobType type, const BlobId& id);
  // Decodes a blob from its stored bytes (from a pack read as a whole).
  StatusOr<Bytes> DecodeBlob(const PackRecord& pack, const PackBlob& blob, ByteView stored) const;
  // The cipher of one pack, to decode many of its blobs with one key
  // derivation; the key is wiped when it is destroyed. Used by one thread.
  StatusOr<std::unique_ptr<Aead>> PackCipher(const PackRecord& pack) const;
  // The same into the caller's buffers, which keep their capacity for the
  // next blob and are not cleared before being written: the view is of
  // `payload` or `plain` and valid until they change; for a member of a
  // frame, of this thread's copy of the frame's plaintext, valid until the
  // thread decodes another frame. `cipher`, if given, is PackCipher(pack).
  StatusOr<ByteView> DecodeBlob(const PackRecord& pack, const PackBlob& blob, ByteView stored,
                                PageBytes& payload, PageBytes& plain, Aead* cipher = nullptr) const;
  // The same straight into `out`, which must be the blob's raw length (else
  // kInvalidArgument); a compressed blob's frame goes through `scratch`.
  // On failure `out` holds unspecified bytes. Returns `out`.
  StatusOr<ByteView> DecodeBlobInto(const PackRecord& pack, const PackBlob& blob, ByteView stored,
                                    MutableByteView out, PageBytes& scratch,
                                    Aead* cipher = nullptr) const;
  // Members of a frame read one after the other from the same stored bytes
  // share one decoding of the frame, kept per thread. A reader that must
  // verify every read of the same pack (check) forgets it first.
  static void ForgetDecodedFrame();
  // Reads a pack's header from the backend.
  StatusOr<std::vector<PackBlob>> ReadPackHeader(const PackId& id, uint64_t pack_size);
  // Decodes the header of a whole pack held in memory.
  StatusOr<std::vector<PackBlob>> DecodePackBlobs(ByteView pack) const;

  // Stores a blob unless the repository (or a pending pack) has it. Full
  // packs are written in the background as they fill, within the limits
  // below (SaveBlob waits for room); call Flush() to write the rest. After
  // a background write failed, SaveBlob returns that error until Flush()
  // has retried it.
  // With a dictionary, the blob is compressed with it (if that pays) and its
  // pack gets a copy of the dictionary.
  StatusOr<SaveBlobResult> SaveBlob(BlobType type, ByteView plaintext, CompressionLevel level,
                                    const BlobDictionary* dictionary = nullptr);
  // Stores blobs that are read together (a database's pages in file order)
  // like SaveBlob, but those not stored yet compressed together as one
  // frame when there are at least two of them: the members of a frame share
  // its compression, tag and header entry. A result's stored_length is the
  // member's share of its frame.
  StatusOr<std::vector<SaveBlobResult>> SaveFramed(BlobType type, std::span<const ByteView> blobs,
                                                   CompressionLevel level,
                                                   const BlobDictionary* dictionary = nullptr);
  // Gives a dictionary its id.
  BlobDictionary MakeBlobDictionary(std::shared_ptr<const ZstdDictionary> zstd) const;
  // The dictionary an indexed blob was compressed with; nullptr if none.
  // Fetched from the blob's pack once and then kept (by id) for reuse.
  StatusOr<std::shared_ptr<const BlobDictionary>> DictionaryOf(const BlobLocation& location) const;
  // Stores a blob copied out of a pack that prune is about to condemn: its
  // id is verified, and its compressed payload goes into a new pack without
  // recompressing. Skipped (returns false) if this process already stored
  // it. kDataLoss when the stored bytes are damaged.
  StatusOr<bool> CopyBlob(const PackRecord& pack, const PackBlob& blob, ByteView stored);
  // Copies members of one frame (`stored`: the frame's bytes) the same way:
  // two or more are compressed together again as a new frame, with their
  // dictionary, so that repacking keeps what frames save. Results as
  // SaveFramed's; kInvalidArgument for entries not of one frame.
  StatusOr<std::vector<SaveBlobResult>> CopyMembers(const PackRecord& pack,
                                                    std::span<const PackBlob> members,
                                                    ByteView stored);
  // Writes one index object naming `packs` that supersedes `superseded`.
  StatusOr<IndexId> WriteSupersedingIndex(std::vector<IndexedPack> packs,
                                          std::vector<IndexId> superseded);
  // Waits for the background writes, retries packs whose write failed,
  // writes every open pack, then an index naming all packs not yet indexed.
  // After an error, calling Flush again retries what is left; but once a
  // pack was dropped unwritten (its sealing failed), blobs other callers
  // were told are saved are gone, and every later SaveBlob, CopyBlob and
  // Flush of this Repository fails with that error, so that no snapshot
  // can name them.
  Status Flush();

  // Full packs queued or being written at once: bounds the memory they hold
  // (16 MiB each by default, and 1.5 times that as 4+2 shards). One is
  // enough: workers fill the next pack while it is written, and a second
  // cost 16 to 40 MiB of peak memory for no measurable speed (design.md
  // section 7).
  static constexpr size_t kPacksInFlight = 1;
  // A staged pack (PackBuilder's ring) is opened only while fewer full
  // staged packs than this are queued or being finished, each still
  // holding its ring until its last bytes are written...
  static constexpr size_t kStagedPacksFinishing = 1;
  // ...and fewer than this finished ones wait for their commit, each
  // holding only its open file: a slow fsync does not stop the workers,
  // a hung disk does before the files run out.
  static constexpr size_t kStagedPacksCommitting = 16;
  // Threads writing packs, so that a worker never waits for storage. A
  // thread of its own finishes full staged packs, so that finishing one
  // never waits behind another's commit (an fsync).
  static constexpr size_t kPackWriterThreads = kPacksInFlight;
  const WriteStats& write_stats() const { return stats_; }

  // --- Snapshots ---
  // Every readable snapshot, sorted by time, oldest first. Damaged snapshot
  // objects are left out and counted in damaged_snapshots().
  StatusOr<std::vector<SnapshotEntry>> ListSnapshots();
  size_t damaged_snapshots() const {
    return damaged_by_kind_[static_cast<size_t>(EnvelopeKind::kSnapshot)];
  }
  StatusOr<Snapshot> LoadSnapshot(const SnapshotId& id);
  StatusOr<SnapshotId> SaveSnapshot(const Snapshot& snapshot);
  // Resolves "latest", a full id or a unique prefix (at least 4 hex digits).
  // kNotFound, or kInvalidArgument for an ambiguous or malformed reference.
  StatusOr<SnapshotId> ResolveSnapshot(std::string_view reference);
  Status DeleteSnapshot(const SnapshotId& id);

  // --- Lifecycle objects (doc/design.md section 15) ---
  // Each List skips objects that cannot be decoded and counts them in
  // damaged_lifecycle_objects() (as of the latest List of each kind); a
  // missing object (deleted meanwhile) is skipped silently.
  StatusOr<std::vector<ForgetRecordEntry>> ListForgetRecords();
  StatusOr<ObjectHash> SaveForgetRecord(const ForgetRecord& record);
  StatusOr<std::vector<HoldEntry>> ListHolds();
  StatusOr<ObjectHash> SaveHold(const Hold& hold);
  Status DeleteHold(const ObjectHash& id);
  StatusOr<std::vector<DeletionPlanEntry>> ListDeletionPlans();
  StatusOr<ObjectHash> SaveDeletionPlan(const DeletionPlan& plan);
  Status DeleteDeletionPlan(const ObjectHash& id);
  StatusOr<std::vector<SessionEntry>> ListSessions();
  Status DeleteSession(const ObjectHash& id);
  size_t damaged_lifecycle_objects() const;

  // Starts this process's session: writes it now and renews it from a
  // background thread every quarter of `lease_ns` until the repository is
  // destroyed, which deletes it. Call before LoadIndex. At most once.
  Status StartSession(std::string command, int64_t lease_ns = kDefaultSessionLeaseNs);
  // The running session's id; empty without one.
  std::string session_id() const;
  // kFailedPrecondition when this process's session expired without being
  // renewed (prune may have deleted data it relied on); OK without a session.
  Status CheckSession() const;
  // --- Key slots ---
  StatusOr<std::vector<KeySlotEntry>> ListKeySlots();
  StatusOr<KeySlotId> AddPassphraseSlot(std::string_view passphrase, const Argon2idParams& params,
                                        std::string label);
  // kFailedPrecondition when no other usable slot would remain.
  Status RemoveKeySlot(const KeySlotId& id);

 private:
  Repository(std::unique_ptr<Backend> backend, RepositoryConfig config, const SecretKey& master,
             RepositoryKeys keys, std::shared_ptr<const GearTable> gear, KeySlotId unlocked_slot);
  Status StorePack(FinishedPack pack);
  // Decrypts a stored blob into `payload` (as stored: compressed or not)
  // and a compressed one's plaintext into `plain`, and checks its id. Not
  // for members of frames (DecodeMember).
  template <class PayloadBuffer, class PlainBuffer>
  Status DecryptAndVerify(const PackRecord& pack, const PackBlob& blob, ByteView stored,
                          PayloadBuffer& payload, PlainBuffer& plain, Aead* cipher = nullptr) const;
  // The same without checking an id, for a frame or a blob; `what()` names
  // it in an error.
  template <class PayloadBuffer, class PlainBuffer, class What>
  Status Decrypt(const PackRecord& pack, const PackBlob& blob, ByteView stored,
                 PayloadBuffer& payload, PlainBuffer& plain, Aead* cipher, const What& what) const;
  // A member's plaintext, checked against its id: a view into this
  // thread's copy of the frame's plaintext, which is decoded once for all
  // the members read from the same stored bytes one after the other. Valid
  // until this thread decodes another frame.
  StatusOr<ByteView> DecodeMember(const PackRecord& pack, const PackBlob& blob, ByteView stored,
                                  Aead* cipher) const;
  // The same from the frame this thread decoded last, if it is the
  // member's (nullopt if not), without its stored bytes.
  std::optional<StatusOr<ByteView>> DecodedMember(const PackRecord& pack,
                                                  const PackBlob& blob) const;
  // A member of the frame this thread holds, checked against its id.
  StatusOr<ByteView> MemberOfFrame(const PackRecord& pack, const PackBlob& blob) const;
  // SaveFramed, and with `copying` the members CopyMembers copies: stored
  // although the index has them, unless this process stored them already.
  StatusOr<std::vector<SaveBlobResult>> StoreFramed(BlobType type, std::span<const ByteView> blobs,
                                                    CompressionLevel level,
                                                    const BlobDictionary* dictionary, bool copying);
  // Marks a blob as being stored by this process; false if it already is
  // (or, with unless_reusable, if a reusable copy exists).
  bool ClaimPending(const BlobId& id, bool unless_reusable);
  void ReleasePending(const BlobId& id);
  // Appends a claimed blob's payload, or with `frame` the payload of a frame
  // of claimed blobs, to the open pack of its type and queues the pack once
  // full; releases the claims on failure.
  Status AppendBlob(BlobType type, std::span<const FrameMember> blobs, bool frame, bool compressed,
                    ByteView payload, const BlobDictionary* dictionary);
  // Compresses a claimed blob (if that pays) and appends it; returns the
  // bytes it takes in its pack. Releases the claim on failure.
  StatusOr<uint64_t> StoreClaimed(BlobType type, const BlobId& id, ByteView plaintext,
                                  CompressionLevel level, const BlobDictionary* dictionary);
  // The same for claimed blobs whose plaintexts follow each other in
  // `plaintext`: two or more go as one frame.
  StatusOr<uint64_t> StoreClaimed(BlobType type, std::span<const FrameMember> blobs,
                                  ByteView plaintext, CompressionLevel level,
                                  const BlobDictionary* dictionary);
  // The dictionary `blob` names in `pack` (through the index); nullptr if it
  // names none.
  StatusOr<std::shared_ptr<const BlobDictionary>> DictionaryFor(const PackRecord& pack,
                                                                const PackBlob& blob) const;
  // Waits until a pack may be opened: for a staged one, while
  // kStagedPacksFinishing full staged packs still hold their rings or
  // kStagedPacksCommitting wait for their commit (a pack ended early for
  // a dictionary, by the caller, is not counted yet); for one built whole,
  // while kPacksInFlight full packs are being written or queued and
  // another is full too, so that at most one more pack is open beside
  // them. Called with a builder lock held: the writers and the finisher
  // never take one.
  void WaitForRoomToOpenPack(bool staged);
  // Hands a full pack to the background writers; waits while kPacksInFlight
  // are queued or being written.
  void QueuePackWrite(FinishedPack pack);
  // Hands a full staged pack to the finisher, which waits for its seals
  // and its ring and hands it to the writers. Never waits: the pack's ring
  // was accounted for when it became full.
  void QueuePackFinish(std::unique_ptr<PackBuilder> builder);
  // Finishes a full pack; a staged pack's ring goes back to pack_buffers_.
  StatusOr<FinishedPack> FinishPack(PackBuilder& builder);
  // Starts the writers with the first full pack. Called under writes_mu_.
  void StartPackWriters();
  void PackWriterLoop();
  void PackFinisherLoop();
  // Waits until no full pack is queued, being finished or being written.
  void WaitForPackWrites();
  // Reads the headers of stored packs that `index` does not name, except
  // condemned ones (which must not be indexed again).
  StatusOr<std::vector<IndexedPack>> ReadUnindexedPacks(
      const MasterIndex& index, const std::unordered_set<PackId, IdHash>& condemned);
  Status WriteIndexLocked();
  StatusOr<KeySlotId> StoreKeySlot(const KeySlot& slot);
  StatusOr<IndexId> PutIndexFile(const IndexFile& file);
  // Sealed objects named by the SHA-256 of their bytes under `prefix`.
  // ListSealed skips objects deleted meanwhile and counts damaged ones in
  // damaged_by_kind_.
  StatusOr<ObjectHash> PutSealed(EnvelopeKind kind, std::string_view prefix, ByteView payload);
  StatusOr<Bytes> GetSealed(EnvelopeKind kind, std::string_view prefix, const ObjectHash& id);
  template <typename T>
  StatusOr<std::vector<LifecycleEntry<T>>> ListSealed(EnvelopeKind kind, std::string_view prefix,
                                                      StatusOr<T> (*decode)(ByteView));
  // One attempt of LoadIndex; sets load_again when an index object vanished
  // or turned out superseded after its packs were added.
  Status LoadIndexOnce(std::set<IndexId>& superseded, bool& load_again);
  Status RenewSession();
  void SessionLoop(int64_t lease_ns);
  void EndSession();

  std::unique_ptr<Backend> backend_;
  RepositoryConfig config_;
  SecretKey master_;  // kept to wrap new key slots
  RepositoryKeys keys_;
  HmacSha256 blob_id_mac_;
  std::shared_ptr<const GearTable> gear_;
  std::unique_ptr<Chunker> chunker_;
  KeySlotId unlocked_slot_;

  mutable std::shared_mutex index_mu_;
  MasterIndex index_;
  std::unordered_set<PackId, IdHash> condemned_;
  std::vector<DeletionPlanEntry> deletion_plans_;
  // Objects of each envelope kind that the latest List of that kind could
  // not decode.
  std::array<std::atomic<size_t>, 8> damaged_by_kind_{};
  size_t damaged_index_files_ = 0;

  std::mutex pending_mu_;
  std::unordered_set<BlobId, IdHash> pending_;  // blobs in packs not yet stored

  std::array<std::mutex, 2> builder_mu_;  // one per blob type
  std::array<std::unique_ptr<PackBuilder>, 2> builders_;
  // The dictionaries in each open pack, in their numbering order.
  std::array<std::vector<BlobId>, 2> builder_dictionaries_;

  // Dictionaries read from packs, least recently used first; each about
  // 110 KiB plus zstd's prepared tables.
  static constexpr size_t kDictionariesKept = 16;
  mutable std::mutex dictionaries_mu_;
  mutable std::vector<std::shared_ptr<const BlobDictionary>> dictionaries_;

  std::mutex unindexed_mu_;
  std::vector<IndexedPack> unindexed_;  // stored packs not yet named by an index object

  std::mutex unstored_mu_;
  std::vector<FinishedPack> unstored_;  // finished packs whose Put failed; Flush retries them
  // The buffers of stored packs, for the next packs: as many as can be in
  // flight. Each kept buffer holds a pack's worth of resident memory.
  PageBufferPool pack_buffers_{kPacksInFlight};

  // Background pack writes (QueuePackWrite, QueuePackFinish). Writers start
  // with the first full pack, so a repository opened only to read runs no
  // thread.
  std::mutex writes_mu_;
  std::condition_variable writes_changed_;
  std::deque<std::unique_ptr<PackBuilder>> finish_queue_;  // full staged packs
  std::deque<FinishedPack> write_queue_;
  // Full packs by stage; WaitForPackWrites waits for all but the first.
  size_t packs_sealing_ = 0;      // built whole, not yet queued
  size_t whole_in_flight_ = 0;    // built whole, queued or being written
  size_t staged_finishing_ = 0;   // staged, ring not yet given back
  size_t staged_committing_ = 0;  // staged, finished, not yet committed
  Status write_error_;            // the first failed write since the last Flush

  // Set once a pack holding accepted blobs is dropped (see Flush).
  Status DropPacks(std::vector<std::unique_ptr<PackBuilder>>& packs, Status cause);
  void RecordLostBlobs(const Status& cause);
  Status LostBlobs() const;
  mutable std::mutex lost_mu_;
  Status lost_blobs_;
  bool writers_stopping_ = false;
  std::vector<std::thread> pack_writers_;
  bool finisher_stopping_ = false;
  std::thread pack_finisher_;

  WriteStats stats_;

  // This process's session (StartSession).
  mutable std::mutex session_mu_;
  std::condition_variable session_changed_;
  SessionRecord session_;
  std::optional<ObjectHash> session_object_;
  int64_t session_lease_ns_ = kDefaultSessionLeaseNs;
  int64_t session_valid_until_ = 0;  // expiry of the last renewal that was stored
  bool session_stopping_ = false;
  std::thread session_thread_;
};

}  // namespace pxb
