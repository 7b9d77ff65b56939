#include "repo/master_index.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <new>
#include <utility>

#include "core/coding.h"

namespace pxb {

namespace {

constexpr uint32_t kRawMask = (1u << 27) - 1;
constexpr int kDictionaryShift = 27;
constexpr uint32_t kDictionaryMask = 3;
constexpr uint32_t kCompressedBit = 1u << 29;
constexpr int kTypeShift = 30;
static_assert(kMaxBlobRawLength <= kRawMask && kMaxPackDictionaries <= kDictionaryMask);

// Positions are 32-bit, and a recent slot stores position + 1.
constexpr size_t kMaxBlobs = 0xfffffffe;
// Recent blobs are merged once they reach this many or a quarter of the
// sorted ones: merging costs a pass over all entries, the recent table
// 16 to 32 bytes per recent blob.
constexpr size_t kMergeMinBlobs = 65536;
// Sorted entries per bucket, on average between this and twice it.
constexpr size_t kEntriesPerBucket = 8;
constexpr int kMinRecentSlotBits = 6;
constexpr size_t kMinCapacity = 1024;
constexpr size_t kMinMappedBlock = 64 << 10;

std::string MiB(size_t bytes) { return std::to_string((bytes + (1 << 20) - 1) >> 20) + " MiB"; }

// The id's first 8 bytes as a number that orders like the id.
uint64_t SortPrefix(const BlobId& id) { return __builtin_bswap64(LoadLe64(id.bytes().data())); }

uint64_t Mix(uint64_t h) {
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ull;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebull;
  return h ^ (h >> 31);
}

// Hashes all 32 bytes: ids that share a long prefix must not collide.
uint64_t RecentHash(const BlobId& id) {
  const std::byte* p = id.bytes().data();
  uint64_t h = Mix(LoadLe64(p)) ^ LoadLe64(p + 8);
  h = Mix(h) ^ LoadLe64(p + 16);
  h = Mix(h) ^ LoadLe64(p + 24);
  return Mix(h);
}

std::vector<std::string> TemporaryFolders(const std::string& configured) {
  if (!configured.empty()) return {configured};
  std::vector<std::string> folders;
  // The cache folder first: /tmp is often a tmpfs, which holds its files
  // in memory.
  const char* cache = std::getenv("XDG_CACHE_HOME");
  const char* home = std::getenv("HOME");
  if (cache != nullptr && *cache != '\0') {
    folders.push_back(std::string(cache) + "/plexibackup");
  } else if (home != nullptr && *home != '\0') {
    folders.push_back(std::string(home) + "/.cache/plexibackup");
  }
  const char* tmp = std::getenv("TMPDIR");
  if (tmp != nullptr && *tmp != '\0') folders.emplace_back(tmp);
  folders.emplace_back("/tmp");
  return folders;
}

// A file that no name refers to, so that nothing is left behind when the
// process ends however it ends, with `bytes` allocated on disk: writing
// through the mapping can then not fail for lack of space (which would be
// SIGBUS). Returns -1 and sets `err` on failure.
int CreateTemporaryFile(const std::string& folder, size_t bytes, int& err) {
  std::error_code ec;
  std::filesystem::create_directories(folder, ec);
  int fd = ::open(folder.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL)) {
    // A file system without O_TMPFILE: a named file, unlinked at once.
    std::string path = folder + "/plexibackup-index-XXXXXX";
    fd = ::mkostemp(path.data(), O_CLOEXEC);
    if (fd >= 0) ::unlink(path.c_str());
  }
  if (fd < 0) {
    err = errno;
    return -1;
  }
  err = ::posix_fallocate(fd, 0, static_cast<off_t>(bytes));
  if (err != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

}  // namespace

// --- Memory ---

void* MasterIndex::AllocateBlock(size_t bytes) {
  if (bytes < kMinMappedBlock) return ::operator new(bytes);
  void* block = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (block == MAP_FAILED) throw std::bad_alloc();  // as operator new would
  return block;
}

void MasterIndex::FreeBlock(void* block, size_t bytes) {
  if (bytes < kMinMappedBlock) {
    ::operator delete(block);
  } else {
    ::munmap(block, bytes);
  }
}

// --- EntryArray ---

MasterIndex::EntryArray::EntryArray(EntryArray&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)),
      capacity_(std::exchange(other.capacity_, 0)),
      fd_(std::exchange(other.fd_, -1)),
      folder_(std::move(other.folder_)) {}

MasterIndex::EntryArray& MasterIndex::EntryArray::operator=(EntryArray&& other) noexcept {
  if (this != &other) {
    Release();
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
    capacity_ = std::exchange(other.capacity_, 0);
    fd_ = std::exchange(other.fd_, -1);
    folder_ = std::move(other.folder_);
  }
  return *this;
}

MasterIndex::EntryArray::~EntryArray() { Release(); }

void MasterIndex::EntryArray::Release() {
  if (data_ != nullptr) ::munmap(data_, capacity_ * sizeof(Entry));
  if (fd_ >= 0) ::close(fd_);
  data_ = nullptr;
  size_ = capacity_ = 0;
  fd_ = -1;
  folder_.clear();
}

Status MasterIndex::EntryArray::Reserve(size_t capacity, bool to_file,
                                        const std::vector<std::string>& folders) {
  const bool move_to_file = to_file && !in_file();
  if (capacity <= capacity_ && !move_to_file) return Status::Ok();
  // Grow by an eighth: the file's size is what MappedBytes() reports, and
  // growing a mapping copies no data.
  if (capacity > capacity_) {
    capacity = std::max({capacity, capacity_ + capacity_ / 8, kMinCapacity});
  }
  if (!move_to_file) return Remap(capacity);

  const size_t bytes = capacity * sizeof(Entry);
  std::string failures;
  int err = 0;
  for (const std::string& folder : folders) {
    const int fd = CreateTemporaryFile(folder, bytes, err);
    if (fd < 0) {
      failures += "; " + folder + ": " + std::strerror(err);
      continue;
    }
    void* mapped = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (mapped == MAP_FAILED) {
      err = errno;
      ::close(fd);
      return ErrnoError(err, "mapping the index's temporary file in " + folder);
    }
    if (size_ > 0) std::memcpy(mapped, data_, size_ * sizeof(Entry));
    const size_t size = size_;
    Release();
    data_ = static_cast<Entry*>(mapped);
    size_ = size;
    capacity_ = capacity;
    fd_ = fd;
    folder_ = folder;
    return Status::Ok();
  }
  const Status status = ErrnoError(err, "");
  return Status(status.code(), "no temporary file for the index's " + MiB(bytes) +
                                   " of entries could be created (" + failures.substr(2) +
                                   "): make one of these folders writable with that much free "
                                   "space, or set TMPDIR to such a folder");
}

Status MasterIndex::EntryArray::Remap(size_t capacity) {
  const size_t bytes = capacity * sizeof(Entry);
  if (in_file()) {
    const int err = ::posix_fallocate(fd_, 0, static_cast<off_t>(bytes));
    if (err != 0) {
      return ErrnoError(err, "growing the index's temporary file in " + folder_ + " to " +
                                 MiB(bytes) +
                                 " (free space there, or set TMPDIR to a folder "
                                 "with more)");
    }
  }
  void* mapped;
  if (data_ == nullptr) {
    mapped = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  } else {
    mapped = ::mremap(data_, capacity_ * sizeof(Entry), bytes, MREMAP_MAYMOVE);
  }
  if (mapped == MAP_FAILED) {
    return ErrnoError(errno, "reserving " + MiB(bytes) + " for the index's entries");
  }
  data_ = static_cast<Entry*>(mapped);
  capacity_ = capacity;
  return Status::Ok();
}

void MasterIndex::EntryArray::ShrinkToFit() {
  if (capacity_ == size_) return;
  if (size_ == 0) {
    Release();
    return;
  }
  const size_t bytes = size_ * sizeof(Entry);
  // Shrinking in place cannot fail for want of address space.
  if (::mremap(data_, capacity_ * sizeof(Entry), bytes, 0) == MAP_FAILED) return;
  capacity_ = size_;
  // Should truncating fail, only disk space beyond the entries stays taken.
  if (in_file() && ::ftruncate(fd_, static_cast<off_t>(bytes)) != 0) return;
}

void MasterIndex::EntryArray::AdviseSequential(bool sequential) const {
  if (!in_file() || capacity_ == 0) return;
  // Read-ahead helps a merge and wastes I/O on lookups once pages were
  // evicted. Advice only: a failure changes nothing.
  ::madvise(data_, capacity_ * sizeof(Entry), sequential ? MADV_SEQUENTIAL : MADV_RANDOM);
}

// --- MasterIndex ---

MasterIndex::MasterIndex(MasterIndexOptions options)
    : options_(std::move(options)), folders_(TemporaryFolders(options_.folder)) {}

Status MasterIndex::AddPack(const IndexedPack& pack,
                            const std::unordered_set<PackId, IdHash>* replace_from) {
  if (pack_slots_.contains(pack.id)) return Status::Ok();
  if (pack.blobs.size() > kMaxBlobs - entries_.size()) {
    return ResourceExhaustedError("the index holds at most " + std::to_string(kMaxBlobs) +
                                  " blobs");
  }
  if (recent_count() >= std::max(kMergeMinBlobs, sorted_count_ / 4)) PXB_RETURN_IF_ERROR(Merge());
  const size_t needed = entries_.size() + pack.blobs.size();
  PXB_RETURN_IF_ERROR(
      entries_.Reserve(needed, needed >= options_.mapped_from_blobs && needed > 0, folders_));
  GrowRecentTable(pack.blobs.size());

  const auto slot = static_cast<uint32_t>(packs_.size());
  uint64_t blob_bytes = 0;
  for (const PackBlob& b : pack.blobs) {
    // A dictionary is overhead of its pack, like the header: repacking
    // judges the blobs alone. A frame's bytes count once, not per member.
    if (b.type != BlobType::kDictionary && !b.member()) blob_bytes += b.stored_length;
  }
  packs_.push_back(PackRecord{pack.id, pack.length, pack.salt, blob_bytes});
  pack_slots_.emplace(pack.id, slot);
  Entry* entries = entries_.data();
  for (const PackBlob& b : pack.blobs) {
    if (b.type == BlobType::kDictionary) {
      pack_dictionaries_[pack.id].push_back(b);
      continue;
    }
    if (b.type == BlobType::kFrame) continue;  // its members carry where it is
    const Entry e{
        b.id,
        slot,
        b.offset,
        b.stored_length,
        (b.raw_length & kRawMask) | ((b.dictionary & kDictionaryMask) << kDictionaryShift) |
            (b.compressed ? kCompressedBit : 0) | (static_cast<uint32_t>(b.type) << kTypeShift),
        b.member_offset,
        b.frame_raw_length};
    if (auto existing = FindPosition(b.id)) {
      if (replace_from != nullptr &&
          replace_from->contains(packs_[entries[*existing].pack_slot].id)) {
        entries[*existing] = e;  // same id: the order is kept
      }
      continue;
    }
    const size_t position = entries_.size();
    entries[position] = e;
    entries_.Resize(position + 1);
    InsertRecent(b.id, position);
  }
  return Status::Ok();
}

std::optional<BlobLocation> MasterIndex::Find(const BlobId& id) const {
  auto position = FindPosition(id);
  if (!position) return std::nullopt;
  return Location(entries_.data()[*position]);
}

std::optional<PackBlob> MasterIndex::Dictionary(const PackId& pack, uint8_t number) const {
  auto it = pack_dictionaries_.find(pack);
  if (number == 0 || it == pack_dictionaries_.end() || number > it->second.size()) {
    return std::nullopt;
  }
  return it->second[number - 1];
}

std::optional<size_t> MasterIndex::FindPosition(const BlobId& id) const {
  if (auto position = FindSorted(id)) return position;
  return FindRecent(id);
}

uint32_t MasterIndex::Fingerprint(uint64_t prefix) const {
  return static_cast<uint32_t>((prefix << bucket_bits_) >> 32);
}

std::optional<size_t> MasterIndex::FindSorted(const BlobId& id) const {
  if (sorted_count_ == 0) return std::nullopt;
  const uint64_t prefix = SortPrefix(id);
  const uint64_t bucket = bucket_bits_ == 0 ? 0 : prefix >> (64 - bucket_bits_);
  const uint32_t* fingerprints = fingerprints_.data();
  const auto [first, last] = std::equal_range(
      fingerprints + buckets_[bucket], fingerprints + buckets_[bucket + 1], Fingerprint(prefix));
  if (first == last) return std::nullopt;
  // Only ids that share their first 8 bytes reach the mapping more than once.
  const Entry* begin = entries_.data() + (first - fingerprints);
  const Entry* end = begin + (last - first);
  const Entry* e =
      std::lower_bound(begin, end, id, [](const Entry& a, const BlobId& b) { return a.id < b; });
  if (e == end || !(e->id == id)) return std::nullopt;
  return static_cast<size_t>(e - entries_.data());
}

std::optional<size_t> MasterIndex::FindRecent(const BlobId& id) const {
  if (recent_slots_.empty()) return std::nullopt;
  const auto tag = static_cast<uint32_t>(RecentHash(id) >> 32);
  const size_t mask = recent_slots_.size() - 1;
  for (size_t i = tag >> (32 - recent_slot_bits_);; i = (i + 1) & mask) {
    const uint64_t slot = recent_slots_[i];
    if (slot == 0) return std::nullopt;
    if ((slot >> 32) == tag) {
      const size_t position = (slot & 0xffffffff) - 1;
      if (entries_.data()[position].id == id) return position;
    }
  }
}

void MasterIndex::InsertRecent(const BlobId& id, size_t position) {
  const uint64_t tag = RecentHash(id) >> 32;
  const size_t mask = recent_slots_.size() - 1;
  size_t i = tag >> (32 - recent_slot_bits_);
  while (recent_slots_[i] != 0) i = (i + 1) & mask;
  recent_slots_[i] = tag << 32 | (position + 1);
}

void MasterIndex::GrowRecentTable(size_t blobs) {
  const size_t needed = 2 * (recent_count() + blobs);  // at most half full
  if (needed <= recent_slots_.size()) return;
  const int bits = std::max(kMinRecentSlotBits, static_cast<int>(std::bit_width(needed - 1)));
  Table<uint64_t> slots(size_t{1} << bits);
  const size_t mask = slots.size() - 1;
  // The slot's home is the tag's top bits, so no entry needs to be read.
  for (const uint64_t slot : recent_slots_) {
    if (slot == 0) continue;
    size_t i = static_cast<size_t>(slot >> 32) >> (32 - bits);
    while (slots[i] != 0) i = (i + 1) & mask;
    slots[i] = slot;
  }
  recent_slots_ = std::move(slots);
  recent_slot_bits_ = bits;
}

Status MasterIndex::Merge() {
  const size_t recent = recent_count();
  if (recent == 0) return Status::Ok();
  const size_t total = entries_.size();
  // The recent entries are copied past the end, then merged from the back.
  PXB_RETURN_IF_ERROR(
      entries_.Reserve(total + recent, total >= options_.mapped_from_blobs, folders_));
  entries_.AdviseSequential(true);
  Entry* entries = entries_.data();
  auto by_id = [](const Entry& a, const Entry& b) { return a.id < b.id; };
  std::sort(entries + sorted_count_, entries + total, by_id);
  Entry* added = entries + total;
  std::memcpy(added, entries + sorted_count_, recent * sizeof(Entry));
  // Writing at `out` never overwrites a sorted entry not yet moved: out is
  // always more than i.
  size_t i = sorted_count_;
  size_t j = recent;
  size_t out = total;
  while (j > 0) {
    if (i > 0 && by_id(added[j - 1], entries[i - 1])) {
      entries[--out] = entries[--i];
    } else {
      entries[--out] = added[--j];
    }
  }
  entries_.ShrinkToFit();
  sorted_count_ = total;
  Table<uint64_t>().swap(recent_slots_);
  recent_slot_bits_ = 0;
  IndexSortedEntries();
  entries_.AdviseSequential(false);
  return Status::Ok();
}

void MasterIndex::IndexSortedEntries() {
  const size_t n = sorted_count_;
  // Free the old tables first, so that they and the new ones never coexist.
  Table<uint32_t>().swap(fingerprints_);
  Table<uint32_t>().swap(buckets_);
  const size_t buckets_wanted = n / kEntriesPerBucket;
  bucket_bits_ =
      buckets_wanted < 2 ? 0 : std::min(32, static_cast<int>(std::bit_width(buckets_wanted)) - 1);
  buckets_.resize((size_t{1} << bucket_bits_) + 1);
  fingerprints_.resize(n);
  const Entry* entries = entries_.data();
  size_t next_bucket = 0;
  for (size_t i = 0; i < n; ++i) {
    const uint64_t prefix = SortPrefix(entries[i].id);
    const uint64_t bucket = bucket_bits_ == 0 ? 0 : prefix >> (64 - bucket_bits_);
    while (next_bucket <= bucket) buckets_[next_bucket++] = static_cast<uint32_t>(i);
    fingerprints_[i] = Fingerprint(prefix);
  }
  while (next_bucket < buckets_.size()) buckets_[next_bucket++] = static_cast<uint32_t>(n);
}

size_t MasterIndex::MemoryBytes() const {
  size_t bytes =
      fingerprints_.capacity() * sizeof(uint32_t) + buckets_.capacity() * sizeof(uint32_t) +
      recent_slots_.capacity() * sizeof(uint64_t) + packs_.capacity() * sizeof(PackRecord) +
      pack_slots_.size() * (sizeof(PackId) + 24) + pack_slots_.bucket_count() * sizeof(void*) +
      pack_dictionaries_.size() * (sizeof(PackId) + 64 + kMaxPackDictionaries * sizeof(PackBlob));
  if (!entries_.in_file()) bytes += entries_.capacity() * sizeof(Entry);
  return bytes;
}

size_t MasterIndex::MappedBytes() const {
  return entries_.in_file() ? entries_.capacity() * sizeof(Entry) : 0;
}

BlobLocation MasterIndex::Location(const Entry& e) const {
  BlobLocation loc;
  loc.pack = packs_[e.pack_slot];
  loc.blob.id = e.id;
  loc.blob.offset = e.offset;
  loc.blob.stored_length = e.stored_length;
  loc.blob.raw_length = e.raw_and_flags & kRawMask;
  loc.blob.dictionary =
      static_cast<uint8_t>((e.raw_and_flags >> kDictionaryShift) & kDictionaryMask);
  loc.blob.compressed = (e.raw_and_flags & kCompressedBit) != 0;
  loc.blob.type = static_cast<BlobType>(e.raw_and_flags >> kTypeShift);
  loc.blob.member_offset = e.member_offset;
  loc.blob.frame_raw_length = e.frame_raw_length;
  return loc;
}

}  // namespace pxb
