#include "repo/repository.h"

#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "core/coding.h"
#include "core/crypto/random.h"
#include "core/crypto/sha256.h"
#include "core/host.h"
#include "core/time.h"
#include "format/envelope_format.h"
#include "format/index_format.h"
#include "format/object_names.h"

namespace pxb {

namespace {

// Packs written before an index object is written for them.
constexpr size_t kPacksPerIndex = 64;

size_t TypeSlot(BlobType type) { return type == BlobType::kData ? 0 : 1; }

template <typename Id>
Id HashId(ByteView bytes) {
  return Id(ByteView(Sha256(bytes)));
}

ZstdCompressor& ThreadCompressor(CompressionLevel level) {
  thread_local std::array<std::unique_ptr<ZstdCompressor>, 4> compressors;
  auto& c = compressors[static_cast<size_t>(level)];
  if (!c) c = std::make_unique<ZstdCompressor>(level);
  return *c;
}

}  // namespace

Repository::Repository(std::unique_ptr<Backend> backend, RepositoryConfig config,
                       const SecretKey& master, RepositoryKeys keys,
                       std::shared_ptr<const GearTable> gear, KeySlotId unlocked_slot)
    : backend_(std::move(backend)),
      config_(std::move(config)),
      master_(master),
      keys_(std::move(keys)),
      blob_id_mac_(keys_.blob_id),
      gear_(std::move(gear)),
      chunker_(std::make_unique<Chunker>(gear_)),
      unlocked_slot_(unlocked_slot) {}

Repository::~Repository() {
  // The finisher first: it may still hand finished packs to the writers.
  {
    std::lock_guard lock(writes_mu_);
    finisher_stopping_ = true;
  }
  writes_changed_.notify_all();
  if (pack_finisher_.joinable()) pack_finisher_.join();
  {
    std::lock_guard lock(writes_mu_);
    writers_stopping_ = true;
  }
  writes_changed_.notify_all();
  for (std::thread& writer : pack_writers_) writer.join();
  EndSession();
}

StatusOr<std::unique_ptr<Repository>> Repository::Init(std::unique_ptr<Backend> backend,
                                                       std::string_view passphrase,
                                                       const InitOptions& options) {
  PXB_RETURN_IF_ERROR(InitCrypto());
  PXB_RETURN_IF_ERROR(ValidateChunkerParams(options.chunker));
  if (passphrase.empty()) return InvalidArgumentError("the passphrase must not be empty");
  auto existing = backend->Stat(kConfigObjectName);
  if (existing.ok()) {
    return AlreadyExistsError("a repository already exists at " + backend->Location());
  }
  Status created = backend->Create(/*exclusive=*/true);
  if (!created.ok()) {
    if (created.code() == StatusCode::kAlreadyExists) {
      return AlreadyExistsError(backend->Location() +
                                " is not empty: choose an empty or new location");
    }
    return created;
  }
  RepositoryConfig config;
  RandomBytes(config.id.mutable_bytes());
  config.created_ns = NowNanos();
  config.cipher = options.cipher;
  config.chunker = options.chunker;
  config.pack_size = options.pack_size;
  SecretKey master = SecretKey::Random();
  PXB_ASSIGN_OR_RETURN(RepositoryKeys keys, DeriveRepositoryKeys(master, config.id));

  // The key slot goes first and the config last: a config means the
  // repository is complete.
  PXB_ASSIGN_OR_RETURN(KeySlot slot,
                       MakePassphraseSlot(master, config.id, passphrase, options.kdf));
  slot.label = options.key_label;
  Bytes slot_bytes = EncodeKeySlot(slot);
  KeySlotId slot_id = HashId<KeySlotId>(slot_bytes);
  PXB_RETURN_IF_ERROR(backend->Put(KeySlotObjectName(slot_id), slot_bytes));
  PXB_ASSIGN_OR_RETURN(Bytes config_bytes, EncodeConfig(config, keys.data));
  PXB_RETURN_IF_ERROR(backend->Put(kConfigObjectName, config_bytes));

  PXB_ASSIGN_OR_RETURN(GearTable gear, GearTable::Derive(keys.chunker.bytes(), config.chunker));
  return std::unique_ptr<Repository>(
      new Repository(std::move(backend), std::move(config), master, std::move(keys),
                     std::make_shared<const GearTable>(std::move(gear)), slot_id));
}

StatusOr<std::unique_ptr<Repository>> Repository::Open(std::unique_ptr<Backend> backend,
                                                       std::string_view passphrase) {
  PXB_RETURN_IF_ERROR(InitCrypto());
  auto config_bytes = backend->Get(kConfigObjectName);
  if (!config_bytes.ok()) {
    if (IsNotFound(config_bytes.status())) {
      return NotFoundError("no repository at " + backend->Location() +
                           ": create one with 'plexibackup init'");
    }
    return config_bytes.status().WithContext("reading config of " + backend->Location());
  }
  PXB_ASSIGN_OR_RETURN(ConfigHeader header, DecodeConfigHeader(*config_bytes));

  std::vector<std::pair<KeySlotId, KeySlot>> slots;
  size_t other_repository = 0;
  Status listed = backend->List(kKeysPrefix, [&](const ObjectInfo& info) -> Status {
    auto id = IdFromObjectName<KeySlotId>(info.name, kKeysPrefix);
    if (!id) return Status::Ok();
    PXB_ASSIGN_OR_RETURN(Bytes bytes, backend->Get(info.name));
    auto slot = DecodeKeySlot(bytes);
    // A damaged slot must not stop the others from opening the repository.
    if (!slot.ok()) return Status::Ok();
    if (slot->repository == header.id) {
      slots.emplace_back(*id, std::move(*slot));
    } else {
      other_repository++;
    }
    return Status::Ok();
  });
  PXB_RETURN_IF_ERROR_CTX(listed, "listing key slots");
  if (slots.empty() && other_repository > 0) {
    // Every readable slot names another repository id: the config's clear
    // header is what is damaged, not the passphrase.
    return DataLossError("config of " + backend->Location() + ": its repository id " +
                         header.id.ShortHex() + " matches none of the " +
                         std::to_string(other_repository) +
                         " key slots; the config object is damaged");
  }
  std::optional<SecretKey> master;
  KeySlotId unlocked;
  bool refused = false;  // some slot says the passphrase is wrong
  Status slot_error;     // the first slot that failed for another reason
  for (const auto& [id, slot] : slots) {
    if (slot.kind != kPassphraseSlotKind) continue;
    auto key = UnwrapPassphraseSlot(slot, passphrase);
    if (key.ok()) {
      master = *key;
      unlocked = id;
      break;
    }
    // A slot with parameters this machine cannot use (memory, a tampered
    // field) must not stop the other slots from opening the repository.
    if (key.status().code() == StatusCode::kUnauthenticated) {
      refused = true;
    } else if (slot_error.ok()) {
      slot_error = key.status().WithContext("key slot " + id.ShortHex());
    }
  }
  if (!master && !refused && !slot_error.ok()) return slot_error;
  if (!master) {
    return UnauthenticatedError("wrong passphrase: none of the " + std::to_string(slots.size()) +
                                " key slots of the repository at " + backend->Location() +
                                " opens with it");
  }
  PXB_ASSIGN_OR_RETURN(RepositoryKeys keys, DeriveRepositoryKeys(*master, header.id));
  PXB_ASSIGN_OR_RETURN(RepositoryConfig config, DecodeConfig(*config_bytes, keys.data));
  PXB_ASSIGN_OR_RETURN(GearTable gear, GearTable::Derive(keys.chunker.bytes(), config.chunker));
  return std::unique_ptr<Repository>(
      new Repository(std::move(backend), std::move(config), *master, std::move(keys),
                     std::make_shared<const GearTable>(std::move(gear)), unlocked));
}

BlobId Repository::ComputeBlobId(ByteView plaintext) const {
  return BlobId(ByteView(blob_id_mac_.Compute(plaintext)));
}

// --- Index ---

StatusOr<IndexFile> Repository::ReadIndexFile(const IndexId& id) {
  const std::string name = IndexObjectName(id);
  PXB_ASSIGN_OR_RETURN(Bytes bytes, backend_->Get(name));
  if (!(HashId<IndexId>(bytes) == id)) {
    return DataLossError("index " + id.ShortHex() + ": object does not match its name");
  }
  PXB_ASSIGN_OR_RETURN(Bytes payload,
                       OpenEnvelope(EnvelopeKind::kIndex, config_.cipher, keys_.data, bytes));
  auto file = DecodeIndexPayload(payload);
  if (!file.ok()) return file.status().WithContext("index " + id.ShortHex());
  return file;
}

Status Repository::LoadIndex() {
  // A sweep writes its superseding index before it deletes the old ones, so
  // listing again after an index vanished finds the one that replaced it.
  // What supersedes an index stays in force, so it is kept across attempts.
  constexpr int kAttempts = 5;
  std::set<IndexId> superseded;
  for (int attempt = 1;; ++attempt) {
    bool load_again = false;
    PXB_RETURN_IF_ERROR(LoadIndexOnce(superseded, load_again));
    if (!load_again) return Status::Ok();
    if (attempt == kAttempts) {
      return UnavailableError(backend_->Location() +
                              ": index objects kept vanishing while the index was loaded (a "
                              "prune is running): try again");
    }
  }
}

Status Repository::LoadIndexOnce(std::set<IndexId>& superseded, bool& load_again) {
  // Plans first: a plan stored after this point condemns only packs that a
  // sweep will wait for this process to stop using (design.md section 15).
  PXB_ASSIGN_OR_RETURN(std::vector<DeletionPlanEntry> plans, ListDeletionPlans());
  std::unordered_set<PackId, IdHash> condemned;
  for (const DeletionPlanEntry& plan : plans) {
    condemned.insert(plan.value.packs.begin(), plan.value.packs.end());
  }

  std::vector<IndexId> ids;
  PXB_RETURN_IF_ERROR(backend_->List(kIndexPrefix, [&](const ObjectInfo& info) {
    if (auto id = IdFromObjectName<IndexId>(info.name, kIndexPrefix)) ids.push_back(*id);
    return Status::Ok();
  }));
  // Index objects are read one at a time and dropped once their packs are
  // added, so that loading holds one decoded object on top of the index.
  // Packs of an object found superseded later must not stay: then the
  // whole load starts again without it.
  MasterIndex index;
  std::set<IndexId> added;
  std::vector<IndexId> naming_condemned;
  size_t damaged = 0;
  // kNotFound means superseded and deleted by a prune meanwhile; kDataLoss
  // is recovered below from the packs themselves.
  auto read = [&](const IndexId& id) -> StatusOr<std::optional<IndexFile>> {
    auto file = ReadIndexFile(id);
    if (file.ok()) return std::optional<IndexFile>(std::move(*file));
    if (file.status().code() == StatusCode::kNotFound) {
      load_again = true;
    } else if (file.status().code() == StatusCode::kDataLoss) {
      damaged++;
    } else {
      return file.status().WithContext("loading the index");
    }
    return std::optional<IndexFile>();
  };
  for (const IndexId& id : ids) {
    PXB_ASSIGN_OR_RETURN(std::optional<IndexFile> file, read(id));
    if (load_again) return Status::Ok();
    if (!file) continue;
    for (const IndexId& s : file->superseded) {
      superseded.insert(s);
      if (added.contains(s)) load_again = true;
    }
    if (load_again) return Status::Ok();
    if (superseded.contains(id)) continue;
    bool names_condemned = false;
    for (const IndexedPack& pack : file->packs) {
      if (condemned.contains(pack.id)) {
        names_condemned = true;
      } else {
        PXB_RETURN_IF_ERROR_CTX(index.AddPack(pack), "loading the index");
      }
    }
    added.insert(id);
    if (names_condemned) naming_condemned.push_back(id);
  }
  // Condemned packs last, so that a blob with another copy is found there.
  // Reading their objects again costs less memory than keeping them.
  for (const IndexId& id : naming_condemned) {
    PXB_ASSIGN_OR_RETURN(std::optional<IndexFile> file, read(id));
    if (load_again) return Status::Ok();
    if (!file) continue;
    for (const IndexedPack& pack : file->packs) {
      if (condemned.contains(pack.id)) {
        PXB_RETURN_IF_ERROR_CTX(index.AddPack(pack), "loading the index");
      }
    }
  }
  {
    // Packs this process stored but has not named in an index object yet.
    std::lock_guard lock(unindexed_mu_);
    for (const IndexedPack& pack : unindexed_) {
      PXB_RETURN_IF_ERROR_CTX(index.AddPack(pack), "loading the index");
    }
  }
  if (damaged > 0) {
    // A damaged index must not make data unreachable: read the headers of
    // the packs that no readable index names.
    PXB_ASSIGN_OR_RETURN(auto recovered, ReadUnindexedPacks(index, condemned));
    for (const IndexedPack& pack : recovered) {
      PXB_RETURN_IF_ERROR_CTX(index.AddPack(pack), "loading the index");
    }
  }
  PXB_RETURN_IF_ERROR_CTX(index.Merge(), "loading the index");
  std::unique_lock lock(index_mu_);
  index_ = std::move(index);
  condemned_ = std::move(condemned);
  deletion_plans_ = std::move(plans);
  damaged_index_files_ = damaged;
  return Status::Ok();
}

StatusOr<std::vector<IndexedPack>> Repository::ReadUnindexedPacks(
    const MasterIndex& index, const std::unordered_set<PackId, IdHash>& condemned) {
  std::vector<ObjectInfo> packs;
  PXB_RETURN_IF_ERROR(backend_->List(kDataPrefix, [&](const ObjectInfo& info) {
    packs.push_back(info);
    return Status::Ok();
  }));
  std::vector<IndexedPack> found;
  for (const ObjectInfo& info : packs) {
    auto id = IdFromObjectName<PackId>(info.name, kDataPrefix);
    if (!id || index.HasPack(*id) || condemned.contains(*id)) continue;
    auto prefix = backend_->Get(info.name, 0, std::min<uint64_t>(info.size, kPackPrefixSize));
    if (!prefix.ok()) {
      if (prefix.status().code() == StatusCode::kUnavailable) return prefix.status();
      continue;  // deleted meanwhile, or damaged: check reports it
    }
    auto salt = DecodePackPrefix(*prefix);
    auto blobs = ReadPackHeader(*id, info.size);
    if (!salt.ok() || !blobs.ok()) continue;
    found.push_back(IndexedPack{*id, info.size, *salt, std::move(*blobs)});
  }
  return found;
}

StatusOr<size_t> Repository::AdoptUnindexedPacks() {
  std::vector<IndexedPack> found;
  {
    std::shared_lock lock(index_mu_);
    PXB_ASSIGN_OR_RETURN(found, ReadUnindexedPacks(index_, condemned_));
  }
  if (found.empty()) return size_t{0};
  {
    std::unique_lock lock(index_mu_);
    for (const IndexedPack& pack : found) {
      PXB_RETURN_IF_ERROR_CTX(index_.AddPack(pack), "adopting unindexed packs");
    }
  }
  std::lock_guard lock(unindexed_mu_);
  for (IndexedPack& pack : found) unindexed_.push_back(std::move(pack));
  return found.size();
}

std::optional<BlobLocation> Repository::FindBlob(const BlobId& id) const {
  std::shared_lock lock(index_mu_);
  return index_.Find(id);
}

bool Repository::HasReusableBlob(const BlobId& id) const {
  std::shared_lock lock(index_mu_);
  auto loc = index_.Find(id);
  return loc && !condemned_.contains(loc->pack.id);
}

bool Repository::IsCondemned(const PackId& id) const {
  std::shared_lock lock(index_mu_);
  return condemned_.contains(id);
}

size_t Repository::IndexedBlobCount() const {
  std::shared_lock lock(index_mu_);
  return index_.blob_count();
}

size_t Repository::IndexMemoryBytes() const {
  std::shared_lock lock(index_mu_);
  return index_.MemoryBytes();
}

std::vector<PackRecord> Repository::IndexedPacks() const {
  std::shared_lock lock(index_mu_);
  return index_.packs();
}

void Repository::ForEachIndexedBlob(const std::function<void(const BlobLocation&)>& fn) const {
  std::shared_lock lock(index_mu_);
  index_.ForEachBlob(fn);
}

// --- Blobs ---

StatusOr<std::unique_ptr<Aead>> Repository::PackCipher(const PackRecord& pack) const {
  PXB_ASSIGN_OR_RETURN(SecretKey key, DeriveObjectKey(keys_.data, pack.salt));
  return Aead::Create(config_.cipher, key);
}

template <class PayloadBuffer, class PlainBuffer, class What>
Status Repository::Decrypt(const PackRecord& pack, const PackBlob& blob, ByteView stored,
                           PayloadBuffer& payload, PlainBuffer& plain, Aead* cipher,
                           const What& what) const {
  if (stored.size() != blob.stored_length || stored.size() < Aead::kTagSize) {
    return DataLossError(what() + ": stored length mismatch");
  }
  std::unique_ptr<Aead> own;
  if (cipher == nullptr) {
    PXB_ASSIGN_OR_RETURN(own, PackCipher(pack));
    cipher = own.get();
  }
  payload.resize(blob.payload_length());
  PXB_RETURN_IF_ERROR_CTX(OpenBlob(*cipher, blob.offset, stored, payload), what());
  if (blob.compressed) {
    plain.resize(blob.raw_length);
    std::shared_ptr<const BlobDictionary> dictionary;
    if (blob.dictionary != 0) {
      auto found = DictionaryFor(pack, blob);
      if (!found.ok()) return found.status().WithContext(what());
      dictionary = *std::move(found);
    }
    thread_local ZstdDecompressor decompressor;
    PXB_RETURN_IF_ERROR_CTX(
        decompressor.Decompress(payload, plain, dictionary ? dictionary->zstd.get() : nullptr),
        what());
  } else if (payload.size() != blob.raw_length) {
    return DataLossError(what() + ": length mismatch");
  }
  return Status::Ok();
}

template <class PayloadBuffer, class PlainBuffer>
Status Repository::DecryptAndVerify(const PackRecord& pack, const PackBlob& blob, ByteView stored,
                                    PayloadBuffer& payload, PlainBuffer& plain,
                                    Aead* cipher) const {
  // Named only on failure: a restore decodes thousands of blobs a second.
  const auto what = [&] {
    return std::string(BlobTypeName(blob.type)) + " blob " + blob.id.ShortHex() + " in pack " +
           pack.id.ShortHex();
  };
  if (blob.member()) return InternalError(what() + " is a member of a frame");
  PXB_RETURN_IF_ERROR(Decrypt(pack, blob, stored, payload, plain, cipher, what));
  if (!(ComputeBlobId(blob.compressed ? ByteView(plain) : ByteView(payload)) == blob.id)) {
    return DataLossError(what() + ": content does not match its id");
  }
  return Status::Ok();
}

namespace {

// Frames and frame plaintexts larger than this are not kept for the
// thread's next one (the backup's are at most 512 KiB).
constexpr size_t kKeptFrameBytes = size_t{4} << 20;

// The last frame this thread decoded, keyed by the address of the stored
// bytes too, so that the members of one read share one decoding while
// another read is decoded again.
struct FrameCache {
  PackId pack;
  uint32_t offset = 0;
  const std::byte* stored = nullptr;
  bool valid = false;
  PageBytes payload, plain;

  bool Holds(const PackRecord& p, const PackBlob& member) const {
    return valid && pack == p.id && offset == member.offset &&
           plain.size() == member.frame_raw_length;
  }
  void Trim() {
    if (payload.capacity() > kKeptFrameBytes) PageBytes().swap(payload);
    if (plain.capacity() > kKeptFrameBytes) {
      valid = false;
      PageBytes().swap(plain);
    }
  }
};

FrameCache& ThreadFrameCache() {
  thread_local FrameCache cache;
  return cache;
}

}  // namespace

void Repository::ForgetDecodedFrame() { ThreadFrameCache().valid = false; }

StatusOr<ByteView> Repository::MemberOfFrame(const PackRecord& pack, const PackBlob& blob) const {
  const FrameCache& cache = ThreadFrameCache();
  if (uint64_t{blob.member_offset} + blob.raw_length > cache.plain.size()) {
    return DataLossError(std::string(BlobTypeName(blob.type)) + " blob " + blob.id.ShortHex() +
                         " lies beyond its frame in pack " + pack.id.ShortHex());
  }
  const ByteView member(cache.plain.data() + blob.member_offset, blob.raw_length);
  if (!(ComputeBlobId(member) == blob.id)) {
    return DataLossError(std::string(BlobTypeName(blob.type)) + " blob " + blob.id.ShortHex() +
                         " in the frame at " + std::to_string(blob.offset) + " of pack " +
                         pack.id.ShortHex() + ": content does not match its id");
  }
  return member;
}

std::optional<StatusOr<ByteView>> Repository::DecodedMember(const PackRecord& pack,
                                                            const PackBlob& blob) const {
  if (!ThreadFrameCache().Holds(pack, blob)) return std::nullopt;
  return MemberOfFrame(pack, blob);
}

StatusOr<ByteView> Repository::DecodeMember(const PackRecord& pack, const PackBlob& blob,
                                            ByteView stored, Aead* cipher) const {
  FrameCache& cache = ThreadFrameCache();
  if (!cache.Holds(pack, blob) || cache.stored != stored.data()) {
    const auto what = [&] {
      return std::string(BlobTypeName(blob.type)) + " blob " + blob.id.ShortHex() +
             " in the frame at " + std::to_string(blob.offset) + " of pack " + pack.id.ShortHex();
    };
    cache.valid = false;
    cache.Trim();
    PackBlob frame = blob;
    frame.type = BlobType::kFrame;
    frame.raw_length = blob.frame_raw_length;
    PXB_RETURN_IF_ERROR(Decrypt(pack, frame, stored, cache.payload, cache.plain, cipher, what));
    if (!frame.compressed) std::swap(cache.payload, cache.plain);
    cache.pack = pack.id;
    cache.offset = blob.offset;
    cache.stored = stored.data();
    cache.valid = true;
  }
  return MemberOfFrame(pack, blob);
}

StatusOr<Bytes> Repository::DecodeBlob(const PackRecord& pack, const PackBlob& blob,
                                       ByteView stored) const {
  if (blob.member()) {
    PXB_ASSIGN_OR_RETURN(ByteView member, DecodeMember(pack, blob, stored, nullptr));
    return Bytes(member.begin(), member.end());
  }
  Bytes payload, plain;
  PXB_RETURN_IF_ERROR(DecryptAndVerify(pack, blob, stored, payload, plain));
  return blob.compressed ? std::move(plain) : std::move(payload);
}

StatusOr<ByteView> Repository::DecodeBlob(const PackRecord& pack, const PackBlob& blob,
                                          ByteView stored, PageBytes& payload, PageBytes& plain,
                                          Aead* cipher) const {
  if (blob.member()) return DecodeMember(pack, blob, stored, cipher);
  PXB_RETURN_IF_ERROR(DecryptAndVerify(pack, blob, stored, payload, plain, cipher));
  return blob.compressed ? ByteView(plain) : ByteView(payload);
}

namespace {

// Memory of a caller's, of exactly the size DecryptAndVerify asks for.
class FixedBuffer {
 public:
  explicit FixedBuffer(MutableByteView memory) : memory_(memory) {}
  void resize(size_t n) { size_ = std::min(n, memory_.size()); }
  std::byte* data() const { return memory_.data(); }
  size_t size() const { return size_; }
  std::byte* begin() const { return data(); }
  std::byte* end() const { return data() + size_; }

 private:
  MutableByteView memory_;
  size_t size_ = 0;
};

}  // namespace

StatusOr<ByteView> Repository::DecodeBlobInto(const PackRecord& pack, const PackBlob& blob,
                                              ByteView stored, MutableByteView out,
                                              PageBytes& scratch, Aead* cipher) const {
  if (out.size() != blob.raw_length) {
    return InvalidArgumentError("blob " + blob.id.ShortHex() + " has " +
                                std::to_string(blob.raw_length) + " bytes, not " +
                                std::to_string(out.size()));
  }
  if (blob.member()) {
    PXB_ASSIGN_OR_RETURN(ByteView member, DecodeMember(pack, blob, stored, cipher));
    std::memcpy(out.data(), member.data(), member.size());
    return ByteView(out);
  }
  FixedBuffer into(out);
  if (blob.compressed) {
    PXB_RETURN_IF_ERROR(DecryptAndVerify(pack, blob, stored, scratch, into, cipher));
  } else {
    PXB_RETURN_IF_ERROR(DecryptAndVerify(pack, blob, stored, into, scratch, cipher));
  }
  return ByteView(out);
}

StatusOr<Bytes> Repository::LoadBlob(BlobType type, const BlobId& id) {
  auto loc = FindBlob(id);
  if (!loc) {
    return NotFoundError(std::string(BlobTypeName(type)) + " blob " + id.ShortHex() +
                         " is not in the index");
  }
  if (loc->blob.type != type) {
    return DataLossError("blob " + id.ShortHex() + " is indexed as " +
                         std::string(BlobTypeName(loc->blob.type)) + ", expected " +
                         std::string(BlobTypeName(type)));
  }
  // Members read one after the other (dump, a restore's blob read on its
  // own) fetch and decode their frame once.
  if (loc->blob.member()) {
    auto cached = DecodedMember(loc->pack, loc->blob);
    if (cached && cached->ok()) return Bytes((*cached)->begin(), (*cached)->end());
  }
  auto stored =
      backend_->Get(PackObjectName(loc->pack.id), loc->blob.offset, loc->blob.stored_length);
  if (!stored.ok()) {
    Status s = stored.status();
    // A pack the index names but the backend lacks, or a short one, is lost data.
    if (s.code() == StatusCode::kNotFound || s.code() == StatusCode::kOutOfRange) {
      s = DataLossError(std::string(s.message()));
    }
    return s.WithContext(std::string(BlobTypeName(type)) + " blob " + id.ShortHex() + " in pack " +
                         loc->pack.id.ShortHex());
  }
  return DecodeBlob(loc->pack, loc->blob, *stored);
}

StatusOr<std::vector<PackBlob>> Repository::ReadPackHeader(const PackId& id, uint64_t pack_size) {
  const std::string name = PackObjectName(id);
  const std::string what = "pack " + id.ShortHex();
  if (pack_size < kPackPrefixSize + kPackTrailerSize) {
    return DataLossError(what + ": too short (" + std::to_string(pack_size) + " bytes)");
  }
  PXB_ASSIGN_OR_RETURN(Bytes prefix, backend_->Get(name, 0, kPackPrefixSize));
  PXB_ASSIGN_OR_RETURN(Salt salt, DecodePackPrefix(prefix));
  PXB_ASSIGN_OR_RETURN(Bytes trailer,
                       backend_->Get(name, pack_size - kPackTrailerSize, kPackTrailerSize));
  auto read_size = PackHeaderReadSize(trailer, pack_size);
  if (!read_size.ok()) return read_size.status().WithContext(what);
  PXB_ASSIGN_OR_RETURN(Bytes tail, backend_->Get(name, pack_size - *read_size, *read_size));
  auto blobs = DecodePackHeader(config_.cipher, keys_.data, salt, tail, pack_size);
  if (!blobs.ok()) return blobs.status().WithContext(what);
  return blobs;
}

StatusOr<std::vector<PackBlob>> Repository::DecodePackBlobs(ByteView pack) const {
  PXB_ASSIGN_OR_RETURN(Salt salt, DecodePackPrefix(pack));
  return DecodePackHeader(config_.cipher, keys_.data, salt, pack, pack.size());
}

BlobDictionary Repository::MakeBlobDictionary(std::shared_ptr<const ZstdDictionary> zstd) const {
  return BlobDictionary{ComputeBlobId(zstd->bytes()), std::move(zstd)};
}

StatusOr<std::shared_ptr<const BlobDictionary>> Repository::DictionaryOf(
    const BlobLocation& location) const {
  return DictionaryFor(location.pack, location.blob);
}

StatusOr<std::shared_ptr<const BlobDictionary>> Repository::DictionaryFor(
    const PackRecord& pack, const PackBlob& blob) const {
  if (blob.dictionary == 0) return std::shared_ptr<const BlobDictionary>();
  const std::string what =
      "dictionary " + std::to_string(blob.dictionary) + " of pack " + pack.id.ShortHex();
  std::optional<PackBlob> entry;
  {
    std::shared_lock lock(index_mu_);
    entry = index_.Dictionary(pack.id, blob.dictionary);
  }
  if (!entry) return DataLossError(what + " is not in the index");
  {
    std::lock_guard lock(dictionaries_mu_);
    for (auto it = dictionaries_.begin(); it != dictionaries_.end(); ++it) {
      if ((*it)->id != entry->id) continue;
      // Most recently used last: the first is the one to drop.
      std::rotate(it, it + 1, dictionaries_.end());
      return dictionaries_.back();
    }
  }
  auto stored = backend_->Get(PackObjectName(pack.id), entry->offset, entry->stored_length);
  if (!stored.ok()) {
    Status s = stored.status();
    if (s.code() == StatusCode::kNotFound || s.code() == StatusCode::kOutOfRange) {
      s = DataLossError(std::string(s.message()));
    }
    return s.WithContext(what);
  }
  Bytes payload, plain;
  if (Status opened = DecryptAndVerify(pack, *entry, *stored, payload, plain); !opened.ok()) {
    return opened.WithContext(what);
  }
  auto zstd = ZstdDictionary::FromBytes(entry->compressed ? plain : payload);
  if (!zstd.ok()) return zstd.status().WithContext(what);
  auto dictionary = std::make_shared<const BlobDictionary>(BlobDictionary{entry->id, *zstd});
  std::lock_guard lock(dictionaries_mu_);
  if (dictionaries_.size() >= kDictionariesKept) dictionaries_.erase(dictionaries_.begin());
  dictionaries_.push_back(dictionary);
  return dictionary;
}

namespace {

// The compressed form of a blob or frame, kept per thread and not cleared:
// a fresh buffer per blob would fault in and zero its pages each time. One
// that a rare large chunk grew is let go after it.
class CompressionBuffer {
 public:
  ~CompressionBuffer() {
    if (buffer().capacity() > kKept) PageBytes().swap(buffer());
  }
  static PageBytes& buffer() {
    thread_local PageBytes compressed;
    return compressed;
  }

 private:
  static constexpr size_t kKept = size_t{2} << 20;
};

StatusOr<bool> CompressWith(CompressionLevel level, ByteView plaintext, PageBytes& out,
                            const BlobDictionary* dictionary) {
  return dictionary != nullptr ? ThreadCompressor(level).Compress(plaintext, out, *dictionary->zstd)
                               : ThreadCompressor(level).Compress(plaintext, out);
}

}  // namespace

StatusOr<SaveBlobResult> Repository::SaveBlob(BlobType type, ByteView plaintext,
                                              CompressionLevel level,
                                              const BlobDictionary* dictionary) {
  SaveBlobResult result;
  result.id = ComputeBlobId(plaintext);
  if (plaintext.size() > kMaxBlobRawLength) {
    return InvalidArgumentError("blob of " + std::to_string(plaintext.size()) +
                                " bytes exceeds the limit of 64 MiB");
  }
  if (HasReusableBlob(result.id)) return result;
  if (!ClaimPending(result.id, /*unless_reusable=*/true)) return result;
  PXB_ASSIGN_OR_RETURN(result.stored_length,
                       StoreClaimed(type, result.id, plaintext, level, dictionary));
  result.added = true;
  return result;
}

StatusOr<uint64_t> Repository::StoreClaimed(BlobType type, std::span<const FrameMember> blobs,
                                            ByteView plaintext, CompressionLevel level,
                                            const BlobDictionary* dictionary) {
  CompressionBuffer compressed;
  auto use_compressed = CompressWith(level, plaintext, compressed.buffer(), dictionary);
  if (!use_compressed.ok()) {
    for (const FrameMember& b : blobs) ReleasePending(b.id);
    return use_compressed.status();
  }
  ByteView payload = *use_compressed ? ByteView(compressed.buffer()) : plaintext;
  PXB_RETURN_IF_ERROR(AppendBlob(type, blobs, /*frame=*/blobs.size() > 1, *use_compressed, payload,
                                 *use_compressed ? dictionary : nullptr));
  return payload.size() + Aead::kTagSize;
}

StatusOr<uint64_t> Repository::StoreClaimed(BlobType type, const BlobId& id, ByteView plaintext,
                                            CompressionLevel level,
                                            const BlobDictionary* dictionary) {
  const FrameMember blob{id, static_cast<uint32_t>(plaintext.size())};
  return StoreClaimed(type, std::span(&blob, 1), plaintext, level, dictionary);
}

StatusOr<std::vector<SaveBlobResult>> Repository::SaveFramed(BlobType type,
                                                             std::span<const ByteView> blobs,
                                                             CompressionLevel level,
                                                             const BlobDictionary* dictionary) {
  return StoreFramed(type, blobs, level, dictionary, /*copying=*/false);
}

StatusOr<std::vector<SaveBlobResult>> Repository::StoreFramed(BlobType type,
                                                              std::span<const ByteView> blobs,
                                                              CompressionLevel level,
                                                              const BlobDictionary* dictionary,
                                                              bool copying) {
  // Every blob is checked before any is claimed: a claim taken and given
  // back would have let another writer skip a blob it was about to store.
  for (const ByteView& blob : blobs) {
    if (blob.empty() || blob.size() > kMaxBlobRawLength) {
      return InvalidArgumentError("blob of " + std::to_string(blob.size()) +
                                  " bytes cannot be a member of a frame");
    }
  }
  std::vector<SaveBlobResult> results(blobs.size());
  std::vector<size_t> claimed;
  uint64_t raw = 0;
  for (size_t i = 0; i < blobs.size(); ++i) {
    results[i].id = ComputeBlobId(blobs[i]);
    // A copy is stored although the index has the blob (in the pack it
    // leaves), unless this process stored it already. Also false for the
    // second copy of a blob within the batch.
    if (!copying && HasReusableBlob(results[i].id)) continue;
    if (!ClaimPending(results[i].id, /*unless_reusable=*/!copying)) continue;
    claimed.push_back(i);
    raw += blobs[i].size();
  }
  // A frame pays for itself with two members; without compression it
  // would save only tags.
  const bool framed = claimed.size() >= 2 && claimed.size() <= kMaxFrameMembers &&
                      level != CompressionLevel::kOff && raw <= kMaxBlobRawLength;
  if (!framed) {
    for (size_t n = 0; n < claimed.size(); ++n) {
      const size_t i = claimed[n];
      auto stored = StoreClaimed(type, results[i].id, blobs[i], level, dictionary);
      if (!stored.ok()) {
        for (size_t rest = n + 1; rest < claimed.size(); ++rest) {
          ReleasePending(results[claimed[rest]].id);
        }
        return stored.status();
      }
      results[i].added = true;
      results[i].stored_length = *stored;
    }
    return results;
  }
  // Kept per thread like the compression buffer, and let go of likewise.
  thread_local PageBytes plaintext;
  struct Trim {
    ~Trim() {
      if (plaintext.capacity() > kKeptFrameBytes) PageBytes().swap(plaintext);
    }
  } trim;
  plaintext.clear();
  std::vector<FrameMember> members;
  members.reserve(claimed.size());
  for (size_t i : claimed) {
    plaintext.insert(plaintext.end(), blobs[i].begin(), blobs[i].end());
    members.push_back(FrameMember{results[i].id, static_cast<uint32_t>(blobs[i].size())});
  }
  PXB_ASSIGN_OR_RETURN(const uint64_t stored,
                       StoreClaimed(type, members, plaintext, level, dictionary));
  // The frame's stored bytes are shared out by plaintext length.
  for (size_t i : claimed) {
    results[i].added = true;
    results[i].stored_length = stored * blobs[i].size() / raw;
  }
  return results;
}

StatusOr<std::vector<SaveBlobResult>> Repository::CopyMembers(const PackRecord& pack,
                                                              std::span<const PackBlob> members,
                                                              ByteView stored) {
  if (members.empty()) return std::vector<SaveBlobResult>();
  const PackBlob& first = members.front();
  for (const PackBlob& m : members) {
    if (!m.member() || m.offset != first.offset || m.type != first.type) {
      return InvalidArgumentError("blob " + m.id.ShortHex() + " is not a member of the frame at " +
                                  std::to_string(first.offset) + " of pack " + pack.id.ShortHex());
    }
  }
  // The copies still need the frame's dictionary, which goes along into the
  // new pack.
  PXB_ASSIGN_OR_RETURN(std::shared_ptr<const BlobDictionary> dictionary,
                       DictionaryFor(pack, first));
  // Each checked against its id; copied out of the frame cache, which the
  // dictionary's or the new pack's work must not find in use. Room for all
  // is made first, so that the views stay where they point.
  size_t total = 0;
  for (const PackBlob& m : members) total += m.raw_length;
  Bytes plaintexts;
  plaintexts.reserve(total);
  std::vector<ByteView> views;
  for (const PackBlob& m : members) {
    PXB_ASSIGN_OR_RETURN(ByteView member, DecodeMember(pack, m, stored, nullptr));
    plaintexts.insert(plaintexts.end(), member.begin(), member.end());
    views.push_back(ByteView(plaintexts).last(member.size()));
  }
  return StoreFramed(first.type, views,
                     first.compressed ? CompressionLevel::kDefault : CompressionLevel::kOff,
                     dictionary.get(), /*copying=*/true);
}

StatusOr<bool> Repository::CopyBlob(const PackRecord& pack, const PackBlob& blob, ByteView stored) {
  if (blob.type == BlobType::kDictionary || blob.type == BlobType::kFrame) {
    return InvalidArgumentError(std::string(BlobTypeName(blob.type)) + " " + blob.id.ShortHex() +
                                " is not a blob: it is copied with the blobs that need it");
  }
  if (blob.member()) {
    PXB_ASSIGN_OR_RETURN(auto copied, CopyMembers(pack, std::span(&blob, 1), stored));
    return copied.front().added;
  }
  // The zstd frame still needs its dictionary, which goes along into the
  // new pack.
  PXB_ASSIGN_OR_RETURN(std::shared_ptr<const BlobDictionary> dictionary, DictionaryFor(pack, blob));
  // A damaged blob must not be copied into a pack that looks healthy.
  Bytes payload, plain;
  PXB_RETURN_IF_ERROR(DecryptAndVerify(pack, blob, stored, payload, plain));
  if (!ClaimPending(blob.id, /*unless_reusable=*/false)) return false;
  const FrameMember copied{blob.id, blob.raw_length};
  PXB_RETURN_IF_ERROR(AppendBlob(blob.type, std::span(&copied, 1), /*frame=*/false, blob.compressed,
                                 payload, dictionary.get()));
  return true;
}

bool Repository::ClaimPending(const BlobId& id, bool unless_reusable) {
  std::lock_guard lock(pending_mu_);
  // StorePack indexes a pack before it clears its blobs from pending_, so a
  // blob stored since the caller's check is in the index by now.
  if (unless_reusable && HasReusableBlob(id)) return false;
  return pending_.insert(id).second;
}

void Repository::ReleasePending(const BlobId& id) {
  std::lock_guard lock(pending_mu_);
  pending_.erase(id);
}

Status Repository::AppendBlob(BlobType type, std::span<const FrameMember> blobs, bool frame,
                              bool compressed, ByteView payload, const BlobDictionary* dictionary) {
  std::vector<std::unique_ptr<PackBuilder>> full;
  PackBuilder* target = nullptr;
  PackBuilder::Slot slot;
  {
    const size_t type_slot = TypeSlot(type);
    std::lock_guard lock(builder_mu_[type_slot]);
    auto& builder = builders_[type_slot];
    auto& dictionaries = builder_dictionaries_[type_slot];
    auto fail = [&](Status s) {
      for (const FrameMember& b : blobs) ReleasePending(b.id);
      // A pack ended before this blob holds blobs already accepted.
      if (!full.empty()) return DropPacks(full, std::move(s));
      return s;
    };
    if (Status lost = LostBlobs(); !lost.ok()) return fail(std::move(lost));
    // A pack with no room for another dictionary ends before this blob.
    if (builder && dictionary != nullptr && dictionaries.size() >= kMaxPackDictionaries &&
        std::find(dictionaries.begin(), dictionaries.end(), dictionary->id) == dictionaries.end()) {
      full.push_back(std::move(builder));
    }
    if (!builder) {
      // A pack ends with the blob that crosses pack_size: room for one
      // more chunk of the largest size, stored uncompressed, the dictionary
      // it may bring, and the header. Growing later would wait for every
      // seal under the lock and copy the pack; pages never touched cost
      // no memory.
      const size_t expected =
          config_.pack_size + kMaxDictionaryLength + config_.chunker.max_size + 64 * 1024;
      // A backend that can stage the pack takes it as it fills, through a
      // ring of a few MiB (doc/design.md section 6).
      auto staged = backend_->Stage();
      if (!staged.ok()) return fail(staged.status());
      // While full packs still hold the memory the limits allow, no more
      // is taken for this one: it would hold it for the little time they
      // have left.
      WaitForRoomToOpenPack(*staged != nullptr);
      // A kept buffer is resident to its last pack's size: it goes to the
      // next data pack, not to a tree pack, which may stay open and small
      // to the end of the backup while the data packs need a fresh buffer.
      PageBytes buffer;
      if (type == BlobType::kData) {
        buffer = pack_buffers_.Take(*staged ? PackBuilder::kRingSize : expected);
      }
      auto created = PackBuilder::Create(config_.cipher, keys_.data, type, expected,
                                         std::move(buffer), *std::move(staged));
      if (!created.ok()) return fail(created.status());
      builder = std::move(*created);
      dictionaries.clear();
    }
    uint8_t number = 0;
    if (dictionary != nullptr) {
      auto known = std::find(dictionaries.begin(), dictionaries.end(), dictionary->id);
      if (known != dictionaries.end()) {
        number = static_cast<uint8_t>(known - dictionaries.begin() + 1);
      } else {
        const ByteView compressed = dictionary->zstd->Compressed();
        auto added = builder->AddDictionary(dictionary->id, dictionary->zstd->bytes(), compressed);
        if (!added.ok()) return fail(added.status());
        dictionaries.push_back(dictionary->id);
        number = *added;
        stats_.bytes_stored +=
            (compressed.empty() ? dictionary->zstd->bytes() : compressed).size() + Aead::kTagSize;
      }
    }
    auto reserved = frame ? builder->ReserveFrame(blobs, compressed, payload.size(), number)
                          : builder->Reserve(blobs[0].id, blobs[0].raw_length, compressed,
                                             payload.size(), number);
    if (!reserved.ok()) return fail(reserved.status());
    slot = *std::move(reserved);
    target = builder.get();
    // Finishing hashes the whole pack: done outside the lock, so that other
    // workers keep filling a new pack meanwhile.
    if (builder->size() >= config_.pack_size) full.push_back(std::move(builder));
  }
  if (!full.empty()) {
    std::lock_guard lock(writes_mu_);
    for (const auto& pack : full) ++(pack->staged() ? staged_finishing_ : packs_sealing_);
  }
  // Encrypted outside the lock, so that the workers do it side by side. The
  // pack cannot be finished meanwhile: Finish waits for this slot. A failed
  // seal spoils the pack, which stays open, so that finishing it (at the
  // latest in Flush) fails the backup, whatever its other blobs.
  Status sealed = target->Seal(std::move(slot), payload);
  stats_.blobs_added += blobs.size();
  for (const FrameMember& b : blobs) stats_.bytes_added += b.raw_length;
  stats_.bytes_stored += payload.size() + Aead::kTagSize;
  for (size_t i = 0; i < full.size(); ++i) {
    // A staged pack is finished by the finisher: that waits for its ring to
    // be written, which this worker need not do.
    if (full[i]->staged()) {
      QueuePackFinish(std::move(full[i]));
      continue;
    }
    auto done = FinishPack(*full[i]);
    if (!done.ok()) {
      // This pack and the ones after it are dropped, not queued.
      {
        std::lock_guard lock(writes_mu_);
        for (size_t j = i; j < full.size(); ++j) {
          --(full[j]->staged() ? staged_finishing_ : packs_sealing_);
        }
        writes_changed_.notify_all();
      }
      std::vector<std::unique_ptr<PackBuilder>> dropped(std::make_move_iterator(full.begin() + i),
                                                        std::make_move_iterator(full.end()));
      return DropPacks(dropped, done.status());
    }
    QueuePackWrite(*std::move(done));
  }
  if (!sealed.ok()) {
    // The pack can no longer be stored, and the blobs already in it with it.
    RecordLostBlobs(sealed);
    return sealed;
  }
  std::lock_guard lock(writes_mu_);
  return write_error_;
}

StatusOr<FinishedPack> Repository::FinishPack(PackBuilder& builder) {
  auto done = builder.Finish();
  // A staged pack's ring serves the next pack while this one is stored.
  if (done.ok() && done->staged && done->bytes.capacity() != 0) {
    pack_buffers_.Give(std::move(done->bytes));
  }
  return done;
}

void Repository::StartPackWriters() {
  if (!pack_writers_.empty()) return;
  for (size_t i = 0; i < kPackWriterThreads; ++i) {
    pack_writers_.emplace_back([this] { PackWriterLoop(); });
  }
}

void Repository::QueuePackWrite(FinishedPack pack) {
  std::unique_lock lock(writes_mu_);
  StartPackWriters();
  writes_changed_.wait(lock, [&] { return whole_in_flight_ < kPacksInFlight; });
  whole_in_flight_++;
  packs_sealing_--;
  write_queue_.push_back(std::move(pack));
  writes_changed_.notify_all();
}

void Repository::QueuePackFinish(std::unique_ptr<PackBuilder> builder) {
  std::lock_guard lock(writes_mu_);
  StartPackWriters();
  if (!pack_finisher_.joinable()) pack_finisher_ = std::thread([this] { PackFinisherLoop(); });
  finish_queue_.push_back(std::move(builder));
  writes_changed_.notify_all();
}

void Repository::WaitForRoomToOpenPack(bool staged) {
  std::unique_lock lock(writes_mu_);
  writes_changed_.wait(lock, [&] {
    return staged ? staged_finishing_ < kStagedPacksFinishing &&
                        staged_committing_ < kStagedPacksCommitting
                  : whole_in_flight_ + packs_sealing_ <= kPacksInFlight;
  });
}

void Repository::PackFinisherLoop() {
  std::unique_lock lock(writes_mu_);
  while (true) {
    writes_changed_.wait(lock, [&] { return finisher_stopping_ || !finish_queue_.empty(); });
    if (finish_queue_.empty()) return;  // stopping, and nothing left to finish
    std::unique_ptr<PackBuilder> builder = std::move(finish_queue_.front());
    finish_queue_.pop_front();
    lock.unlock();
    const size_t blobs = builder->blob_count();
    auto done = FinishPack(*builder);
    builder.reset();
    lock.lock();
    // Its ring is back in pack_buffers_ (or freed): the next may open.
    staged_finishing_--;
    if (done.ok()) {
      staged_committing_++;
      write_queue_.push_back(*std::move(done));
    } else {
      // Its blobs were accepted: the backup cannot complete (Flush).
      if (blobs > 0) RecordLostBlobs(done.status());
      if (write_error_.ok()) write_error_ = done.status();
    }
    writes_changed_.notify_all();
  }
}

void Repository::PackWriterLoop() {
  std::unique_lock lock(writes_mu_);
  while (true) {
    writes_changed_.wait(lock, [&] { return writers_stopping_ || !write_queue_.empty(); });
    if (write_queue_.empty()) return;  // stopping, and nothing left to write
    FinishedPack pack = std::move(write_queue_.front());
    write_queue_.pop_front();
    lock.unlock();
    const bool whole = pack.staged == nullptr;
    // A failed pack stays in unstored_ for Flush to retry.
    Status stored = StorePack(std::move(pack));
    lock.lock();
    if (!stored.ok() && write_error_.ok()) write_error_ = std::move(stored);
    --(whole ? whole_in_flight_ : staged_committing_);
    writes_changed_.notify_all();
  }
}

void Repository::WaitForPackWrites() {
  std::unique_lock lock(writes_mu_);
  writes_changed_.wait(
      lock, [&] { return whole_in_flight_ + staged_finishing_ + staged_committing_ == 0; });
  write_error_ = Status::Ok();
}

Status Repository::StorePack(FinishedPack pack) {
  const std::string name = PackObjectName(pack.id);
  // A staged pack is in the StagedObject that this repository's backend
  // made for it (AppendBlob).
  Status put = pack.staged ? static_cast<StagedObject&>(*pack.staged).Commit(name)
                           : backend_->Put(name, pack.bytes);
  if (!put.ok()) {
    // Its blobs stay pending (SaveBlob will not add them again), so the
    // pack must be kept for Flush to retry, or they would be lost.
    const std::string what = "storing pack " + pack.id.ShortHex();
    std::lock_guard lock(unstored_mu_);
    unstored_.push_back(std::move(pack));
    return put.WithContext(what);
  }
  stats_.packs_written++;
  IndexedPack indexed{pack.id, pack.size, pack.salt, std::move(pack.blobs)};
  pack.staged.reset();
  if (pack.bytes.capacity() != 0) pack_buffers_.Give(std::move(pack.bytes));
  Status in_memory;
  {
    std::unique_lock lock(index_mu_);
    in_memory = index_.AddPack(indexed, &condemned_);
  }
  {
    std::lock_guard lock(pending_mu_);
    for (const PackBlob& b : indexed.blobs) pending_.erase(b.id);
  }
  // The pack is stored: an index object names it even if this process's
  // index could not take it (its blobs may then be stored again).
  std::lock_guard lock(unindexed_mu_);
  unindexed_.push_back(std::move(indexed));
  if (unindexed_.size() >= kPacksPerIndex) PXB_RETURN_IF_ERROR(WriteIndexLocked());
  return in_memory;
}

StatusOr<IndexId> Repository::PutIndexFile(const IndexFile& file) {
  PXB_ASSIGN_OR_RETURN(Bytes object, SealEnvelope(EnvelopeKind::kIndex, config_.cipher, keys_.data,
                                                  EncodeIndexPayload(file)));
  IndexId id = HashId<IndexId>(object);
  PXB_RETURN_IF_ERROR_CTX(backend_->Put(IndexObjectName(id), object),
                          "storing index " + id.ShortHex());
  stats_.index_files_written++;
  return id;
}

Status Repository::WriteIndexLocked() {
  if (unindexed_.empty()) return Status::Ok();
  IndexFile file;
  file.packs = std::move(unindexed_);
  unindexed_.clear();
  auto put = PutIndexFile(file);
  if (!put.ok()) {
    // Keep the packs so that a retry of Flush() can index them.
    unindexed_ = std::move(file.packs);
    return put.status();
  }
  return Status::Ok();
}

StatusOr<IndexId> Repository::WriteSupersedingIndex(std::vector<IndexedPack> packs,
                                                    std::vector<IndexId> superseded) {
  IndexFile file;
  file.packs = std::move(packs);
  file.superseded = std::move(superseded);
  return PutIndexFile(file);
}

Status Repository::DropPacks(std::vector<std::unique_ptr<PackBuilder>>& packs, Status cause) {
  size_t blobs = 0;
  for (const auto& pack : packs) blobs += pack ? pack->blob_count() : 0;
  packs.clear();
  if (blobs > 0) RecordLostBlobs(cause);
  return cause;
}

void Repository::RecordLostBlobs(const Status& cause) {
  std::lock_guard lock(lost_mu_);
  if (lost_blobs_.ok()) {
    lost_blobs_ = cause.WithContext(
        "a pack of blobs already accepted could not be sealed and was dropped; this backup "
        "cannot complete, run it again");
  }
}

Status Repository::LostBlobs() const {
  std::lock_guard lock(lost_mu_);
  return lost_blobs_;
}

Status Repository::Flush() {
  PXB_RETURN_IF_ERROR(LostBlobs());
  WaitForPackWrites();
  // A staged pack the finisher could not finish was lost with its blobs.
  PXB_RETURN_IF_ERROR(LostBlobs());
  std::vector<FinishedPack> retry;
  {
    std::lock_guard lock(unstored_mu_);
    retry = std::move(unstored_);
    unstored_.clear();
  }
  for (size_t i = 0; i < retry.size(); ++i) {
    Status stored = StorePack(std::move(retry[i]));
    if (!stored.ok()) {
      // StorePack kept the failed one; keep the rest too.
      std::lock_guard lock(unstored_mu_);
      for (size_t j = i + 1; j < retry.size(); ++j) unstored_.push_back(std::move(retry[j]));
      return stored;
    }
  }
  for (size_t slot = 0; slot < builders_.size(); ++slot) {
    std::unique_ptr<PackBuilder> builder;
    {
      std::lock_guard lock(builder_mu_[slot]);
      builder = std::move(builders_[slot]);
    }
    if (builder && !builder->empty()) {
      auto done = FinishPack(*builder);
      if (!done.ok()) {
        std::vector<std::unique_ptr<PackBuilder>> dropped;
        dropped.push_back(std::move(builder));
        return DropPacks(dropped, done.status());
      }
      PXB_RETURN_IF_ERROR(StorePack(*std::move(done)));
    }
  }
  std::lock_guard lock(unindexed_mu_);
  return WriteIndexLocked();
}

// --- Snapshots ---

StatusOr<Bytes> Repository::GetSealed(EnvelopeKind kind, std::string_view prefix,
                                      const ObjectHash& id) {
  const std::string what = std::string(EnvelopeKindName(kind)) + " " + id.ShortHex();
  auto bytes = backend_->Get(std::string(prefix) + id.Hex());
  if (!bytes.ok()) return bytes.status().WithContext(what);
  if (!(HashId<ObjectHash>(*bytes) == id)) {
    return DataLossError(what + ": object does not match its name");
  }
  auto payload = OpenEnvelope(kind, config_.cipher, keys_.data, *bytes);
  if (!payload.ok()) return payload.status().WithContext(what);
  return payload;
}

StatusOr<ObjectHash> Repository::PutSealed(EnvelopeKind kind, std::string_view prefix,
                                           ByteView payload) {
  PXB_ASSIGN_OR_RETURN(Bytes object, SealEnvelope(kind, config_.cipher, keys_.data, payload));
  ObjectHash id = HashId<ObjectHash>(object);
  PXB_RETURN_IF_ERROR_CTX(backend_->Put(std::string(prefix) + id.Hex(), object),
                          "storing " + std::string(EnvelopeKindName(kind)) + " " + id.ShortHex());
  return id;
}

StatusOr<Snapshot> Repository::LoadSnapshot(const SnapshotId& id) {
  PXB_ASSIGN_OR_RETURN(
      Bytes payload, GetSealed(EnvelopeKind::kSnapshot, kSnapshotsPrefix, ObjectHash(id.bytes())));
  auto snapshot = DecodeSnapshotPayload(payload);
  if (!snapshot.ok()) return snapshot.status().WithContext("snapshot " + id.ShortHex());
  return snapshot;
}

StatusOr<std::vector<SnapshotEntry>> Repository::ListSnapshots() {
  PXB_ASSIGN_OR_RETURN(auto listed, ListSealed<Snapshot>(EnvelopeKind::kSnapshot, kSnapshotsPrefix,
                                                         DecodeSnapshotPayload));
  std::vector<SnapshotEntry> out;
  out.reserve(listed.size());
  for (auto& e : listed) out.push_back(SnapshotEntry{SnapshotId(e.id.bytes()), std::move(e.value)});
  std::sort(out.begin(), out.end(), [](const SnapshotEntry& a, const SnapshotEntry& b) {
    if (a.snapshot.time_ns != b.snapshot.time_ns) return a.snapshot.time_ns < b.snapshot.time_ns;
    return a.id < b.id;
  });
  return out;
}

StatusOr<SnapshotId> Repository::SaveSnapshot(const Snapshot& snapshot) {
  PXB_RETURN_IF_ERROR(CheckSession());
  PXB_ASSIGN_OR_RETURN(ObjectHash id, PutSealed(EnvelopeKind::kSnapshot, kSnapshotsPrefix,
                                                EncodeSnapshotPayload(snapshot)));
  return SnapshotId(id.bytes());
}

Status Repository::DeleteSnapshot(const SnapshotId& id) {
  return backend_->Delete(SnapshotObjectName(id));
}

StatusOr<SnapshotId> Repository::ResolveSnapshot(std::string_view reference) {
  if (reference == "latest") {
    PXB_ASSIGN_OR_RETURN(auto all, ListSnapshots());
    if (all.empty()) return NotFoundError("the repository has no snapshots yet");
    return all.back().id;
  }
  if (reference.size() < 4 || reference.size() > 64 ||
      reference.find_first_not_of("0123456789abcdef") != std::string_view::npos) {
    return InvalidArgumentError("'" + std::string(reference) +
                                "' is not a snapshot id: give 'latest' or at least 4 lower-case "
                                "hex digits of an id");
  }
  std::vector<SnapshotId> matches;
  PXB_RETURN_IF_ERROR(backend_->List(kSnapshotsPrefix, [&](const ObjectInfo& info) {
    auto id = IdFromObjectName<SnapshotId>(info.name, kSnapshotsPrefix);
    if (id && id->Hex().starts_with(reference)) matches.push_back(*id);
    return Status::Ok();
  }));
  if (matches.empty()) return NotFoundError("no snapshot matches '" + std::string(reference) + "'");
  if (matches.size() > 1) {
    return InvalidArgumentError("'" + std::string(reference) + "' matches " +
                                std::to_string(matches.size()) + " snapshots: give more digits");
  }
  return matches.front();
}

// --- Sealed objects listed by kind ---

template <typename T>
StatusOr<std::vector<LifecycleEntry<T>>> Repository::ListSealed(EnvelopeKind kind,
                                                                std::string_view prefix,
                                                                StatusOr<T> (*decode)(ByteView)) {
  std::vector<ObjectHash> ids;
  PXB_RETURN_IF_ERROR(backend_->List(prefix, [&](const ObjectInfo& info) {
    if (auto id = IdFromObjectName<ObjectHash>(info.name, prefix)) ids.push_back(*id);
    return Status::Ok();
  }));
  std::vector<LifecycleEntry<T>> out;
  out.reserve(ids.size());
  size_t damaged = 0;
  for (const ObjectHash& id : ids) {
    auto payload = GetSealed(kind, prefix, id);
    if (!payload.ok()) {
      if (payload.status().code() == StatusCode::kNotFound) continue;  // deleted meanwhile
      if (payload.status().code() != StatusCode::kDataLoss) return payload.status();
      damaged++;  // one damaged object must not hide the others; check names it
      continue;
    }
    auto value = decode(*payload);
    if (!value.ok()) {
      damaged++;
      continue;
    }
    out.push_back(LifecycleEntry<T>{id, std::move(*value)});
  }
  damaged_by_kind_[static_cast<size_t>(kind)] = damaged;
  return out;
}

// --- Lifecycle objects ---

size_t Repository::damaged_lifecycle_objects() const {
  size_t total = 0;
  for (EnvelopeKind kind : {EnvelopeKind::kSession, EnvelopeKind::kForgetRecord,
                            EnvelopeKind::kHold, EnvelopeKind::kDeletionPlan}) {
    total += damaged_by_kind_[static_cast<size_t>(kind)];
  }
  return total;
}

StatusOr<std::vector<ForgetRecordEntry>> Repository::ListForgetRecords() {
  return ListSealed<ForgetRecord>(EnvelopeKind::kForgetRecord, kForgottenPrefix,
                                  DecodeForgetRecordPayload);
}

StatusOr<ObjectHash> Repository::SaveForgetRecord(const ForgetRecord& record) {
  return PutSealed(EnvelopeKind::kForgetRecord, kForgottenPrefix,
                   EncodeForgetRecordPayload(record));
}

StatusOr<std::vector<HoldEntry>> Repository::ListHolds() {
  return ListSealed<Hold>(EnvelopeKind::kHold, kHoldsPrefix, DecodeHoldPayload);
}

StatusOr<ObjectHash> Repository::SaveHold(const Hold& hold) {
  return PutSealed(EnvelopeKind::kHold, kHoldsPrefix, EncodeHoldPayload(hold));
}

Status Repository::DeleteHold(const ObjectHash& id) {
  return backend_->Delete(std::string(kHoldsPrefix) + id.Hex());
}

StatusOr<std::vector<DeletionPlanEntry>> Repository::ListDeletionPlans() {
  return ListSealed<DeletionPlan>(EnvelopeKind::kDeletionPlan, kDeletionsPrefix,
                                  DecodeDeletionPlanPayload);
}

StatusOr<ObjectHash> Repository::SaveDeletionPlan(const DeletionPlan& plan) {
  return PutSealed(EnvelopeKind::kDeletionPlan, kDeletionsPrefix, EncodeDeletionPlanPayload(plan));
}

Status Repository::DeleteDeletionPlan(const ObjectHash& id) {
  Status deleted = backend_->Delete(std::string(kDeletionsPrefix) + id.Hex());
  return deleted.code() == StatusCode::kNotFound ? Status::Ok() : deleted;
}

StatusOr<std::vector<SessionEntry>> Repository::ListSessions() {
  return ListSealed<SessionRecord>(EnvelopeKind::kSession, kSessionsPrefix, DecodeSessionPayload);
}

Status Repository::DeleteSession(const ObjectHash& id) {
  Status deleted = backend_->Delete(std::string(kSessionsPrefix) + id.Hex());
  return deleted.code() == StatusCode::kNotFound ? Status::Ok() : deleted;
}

// --- Session ---

Status Repository::StartSession(std::string command, int64_t lease_ns) {
  if (lease_ns <= 0) return InvalidArgumentError("a session lease must be positive");
  {
    std::lock_guard lock(session_mu_);
    if (!session_.session.empty()) return FailedPreconditionError("a session is already running");
    std::array<std::byte, 16> id;
    RandomBytes(id);
    session_.session = ToHex(ByteView(id));
    session_.host = CurrentHostName();
    session_.command = std::move(command);
    session_.pid = static_cast<uint64_t>(getpid());
    session_.started_ns = NowNanos();
    session_lease_ns_ = lease_ns;
  }
  PXB_RETURN_IF_ERROR(RenewSession().WithContext("starting a session"));
  session_thread_ = std::thread([this, lease_ns] { SessionLoop(lease_ns); });
  return Status::Ok();
}

Status Repository::RenewSession() {
  SessionRecord record;
  std::optional<ObjectHash> previous;
  {
    std::lock_guard lock(session_mu_);
    record = session_;
    previous = session_object_;
  }
  record.renewed_ns = NowNanos();
  record.expires_ns = record.renewed_ns + session_lease_ns_;
  PXB_ASSIGN_OR_RETURN(ObjectHash id, PutSealed(EnvelopeKind::kSession, kSessionsPrefix,
                                                EncodeSessionPayload(record)));
  {
    std::lock_guard lock(session_mu_);
    session_ = record;
    session_object_ = id;
    session_valid_until_ = record.expires_ns;
  }
  // The new object is stored, so losing the old one loses nothing.
  if (previous && !(*previous == id)) (void)DeleteSession(*previous);
  return Status::Ok();
}

void Repository::SessionLoop(int64_t lease_ns) {
  std::unique_lock lock(session_mu_);
  while (!session_changed_.wait_for(lock, std::chrono::nanoseconds(lease_ns / 4),
                                    [&] { return session_stopping_; })) {
    lock.unlock();
    (void)RenewSession();  // a failed renewal is retried at the next tick
    lock.lock();
  }
}

void Repository::EndSession() {
  {
    std::lock_guard lock(session_mu_);
    session_stopping_ = true;
  }
  session_changed_.notify_all();
  if (session_thread_.joinable()) session_thread_.join();
  std::optional<ObjectHash> object;
  {
    std::lock_guard lock(session_mu_);
    object = session_object_;
    session_object_.reset();
  }
  if (object) (void)DeleteSession(*object);  // an expired session ends by itself anyway
}

std::string Repository::session_id() const {
  std::lock_guard lock(session_mu_);
  return session_.session;
}

Status Repository::CheckSession() const {
  std::lock_guard lock(session_mu_);
  if (session_.session.empty()) return Status::Ok();
  if (NowNanos() < session_valid_until_) return Status::Ok();
  return FailedPreconditionError(
      "this process's repository session expired at " + FormatRfc3339(session_valid_until_) +
      " because it could not be renewed; a prune may have removed data it relied on, so nothing "
      "was committed: run the command again");
}

// --- Key slots ---

StatusOr<std::vector<KeySlotEntry>> Repository::ListKeySlots() {
  std::vector<KeySlotEntry> out;
  PXB_RETURN_IF_ERROR(backend_->List(kKeysPrefix, [&](const ObjectInfo& info) -> Status {
    auto id = IdFromObjectName<KeySlotId>(info.name, kKeysPrefix);
    if (!id) return Status::Ok();
    PXB_ASSIGN_OR_RETURN(Bytes bytes, backend_->Get(info.name));
    auto slot = DecodeKeySlot(bytes);
    if (!slot.ok()) {
      // Listed as damaged so that it can be seen and removed.
      KeySlotEntry entry{*id, KeySlot{}, std::string(slot.status().message())};
      entry.slot.kind = "damaged";
      out.push_back(std::move(entry));
      return Status::Ok();
    }
    out.push_back(KeySlotEntry{*id, std::move(*slot), ""});
    return Status::Ok();
  }));
  std::sort(out.begin(), out.end(), [](const KeySlotEntry& a, const KeySlotEntry& b) {
    return a.slot.created_ns < b.slot.created_ns;
  });
  return out;
}

StatusOr<KeySlotId> Repository::StoreKeySlot(const KeySlot& slot) {
  Bytes bytes = EncodeKeySlot(slot);
  KeySlotId id = HashId<KeySlotId>(bytes);
  PXB_RETURN_IF_ERROR(backend_->Put(KeySlotObjectName(id), bytes));
  return id;
}

StatusOr<KeySlotId> Repository::AddPassphraseSlot(std::string_view passphrase,
                                                  const Argon2idParams& params, std::string label) {
  if (passphrase.empty()) return InvalidArgumentError("the passphrase must not be empty");
  PXB_ASSIGN_OR_RETURN(KeySlot slot, MakePassphraseSlot(master_, config_.id, passphrase, params));
  slot.label = std::move(label);
  return StoreKeySlot(slot);
}

Status Repository::RemoveKeySlot(const KeySlotId& id) {
  PXB_ASSIGN_OR_RETURN(auto slots, ListKeySlots());
  bool found = false;
  size_t usable_others = 0;
  for (const auto& s : slots) {
    found |= (s.id == id);
    if (!(s.id == id) && s.damage.empty()) usable_others++;
  }
  if (!found) return NotFoundError("no key slot " + id.ShortHex());
  if (usable_others == 0) {
    return FailedPreconditionError("key slot " + id.ShortHex() +
                                   " is the only one: add another before removing it");
  }
  return backend_->Delete(KeySlotObjectName(id));
}

}  // namespace pxb
