// The in-memory repository index: blob id -> (pack, offset, lengths).
//
// Entries live in one sorted array of 48-byte records (id 32 B, pack slot,
// offset, stored length, raw length with type and compression bits folded
// in), so the index costs 48 bytes per blob plus the pack table (80 bytes
// per pack, shared by its blobs). Blobs added while writing go to a small
// hash map that Merge() folds into the array.
//
//   index.AddPack(pack);             // from an index file or a new pack
//   if (auto loc = index.Find(id)) { ... loc->pack.id ... }
//
// Thread-safety: Find/Contains/Packs may run concurrently with each other;
// AddPack and Merge need exclusive access (the Repository holds a
// shared_mutex around it).
#pragma once

#include <cstdint>
#include <optional>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "format/index_format.h"
#include "format/pack_format.h"
#include "pxb/ids.h"

namespace pxb {

struct PackRecord {
  PackId id;
  uint64_t length = 0;
  Salt salt{};
  uint64_t blob_bytes = 0;  // stored bytes of all its blobs; the rest is headers
};

struct BlobLocation {
  PackRecord pack;
  PackBlob blob;
};

class MasterIndex {
 public:
  // Adds every blob of a pack. A pack already present is ignored; a blob id
  // already present keeps its first location, unless that location is in
  // one of `replace_from` (packs condemned by prune), so that a blob stored
  // again is found in its new pack.
  void AddPack(const IndexedPack& pack,
               const std::unordered_set<PackId, IdHash>* replace_from = nullptr);

  std::optional<BlobLocation> Find(const BlobId& id) const;
  bool Contains(const BlobId& id) const { return Find(id).has_value(); }
  bool HasPack(const PackId& id) const { return pack_slots_.contains(id); }

  // Folds recently added blobs into the sorted array.
  void Merge();

  size_t blob_count() const { return sorted_.size() + recent_.size(); }
  size_t pack_count() const { return packs_.size(); }
  const std::vector<PackRecord>& packs() const { return packs_; }
  // Every blob of every pack (sorted by id after Merge()).
  template <typename Fn>
  void ForEachBlob(Fn&& fn) const {
    for (const Entry& e : sorted_) fn(Location(e));
    for (const auto& [id, e] : recent_) fn(Location(e));
  }
  // Bytes of memory used by entries and packs (what the design promises).
  size_t MemoryBytes() const;

  struct Entry {
    BlobId id;
    uint32_t pack_slot;
    uint32_t offset;
    uint32_t stored_length;
    uint32_t raw_and_flags;  // raw length (26 bits), compressed bit 29, type bits 30-31
  };
  static_assert(sizeof(Entry) == 48);

 private:
  BlobLocation Location(const Entry& e) const;
  Entry* FindEntry(const BlobId& id);

  std::vector<Entry> sorted_;
  std::unordered_map<BlobId, Entry, IdHash> recent_;
  std::vector<PackRecord> packs_;
  std::unordered_map<PackId, uint32_t, IdHash> pack_slots_;
};

}  // namespace pxb
