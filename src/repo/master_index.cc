#include "repo/master_index.h"

#include <algorithm>

namespace pxb {

namespace {

constexpr uint32_t kRawMask = (1u << 27) - 1;
constexpr uint32_t kCompressedBit = 1u << 29;
constexpr int kTypeShift = 30;

}  // namespace

void MasterIndex::AddPack(const IndexedPack& pack,
                          const std::unordered_set<PackId, IdHash>* replace_from) {
  if (pack_slots_.contains(pack.id)) return;
  const auto slot = static_cast<uint32_t>(packs_.size());
  uint64_t blob_bytes = 0;
  for (const PackBlob& b : pack.blobs) blob_bytes += b.stored_length;
  packs_.push_back(PackRecord{pack.id, pack.length, pack.salt, blob_bytes});
  pack_slots_.emplace(pack.id, slot);
  for (const PackBlob& b : pack.blobs) {
    Entry e{b.id, slot, b.offset, b.stored_length,
            (b.raw_length & kRawMask) | (b.compressed ? kCompressedBit : 0) |
                (static_cast<uint32_t>(b.type) << kTypeShift)};
    if (Entry* existing = FindEntry(b.id)) {
      if (replace_from != nullptr && replace_from->contains(packs_[existing->pack_slot].id)) {
        *existing = e;  // same id: the sorted order is kept
      }
      continue;
    }
    recent_.emplace(b.id, e);
  }
  // Keep the hash map small: it costs about twice the sorted array per entry.
  if (recent_.size() > 65536 && recent_.size() * 8 > sorted_.size()) Merge();
}

std::optional<BlobLocation> MasterIndex::Find(const BlobId& id) const {
  const Entry* e = const_cast<MasterIndex*>(this)->FindEntry(id);
  if (e == nullptr) return std::nullopt;
  return Location(*e);
}

MasterIndex::Entry* MasterIndex::FindEntry(const BlobId& id) {
  auto it = std::lower_bound(sorted_.begin(), sorted_.end(), id,
                             [](const Entry& e, const BlobId& v) { return e.id < v; });
  if (it != sorted_.end() && it->id == id) return &*it;
  auto r = recent_.find(id);
  if (r != recent_.end()) return &r->second;
  return nullptr;
}

void MasterIndex::Merge() {
  if (recent_.empty()) return;
  std::vector<Entry> added;
  added.reserve(recent_.size());
  for (const auto& [id, e] : recent_) added.push_back(e);
  recent_.clear();
  auto by_id = [](const Entry& a, const Entry& b) { return a.id < b.id; };
  std::sort(added.begin(), added.end(), by_id);
  const size_t middle = sorted_.size();
  sorted_.insert(sorted_.end(), added.begin(), added.end());
  std::inplace_merge(sorted_.begin(), sorted_.begin() + static_cast<ptrdiff_t>(middle),
                     sorted_.end(), by_id);
  sorted_.shrink_to_fit();
}

size_t MasterIndex::MemoryBytes() const {
  return sorted_.capacity() * sizeof(Entry) + recent_.size() * (sizeof(Entry) + 2 * sizeof(void*)) +
         packs_.capacity() * sizeof(PackRecord) + pack_slots_.size() * (sizeof(PackId) + 24);
}

BlobLocation MasterIndex::Location(const Entry& e) const {
  BlobLocation loc;
  loc.pack = packs_[e.pack_slot];
  loc.blob.id = e.id;
  loc.blob.offset = e.offset;
  loc.blob.stored_length = e.stored_length;
  loc.blob.raw_length = e.raw_and_flags & kRawMask;
  loc.blob.compressed = (e.raw_and_flags & kCompressedBit) != 0;
  loc.blob.type = static_cast<BlobType>(e.raw_and_flags >> kTypeShift);
  return loc;
}

}  // namespace pxb
