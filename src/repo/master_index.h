// The repository index: blob id -> (pack, offset, lengths).
//
// Every blob has a 56-byte entry (id 32 B, pack slot, offset, stored length,
// raw length with type, compression and dictionary bits folded in, and for
// a member of a frame its place in the frame's plaintext). The
// entries form one array: sorted by id up to the last Merge(), then the
// blobs added since, in the order they came. An index below
// `mapped_from_blobs` keeps that array in anonymous memory; a larger one
// keeps it in a shared mapping of an unlinked temporary file, which the
// kernel can write back and evict, so that only what finds an entry stays
// resident:
//   - a 4-byte fingerprint per sorted entry: the 32 id bits after the
//     bucket bits;
//   - a bucket table indexed by the id's top bits (8 to 16 entries per
//     bucket, at most 0.5 bytes per blob) giving each bucket's first entry;
//   - for blobs added since the last Merge(), an open-addressing table of
//     8-byte slots (hash tag and position), at most half full;
//   - the pack table (80 bytes per pack plus a hash-map slot).
// A lookup searches the fingerprints of one bucket and reads the one entry
// whose fingerprint matches, so an absent id is almost always rejected
// without touching the mapping. doc/design.md section 4 gives the measured
// bytes per blob.
//
//   MasterIndex index;
//   PXB_RETURN_IF_ERROR(index.AddPack(pack));  // from an index file or a new pack
//   if (auto loc = index.Find(id)) { ... loc->pack.id ... }
//
// Thread-safety: Find/Contains/HasPack/packs/ForEachBlob may run
// concurrently with each other; AddPack and Merge need exclusive access (the
// Repository holds a shared_mutex around it).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "format/index_format.h"
#include "format/pack_format.h"
#include "pxb/ids.h"
#include "pxb/status.h"

namespace pxb {

struct PackRecord {
  PackId id;
  uint64_t length = 0;
  Salt salt{};
  uint64_t blob_bytes =
      0;  // stored bytes of all its blobs and frames; the rest is headers and dictionaries
};

struct BlobLocation {
  PackRecord pack;
  PackBlob blob;
};

struct MasterIndexOptions {
  // Entries move to a temporary file once the index holds this many blobs
  // (56 MiB of entries at the default).
  size_t mapped_from_blobs = size_t{1} << 20;
  // Where that file is created. Empty: the user's cache folder
  // ($XDG_CACHE_HOME or ~/.cache, subfolder plexibackup), else $TMPDIR, else
  // /tmp, whichever works first.
  std::string folder;
};

class MasterIndex {
 public:
  struct Entry {
    BlobId id;
    uint32_t pack_slot;
    uint32_t offset;
    uint32_t stored_length;
    // Raw length (bits 0-26), dictionary number (27-28), compressed bit 29,
    // type (30-31).
    uint32_t raw_and_flags;
    // A frame's member: where it starts in the frame's plaintext, and that
    // plaintext's length; 0 and 0 for a blob of its own.
    uint32_t member_offset;
    uint32_t frame_raw_length;
  };
  static_assert(sizeof(Entry) == 56);

  explicit MasterIndex(MasterIndexOptions options = {});

  // Adds every blob of a pack. A pack already present is ignored; a blob id
  // already present keeps its first location, unless that location is in
  // one of `replace_from` (packs condemned by prune), so that a blob stored
  // again is found in its new pack. May merge first (see Merge). On error
  // the index is unchanged: kPermissionDenied, kNotFound or
  // kResourceExhausted when the temporary file cannot be created or grown
  // (the message names the folders tried and what to do), kResourceExhausted
  // beyond 2^32 - 2 blobs.
  Status AddPack(const IndexedPack& pack,
                 const std::unordered_set<PackId, IdHash>* replace_from = nullptr);

  std::optional<BlobLocation> Find(const BlobId& id) const;
  bool Contains(const BlobId& id) const { return FindPosition(id).has_value(); }
  bool HasPack(const PackId& id) const { return pack_slots_.contains(id); }
  // The dictionary entry with this number (1-based, in listing order) of an
  // indexed pack. Dictionaries are not blobs: Find does not see them.
  std::optional<PackBlob> Dictionary(const PackId& pack, uint8_t number) const;

  // Sorts recently added blobs into the sorted entries. Needs room for as
  // many entries again as were added since the last Merge; errors are those
  // of AddPack, and leave the index unchanged.
  Status Merge();

  size_t blob_count() const { return entries_.size(); }
  size_t pack_count() const { return packs_.size(); }
  const std::vector<PackRecord>& packs() const { return packs_; }
  // Every blob of every pack, sorted by id up to the last Merge().
  template <typename Fn>
  void ForEachBlob(Fn&& fn) const {
    const Entry* entries = entries_.data();
    for (size_t i = 0; i < entries_.size(); ++i) fn(Location(entries[i]));
  }
  // Bytes of anonymous memory the index holds: entries while they are not
  // in a file, the lookup structures and the pack table.
  size_t MemoryBytes() const;
  // Bytes of the temporary file mapping (0 while the entries are in
  // anonymous memory). The kernel keeps what lookups touch in the page cache
  // and may evict it.
  size_t MappedBytes() const;
  // Whether the entries are in a temporary file, and its folder.
  bool mapped() const { return entries_.in_file(); }
  const std::string& mapped_folder() const { return entries_.folder(); }

 private:
  // Blocks of 64 KiB and more come straight from mmap, so that freeing the
  // lookup tables gives their memory back to the system at once; malloc
  // would keep much of it in its heap, still resident.
  static void* AllocateBlock(size_t bytes);
  static void FreeBlock(void* block, size_t bytes);
  template <typename T>
  struct BlockAllocator {
    using value_type = T;
    BlockAllocator() = default;
    template <typename U>
    BlockAllocator(const BlockAllocator<U>&) {}
    T* allocate(size_t n) { return static_cast<T*>(AllocateBlock(n * sizeof(T))); }
    void deallocate(T* p, size_t n) { FreeBlock(p, n * sizeof(T)); }
    friend bool operator==(const BlockAllocator&, const BlockAllocator&) { return true; }
  };
  template <typename T>
  using Table = std::vector<T, BlockAllocator<T>>;

  // A growable array of entries in anonymous memory or in a shared mapping
  // of an unlinked temporary file. Growing may move it.
  class EntryArray {
   public:
    EntryArray() = default;
    EntryArray(EntryArray&& other) noexcept;
    EntryArray& operator=(EntryArray&& other) noexcept;
    EntryArray(const EntryArray&) = delete;
    EntryArray& operator=(const EntryArray&) = delete;
    ~EntryArray();

    // Makes room for `capacity` entries, moving them to a new temporary
    // file in one of `folders` when `to_file` and they are not in one yet.
    // On error nothing changes: kPermissionDenied, kNotFound or
    // kResourceExhausted naming the folders when no file can be created or
    // grown there.
    Status Reserve(size_t capacity, bool to_file, const std::vector<std::string>& folders);
    // Gives back the room beyond size().
    void ShrinkToFit();
    // Only within the reserved capacity.
    void Resize(size_t size) { size_ = size; }
    // Whether the kernel should expect sequential or random access.
    void AdviseSequential(bool sequential) const;

    Entry* data() { return data_; }
    const Entry* data() const { return data_; }
    size_t size() const { return size_; }
    size_t capacity() const { return capacity_; }
    bool in_file() const { return fd_ >= 0; }
    // The temporary file's folder; empty for anonymous memory.
    const std::string& folder() const { return folder_; }

   private:
    Status Remap(size_t capacity);
    void Release();

    Entry* data_ = nullptr;
    size_t size_ = 0;
    size_t capacity_ = 0;
    int fd_ = -1;
    std::string folder_;
  };

  BlobLocation Location(const Entry& e) const;
  // The position of an id's entry in entries_.
  std::optional<size_t> FindPosition(const BlobId& id) const;
  std::optional<size_t> FindSorted(const BlobId& id) const;
  std::optional<size_t> FindRecent(const BlobId& id) const;
  void InsertRecent(const BlobId& id, size_t position);
  void GrowRecentTable(size_t blobs);
  // Recomputes fingerprints_ and buckets_ from the sorted entries.
  void IndexSortedEntries();
  uint32_t Fingerprint(uint64_t prefix) const;
  size_t recent_count() const { return entries_.size() - sorted_count_; }

  MasterIndexOptions options_;
  std::vector<std::string> folders_;  // where a temporary file may go, in order
  EntryArray entries_;
  size_t sorted_count_ = 0;

  // Sorted entries: bucket b holds positions [buckets_[b], buckets_[b + 1]).
  int bucket_bits_ = 0;
  Table<uint32_t> buckets_;
  Table<uint32_t> fingerprints_;

  // Recent entries: slot = hash tag << 32 | (position + 1); 0 is empty.
  Table<uint64_t> recent_slots_;
  int recent_slot_bits_ = 0;

  std::vector<PackRecord> packs_;
  std::unordered_map<PackId, uint32_t, IdHash> pack_slots_;
  // Only packs that list dictionaries have an element.
  std::unordered_map<PackId, std::vector<PackBlob>, IdHash> pack_dictionaries_;
};

}  // namespace pxb
