#include "format/pack_format.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include "core/coding.h"
#include "core/crypto/sha256.h"

namespace pxb {

std::string_view BlobTypeName(BlobType type) {
  switch (type) {
    case BlobType::kData:
      return "data";
    case BlobType::kTree:
      return "tree";
    case BlobType::kDictionary:
      return "dictionary";
    case BlobType::kFrame:
      return "frame";
  }
  return "unknown";
}

namespace {

void FillNonce(const Aead& aead, uint32_t domain, uint64_t counter, std::array<std::byte, 24>& buf,
               MutableByteView& nonce) {
  buf.fill(std::byte{0});
  nonce = MutableByteView(buf.data(), aead.NonceSize());
  MakeNonce(domain, counter, nonce);
}

}  // namespace

PackBuilder::PackBuilder(BlobType type, Salt salt, SecretKey key, std::unique_ptr<Aead> aead,
                         PageBytes buffer, std::unique_ptr<StagedBytes> staged)
    : type_(type),
      salt_(salt),
      algorithm_(aead->algorithm()),
      key_(std::move(key)),
      bytes_(std::move(buffer)),
      staged_(std::move(staged)) {
  aeads_.push_back(std::move(aead));
  std::memcpy(prefix_.data(), kPackMagic.data(), kPackMagic.size());
  prefix_[kPackMagic.size()] = std::byte{kPackVersion};
  std::memcpy(prefix_.data() + kPackMagic.size() + 1, salt_.data(), salt_.size());
  bytes_.resize(staged_ ? kRingSize : std::max(bytes_.capacity(), kPackPrefixSize));
  std::memcpy(bytes_.data(), prefix_.data(), prefix_.size());
  size_ = kPackPrefixSize;
  if (staged_) {
    filled_[0] = kPackPrefixSize;
    ring_writer_ = std::thread([this] { RingWriterLoop(); });
  }
}

PackBuilder::~PackBuilder() {
  WaitForSeals();
  StopRingWriter();
}

StatusOr<std::unique_ptr<PackBuilder>> PackBuilder::Create(AeadAlgorithm algorithm,
                                                           const SecretKey& data_key, BlobType type,
                                                           size_t expected_size, PageBytes buffer,
                                                           std::unique_ptr<StagedBytes> staged) {
  Salt salt = RandomSalt();
  PXB_ASSIGN_OR_RETURN(SecretKey key, DeriveObjectKey(data_key, salt));
  PXB_ASSIGN_OR_RETURN(auto aead, Aead::Create(algorithm, key));
  buffer.clear();
  buffer.reserve(staged ? kRingSize : std::min<size_t>(expected_size, kMaxPackSize));
  return std::unique_ptr<PackBuilder>(new PackBuilder(type, salt, std::move(key), std::move(aead),
                                                      std::move(buffer), std::move(staged)));
}

bool PackBuilder::SegmentFull(size_t at) const {
  return filled_[(at % kRingSize) / kRingSegment] == kRingSegment;
}

void PackBuilder::AfterSegmentDone(size_t at) {
  if (hashed_ > at && written_ > at) filled_[(at % kRingSize) / kRingSegment] = 0;
  if (room_waiters_ > 0) room_made_.notify_all();
  if (writer_waiting_) segment_full_.notify_one();
}

bool PackBuilder::CanHash() const {
  return !hashing_ && SegmentFull(hashed_) && hashed_ < written_ + kRingSize;
}

bool PackBuilder::CanWrite() const {
  return !writing_ && ring_failure_.ok() && SegmentFull(written_) && written_ < hashed_ + kRingSize;
}

void PackBuilder::HashFullSegments(std::unique_lock<std::mutex>& lock) {
  while (CanHash()) {
    hashing_ = true;
    const size_t at = hashed_;
    lock.unlock();
    hasher_.Update(ByteView(bytes_.data() + at % kRingSize, kRingSegment));
    lock.lock();
    hashing_ = false;
    hashed_ += kRingSegment;
    AfterSegmentDone(at);
  }
}

void PackBuilder::WriteNextSegment(std::unique_lock<std::mutex>& lock) {
  writing_ = true;
  const size_t at = written_;
  lock.unlock();
  Status wrote = staged_->WriteAt(at, ByteView(bytes_.data() + at % kRingSize, kRingSegment));
  lock.lock();
  writing_ = false;
  if (!wrote.ok()) {
    ring_failure_ = std::move(wrote);
    room_made_.notify_all();
    return;
  }
  written_ += kRingSegment;
  AfterSegmentDone(at);
}

void PackBuilder::RingWriterLoop() {
  std::unique_lock lock(ring_mu_);
  while (true) {
    if (CanWrite()) {
      WriteNextSegment(lock);
      continue;
    }
    // Stopping: once no full segment is left to write (the rest, less than
    // one, is Finish's) and no sealer is writing one.
    if (writer_stopping_ && !writing_ && (!ring_failure_.ok() || !SegmentFull(written_))) return;
    writer_waiting_ = true;
    segment_full_.wait(lock);
    writer_waiting_ = false;
  }
}

void PackBuilder::StopRingWriter() {
  if (!ring_writer_.joinable()) return;
  {
    std::lock_guard lock(ring_mu_);
    writer_stopping_ = true;
    segment_full_.notify_one();
  }
  ring_writer_.join();
}

Status PackBuilder::WaitForRoom(size_t end) {
  std::unique_lock lock(ring_mu_);
  while (end > std::min(hashed_, written_) + kRingSize && ring_failure_.ok()) {
    // A sealer kept waiting does the work in its way itself, rather than
    // sleep until another thread gets a core.
    if (CanHash()) {
      HashFullSegments(lock);
    } else if (CanWrite()) {
      WriteNextSegment(lock);
    } else {
      room_waiters_++;
      room_made_.wait(lock);
      room_waiters_--;
    }
  }
  return ring_failure_;
}

void PackBuilder::MarkFilled(size_t offset, size_t n, std::unique_lock<std::mutex>& lock) {
  for (size_t at = offset, end = offset + n; at < end;) {
    const size_t piece = std::min(end, (at / kRingSegment + 1) * kRingSegment) - at;
    filled_[(at % kRingSize) / kRingSegment] += piece;
    at += piece;
  }
  if (writer_waiting_ && SegmentFull(written_)) segment_full_.notify_one();
  HashFullSegments(lock);
}

Status PackBuilder::SealIntoRing(const Slot& slot, ByteView payload, const MutableByteView& nonce) {
  const size_t offset = slot.offset_;
  const size_t stored = slot.stored_;
  const size_t position = offset % kRingSize;
  // Room for a blob of up to a segment less than the ring comes once the
  // blobs before it are written, so waiting for it cannot deadlock.
  if (stored <= kRingSize - kRingSegment && position + stored <= kRingSize) {
    PXB_RETURN_IF_ERROR(WaitForRoom(offset + stored));
    PXB_RETURN_IF_ERROR(
        slot.aead_->Seal(nonce, {}, payload, MutableByteView(bytes_).subspan(position, stored)));
    std::unique_lock lock(ring_mu_);
    MarkFilled(offset, stored, lock);
    return Status::Ok();
  }
  // Wrapping around the ring's end, or larger than it: sealed aside and
  // copied in a segment's piece at a time.
  thread_local PageBytes aside;
  if (aside.size() < stored) aside.resize(stored);
  Status placed = slot.aead_->Seal(nonce, {}, payload, MutableByteView(aside).first(stored));
  for (size_t done = 0; placed.ok() && done < stored;) {
    const size_t at = offset + done;
    const size_t piece = std::min(stored - done, kRingSegment - at % kRingSegment);
    placed = WaitForRoom(at + piece);
    if (!placed.ok()) break;
    std::memcpy(bytes_.data() + at % kRingSize, aside.data() + done, piece);
    std::unique_lock lock(ring_mu_);
    MarkFilled(at, piece, lock);
    done += piece;
  }
  // Kept for the next blob that wraps (at most a chunk); a larger one,
  // such as a big tree, is not kept resident for the thread's life.
  if (aside.capacity() > kRingSize) PageBytes().swap(aside);
  return placed;
}

uint8_t PackEntryFlags(const PackBlob& entry) {
  if (entry.member()) return kBlobFlagMember;
  return static_cast<uint8_t>((entry.compressed ? kBlobFlagCompressed : 0) |
                              (entry.dictionary << kBlobFlagDictionaryShift));
}

uint8_t PackEntriesVersion(std::span<const PackBlob> entries) {
  uint8_t version = kPackHeaderVersion;
  for (const PackBlob& b : entries) {
    if (b.type == BlobType::kFrame) return kPackHeaderVersionFrames;
    if (b.type == BlobType::kDictionary) version = kPackHeaderVersionDictionaries;
  }
  return version;
}

void EncodePackEntries(std::span<const PackBlob> entries, bool with_offset, ByteWriter& w) {
  for (size_t i = 0; i < entries.size(); ++i) {
    const PackBlob& b = entries[i];
    w.PutU8(static_cast<uint8_t>(b.type));
    w.PutU8(PackEntryFlags(b));
    if (b.member()) {
      w.PutVarint(b.raw_length);
      w.PutRaw(b.id.bytes());
      continue;
    }
    if (with_offset) w.PutVarint(b.offset);
    w.PutVarint(b.stored_length);
    w.PutVarint(b.raw_length);
    if (b.type != BlobType::kFrame) {
      w.PutRaw(b.id.bytes());
      continue;
    }
    size_t members = 0;
    while (i + 1 + members < entries.size() && entries[i + 1 + members].member() &&
           entries[i + 1 + members].offset == b.offset) {
      ++members;
    }
    w.PutVarint(members);
  }
}

PackEntryDecoder::PackEntryDecoder(uint8_t version, uint64_t first_offset)
    : version_(version), end_(first_offset) {}

Status PackEntryDecoder::Read(ByteReader& r, bool with_offset, uint64_t max_offset,
                              std::vector<PackBlob>& out) {
  PXB_ASSIGN_OR_RETURN(uint8_t type, r.ReadU8());
  PXB_ASSIGN_OR_RETURN(uint8_t flags, r.ReadU8());
  const bool frames_allowed = version_ >= kPackHeaderVersionFrames;
  const bool dictionaries_allowed = version_ >= kPackHeaderVersionDictionaries;
  const bool known_type =
      type == static_cast<uint8_t>(BlobType::kData) ||
      type == static_cast<uint8_t>(BlobType::kTree) ||
      (dictionaries_allowed && type == static_cast<uint8_t>(BlobType::kDictionary)) ||
      (frames_allowed && type == static_cast<uint8_t>(BlobType::kFrame));
  if (!known_type) return DataLossError("unknown type " + std::to_string(type));
  PackBlob entry;
  entry.type = static_cast<BlobType>(type);
  const uint8_t known_flags =
      kBlobFlagCompressed | (dictionaries_allowed ? kBlobFlagDictionaryMask : 0);
  if ((flags & ~known_flags) != 0) {
    return DataLossError(flags == kBlobFlagMember && frames_allowed ? "a member without its frame"
                                                                    : "unknown flags");
  }
  entry.compressed = (flags & kBlobFlagCompressed) != 0;
  entry.dictionary =
      static_cast<uint8_t>((flags & kBlobFlagDictionaryMask) >> kBlobFlagDictionaryShift);
  if (entry.type == BlobType::kDictionary && (flags & ~kBlobFlagCompressed) != 0) {
    return DataLossError("a dictionary compressed with a dictionary");
  }
  if (entry.dictionary != 0 && (!entry.compressed || entry.dictionary > dictionaries_)) {
    return DataLossError(
        "names dictionary " + std::to_string(entry.dictionary) +
        (entry.compressed ? ", which is not listed before it" : " but is not compressed"));
  }
  uint64_t offset = end_;
  if (with_offset) {
    PXB_ASSIGN_OR_RETURN(offset, r.ReadBoundedVarint(max_offset, "blob offset"));
    if (offset < end_) return DataLossError("overlaps the entry before it");
  }
  PXB_ASSIGN_OR_RETURN(
      uint64_t stored,
      r.ReadBoundedVarint(kMaxBlobRawLength + 1024 + Aead::kTagSize, "blob length"));
  PXB_ASSIGN_OR_RETURN(uint64_t raw, r.ReadBoundedVarint(kMaxBlobRawLength, "blob raw length"));
  if (stored < Aead::kTagSize) return DataLossError("shorter than its tag");
  if (offset + stored > max_offset) return DataLossError("extends past the blob area");
  end_ = offset + stored;
  entry.offset = static_cast<uint32_t>(offset);
  entry.stored_length = static_cast<uint32_t>(stored);
  entry.raw_length = static_cast<uint32_t>(raw);
  if (entry.type == BlobType::kDictionary) {
    if (++dictionaries_ > kMaxPackDictionaries) {
      return DataLossError("a dictionary past the limit of " +
                           std::to_string(kMaxPackDictionaries));
    }
    if (entry.raw_length > kMaxDictionaryLength ||
        (!entry.compressed && entry.raw_length != entry.payload_length())) {
      return DataLossError("a dictionary whose lengths disagree");
    }
  }
  if (entry.type != BlobType::kFrame) {
    PXB_ASSIGN_OR_RETURN(ByteView id, r.ReadRaw(32));
    entry.id = BlobId(id);
    out.push_back(entry);
    return Status::Ok();
  }
  frames_ = true;
  if (!entry.compressed && entry.raw_length != entry.payload_length()) {
    return DataLossError("a frame whose lengths disagree");
  }
  PXB_ASSIGN_OR_RETURN(uint64_t members, r.ReadBoundedVarint(kMaxFrameMembers, "member count"));
  if (members == 0) return DataLossError("a frame without members");
  out.push_back(entry);
  uint64_t member_offset = 0;
  for (uint64_t m = 0; m < members; ++m) {
    PXB_ASSIGN_OR_RETURN(uint8_t member_type, r.ReadU8());
    PXB_ASSIGN_OR_RETURN(uint8_t member_flags, r.ReadU8());
    if (member_type != static_cast<uint8_t>(BlobType::kData) &&
        member_type != static_cast<uint8_t>(BlobType::kTree)) {
      return DataLossError("member " + std::to_string(m) + " has type " +
                           std::to_string(member_type));
    }
    if (member_flags != kBlobFlagMember) {
      return DataLossError("member " + std::to_string(m) + " has wrong flags");
    }
    PXB_ASSIGN_OR_RETURN(uint64_t length, r.ReadBoundedVarint(kMaxBlobRawLength, "member length"));
    if (length == 0 || member_offset + length > entry.raw_length) {
      return DataLossError("member " + std::to_string(m) + " does not fit its frame");
    }
    PXB_ASSIGN_OR_RETURN(ByteView id, r.ReadRaw(32));
    PackBlob member = entry;
    member.type = static_cast<BlobType>(member_type);
    member.raw_length = static_cast<uint32_t>(length);
    member.id = BlobId(id);
    member.member_offset = static_cast<uint32_t>(member_offset);
    member.frame_raw_length = entry.raw_length;
    out.push_back(member);
    member_offset += length;
  }
  if (member_offset != entry.raw_length) {
    return DataLossError("members fill " + std::to_string(member_offset) + " of their frame's " +
                         std::to_string(entry.raw_length) + " bytes");
  }
  return Status::Ok();
}

Status PackEntryDecoder::Finish() const {
  // One encoding per list: version 2 only with dictionaries, 3 only with frames.
  if (version_ == kPackHeaderVersionDictionaries && dictionaries_ == 0) {
    return DataLossError("version 2 lists no dictionary");
  }
  if (version_ == kPackHeaderVersionFrames && !frames_) {
    return DataLossError("version 3 lists no frame");
  }
  return Status::Ok();
}

StatusOr<uint8_t> PackBuilder::AddDictionary(const BlobId& id, ByteView dictionary,
                                             ByteView compressed) {
  if (dictionaries_ >= kMaxPackDictionaries) {
    return InvalidArgumentError("pack is full (dictionaries)");
  }
  if (dictionary.empty() || dictionary.size() > kMaxDictionaryLength) {
    return InvalidArgumentError("dictionary " + id.ShortHex() + " of " +
                                std::to_string(dictionary.size()) + " bytes cannot go in a pack");
  }
  const bool stored_compressed = !compressed.empty();
  PXB_RETURN_IF_ERROR(Add(id, static_cast<uint32_t>(dictionary.size()), stored_compressed,
                          stored_compressed ? compressed : dictionary));
  blobs_.back().type = BlobType::kDictionary;
  return ++dictionaries_;
}

StatusOr<PackBuilder::Slot> PackBuilder::MakeSlot(size_t stored, size_t entries) {
  if (blobs_.size() + entries > kMaxBlobsPerPack) {
    return InvalidArgumentError("pack is full (blob count)");
  }
  if (size_ + stored + kMaxPackHeaderEntrySize * (blobs_.size() + entries) + 64 >= kMaxPackSize) {
    return InvalidArgumentError("pack is full (size)");
  }
  PXB_ASSIGN_OR_RETURN(std::unique_ptr<Aead> aead, TakeAead());
  if (!staged_ && size_ + stored > bytes_.size()) {
    // Growing moves the buffer: no Seal may be writing into it.
    WaitForSeals();
    bytes_.resize(std::max(size_ + stored, bytes_.size() + bytes_.size() / 4));
  }
  Slot slot;
  slot.owner_ = this;
  slot.offset_ = size_;
  slot.stored_ = stored;
  slot.aead_ = std::move(aead);
  {
    std::lock_guard lock(seal_mu_);
    unsealed_++;
  }
  size_ += stored;
  return slot;
}

StatusOr<PackBuilder::Slot> PackBuilder::Reserve(const BlobId& id, uint32_t raw_length,
                                                 bool compressed, size_t payload_size,
                                                 uint8_t dictionary) {
  if (dictionary > dictionaries_ || (dictionary != 0 && !compressed)) {
    return InvalidArgumentError("blob " + id.ShortHex() + " names dictionary " +
                                std::to_string(dictionary) + ", which this pack does not hold");
  }
  if (raw_length > kMaxBlobRawLength || payload_size > kMaxBlobRawLength + 1024) {
    return InvalidArgumentError("blob " + id.ShortHex() + " is too large for a pack");
  }
  const size_t stored = payload_size + Aead::kTagSize;
  PXB_ASSIGN_OR_RETURN(Slot slot, MakeSlot(stored, 1));
  blobs_.push_back(PackBlob{type_, compressed, static_cast<uint32_t>(slot.offset_),
                            static_cast<uint32_t>(stored), raw_length, id, dictionary});
  return slot;
}

StatusOr<PackBuilder::Slot> PackBuilder::ReserveFrame(std::span<const FrameMember> members,
                                                      bool compressed, size_t payload_size,
                                                      uint8_t dictionary) {
  if (members.empty() || members.size() > kMaxFrameMembers) {
    return InvalidArgumentError("a frame of " + std::to_string(members.size()) + " blobs (1 to " +
                                std::to_string(kMaxFrameMembers) + ")");
  }
  if (dictionary > dictionaries_ || (dictionary != 0 && !compressed)) {
    return InvalidArgumentError("frame names dictionary " + std::to_string(dictionary) +
                                ", which this pack does not hold");
  }
  uint64_t raw_length = 0;
  for (const FrameMember& m : members) {
    if (m.raw_length == 0) return InvalidArgumentError("an empty blob cannot be a member");
    raw_length += m.raw_length;
  }
  if (raw_length > kMaxBlobRawLength || payload_size > kMaxBlobRawLength + 1024 ||
      (!compressed && payload_size != raw_length)) {
    return InvalidArgumentError("a frame of " + std::to_string(raw_length) +
                                " bytes cannot go in a pack");
  }
  const size_t stored = payload_size + Aead::kTagSize;
  PXB_ASSIGN_OR_RETURN(Slot slot, MakeSlot(stored, members.size() + 1));
  PackBlob frame{BlobType::kFrame,
                 compressed,
                 static_cast<uint32_t>(slot.offset_),
                 static_cast<uint32_t>(stored),
                 static_cast<uint32_t>(raw_length),
                 BlobId(),
                 dictionary};
  blobs_.push_back(frame);
  uint32_t member_offset = 0;
  for (const FrameMember& m : members) {
    PackBlob member = frame;
    member.type = type_;
    member.raw_length = m.raw_length;
    member.id = m.id;
    member.member_offset = member_offset;
    member.frame_raw_length = frame.raw_length;
    blobs_.push_back(member);
    member_offset += m.raw_length;
  }
  return slot;
}

StatusOr<std::unique_ptr<Aead>> PackBuilder::TakeAead() {
  {
    std::lock_guard lock(seal_mu_);
    if (!aeads_.empty()) {
      std::unique_ptr<Aead> aead = std::move(aeads_.back());
      aeads_.pop_back();
      return aead;
    }
  }
  // One more context, for a Seal running beside the others.
  return Aead::Create(algorithm_, key_);
}

Status PackBuilder::Seal(Slot slot, ByteView payload) {
  Status sealed;
  if (slot.owner_ != this) {
    return InvalidArgumentError("a slot of another pack, or one already sealed");
  }
  if (payload.size() + Aead::kTagSize != slot.stored_) {
    sealed = InvalidArgumentError("payload of " + std::to_string(payload.size()) +
                                  " bytes for a slot of " + std::to_string(slot.stored_));
  } else {
    std::array<std::byte, 24> nonce_buf;
    MutableByteView nonce;
    FillNonce(*slot.aead_, kNonceDomainBlob, slot.offset_, nonce_buf, nonce);
    sealed = staged_
                 ? SealIntoRing(slot, payload, nonce)
                 : slot.aead_->Seal(nonce, {}, payload,
                                    MutableByteView(bytes_).subspan(slot.offset_, slot.stored_));
  }
  slot.owner_ = nullptr;
  EndSlot(std::move(slot.aead_), sealed);
  return sealed;
}

void PackBuilder::EndSlot(std::unique_ptr<Aead> aead, const Status& sealed) {
  if (staged_ && !sealed.ok()) {
    // Sealers waiting for room beyond this slot would wait forever.
    std::lock_guard lock(ring_mu_);
    if (ring_failure_.ok()) ring_failure_ = sealed;
    room_made_.notify_all();
    segment_full_.notify_one();
  }
  // Notified under the lock: Finish or the destructor may free this builder
  // as soon as it sees the last slot end.
  std::lock_guard lock(seal_mu_);
  if (aead != nullptr) aeads_.push_back(std::move(aead));
  if (!sealed.ok() && seal_failure_.ok()) seal_failure_ = sealed;
  if (--unsealed_ == 0) sealed_.notify_all();
}

PackBuilder::Slot& PackBuilder::Slot::operator=(Slot&& other) noexcept {
  if (this != &other) {
    Drop();
    owner_ = std::exchange(other.owner_, nullptr);
    offset_ = other.offset_;
    stored_ = other.stored_;
    aead_ = std::move(other.aead_);
  }
  return *this;
}

void PackBuilder::Slot::Drop() {
  if (owner_ == nullptr) return;
  std::exchange(owner_, nullptr)
      ->EndSlot(std::move(aead_), InternalError("a blob reserved in a pack was never sealed"));
}

Status PackBuilder::Add(const BlobId& id, uint32_t raw_length, bool compressed, ByteView payload,
                        uint8_t dictionary) {
  PXB_ASSIGN_OR_RETURN(Slot slot, Reserve(id, raw_length, compressed, payload.size(), dictionary));
  return Seal(std::move(slot), payload);
}

void PackBuilder::WaitForSeals() {
  std::unique_lock lock(seal_mu_);
  sealed_.wait(lock, [&] { return unsealed_ == 0; });
}

Status PackBuilder::SealHeaderAndTrailer(ByteView header, MutableByteView out) {
  std::array<std::byte, 24> nonce_buf;
  MutableByteView nonce;
  FillNonce(*aeads_.front(), kNonceDomainPackHeader, 0, nonce_buf, nonce);
  const size_t sealed = out.size() - kPackTrailerSize;
  PXB_RETURN_IF_ERROR(aeads_.front()->Seal(nonce, prefix_, header, out.first(sealed)));
  StoreLe32(out.data() + sealed, static_cast<uint32_t>(sealed));
  std::memcpy(out.data() + sealed + 4, kPackTrailerMagic.data(), 4);
  return Status::Ok();
}

StatusOr<FinishedPack> PackBuilder::Finish() {
  WaitForSeals();
  {
    std::lock_guard lock(seal_mu_);
    if (!seal_failure_.ok()) return seal_failure_;
  }
  Bytes header;
  ByteWriter hw(header);
  hw.PutU8(PackEntriesVersion(blobs_));
  hw.PutVarint(blobs_.size());
  EncodePackEntries(blobs_, /*with_offset=*/false, hw);
  const size_t header_and_trailer = header.size() + Aead::kTagSize + kPackTrailerSize;
  FinishedPack done;
  done.size = size_ + header_and_trailer;
  done.salt = salt_;
  if (!staged_) {
    bytes_.resize(done.size);
    PXB_RETURN_IF_ERROR(
        SealHeaderAndTrailer(header, MutableByteView(bytes_).subspan(size_, header_and_trailer)));
    done.id = PackId(ByteView(Sha256(bytes_)));
    done.bytes = std::move(bytes_);
    done.blobs = std::move(blobs_);
    return done;
  }
  // Every blob is sealed: the writer writes the whole segments left, the
  // hash catches up, and the rest (less than a segment) goes out with the
  // header.
  const auto hash_full_segments = [&] {
    std::unique_lock lock(ring_mu_);
    HashFullSegments(lock);
  };
  hash_full_segments();
  StopRingWriter();
  hash_full_segments();
  if (!ring_failure_.ok()) return ring_failure_;
  if (hashed_ != written_ || size_ - written_ >= kRingSegment) {
    return InternalError("pack ring: " + std::to_string(size_ - written_) + " bytes left over");
  }
  // Its whole blocks straight from the ring, the last partial one with the
  // header and trailer.
  const ByteView rest(bytes_.data() + written_ % kRingSize, size_ - written_);
  const size_t blocks = rest.size() / StagedBytes::kDirectAlignment * StagedBytes::kDirectAlignment;
  PXB_RETURN_IF_ERROR(staged_->WriteAt(written_, rest.first(blocks)));
  const size_t partial = rest.size() - blocks;
  Bytes tail(partial + header_and_trailer);
  std::memcpy(tail.data(), rest.data() + blocks, partial);
  PXB_RETURN_IF_ERROR(SealHeaderAndTrailer(header, MutableByteView(tail).subspan(partial)));
  PXB_RETURN_IF_ERROR(staged_->WriteAt(written_ + blocks, tail));
  hasher_.Update(rest.first(blocks));
  hasher_.Update(tail);
  done.id = PackId(ByteView(hasher_.Finish()));
  done.staged = std::move(staged_);
  bytes_.clear();
  done.bytes = std::move(bytes_);
  done.blobs = std::move(blobs_);
  return done;
}

StatusOr<Salt> DecodePackPrefix(ByteView prefix) {
  if (prefix.size() < kPackPrefixSize) return DataLossError("pack too short for its prefix");
  if (AsChars(prefix.first(7)) != kPackMagic) return DataLossError("pack has a wrong magic");
  if (static_cast<uint8_t>(prefix[7]) != kPackVersion) {
    return DataLossError("pack version " + std::to_string(static_cast<int>(prefix[7])) +
                         " is not supported");
  }
  Salt salt;
  std::memcpy(salt.data(), prefix.data() + 8, kSaltSize);
  return salt;
}

StatusOr<uint64_t> PackHeaderReadSize(ByteView trailer, uint64_t pack_size) {
  if (trailer.size() < kPackTrailerSize || pack_size < kPackPrefixSize + kPackTrailerSize) {
    return DataLossError("pack too short for a trailer");
  }
  // Blob offsets are 32-bit: a larger object cannot be a pack.
  if (pack_size > kMaxPackSize) {
    return DataLossError("pack of " + std::to_string(pack_size) + " bytes exceeds the 4 GiB limit");
  }
  ByteView t = trailer.last(kPackTrailerSize);
  if (AsChars(t.subspan(4, 4)) != kPackTrailerMagic) {
    return DataLossError("pack trailer has a wrong magic (truncated pack?)");
  }
  uint64_t header_length = LoadLe32(t.data());
  if (header_length < Aead::kTagSize + 2 ||
      header_length + kPackTrailerSize + kPackPrefixSize > pack_size) {
    return DataLossError("pack header length " + std::to_string(header_length) +
                         " does not fit a pack of " + std::to_string(pack_size) + " bytes");
  }
  return header_length + kPackTrailerSize;
}

StatusOr<std::vector<PackBlob>> DecodePackHeader(AeadAlgorithm algorithm, const SecretKey& data_key,
                                                 ByteView salt, ByteView tail, uint64_t pack_size) {
  PXB_ASSIGN_OR_RETURN(uint64_t read_size, PackHeaderReadSize(tail, pack_size));
  if (tail.size() < read_size) return DataLossError("pack tail too short for its header");
  const uint64_t header_offset = pack_size - read_size;
  ByteView sealed = tail.subspan(tail.size() - read_size, read_size - kPackTrailerSize);

  // The header's AAD is the pack prefix: magic, version and salt.
  Bytes prefix;
  ByteWriter pw(prefix);
  pw.PutRaw(kPackMagic);
  pw.PutU8(kPackVersion);
  pw.PutRaw(salt);
  PXB_ASSIGN_OR_RETURN(SecretKey key, DeriveObjectKey(data_key, salt));
  PXB_ASSIGN_OR_RETURN(auto aead, Aead::Create(algorithm, key));
  std::array<std::byte, 24> nonce_buf;
  MutableByteView nonce;
  FillNonce(*aead, kNonceDomainPackHeader, 0, nonce_buf, nonce);
  Bytes header(sealed.size() - Aead::kTagSize);
  PXB_RETURN_IF_ERROR_CTX(aead->Open(nonce, prefix, sealed, header), "pack header");

  ByteReader r(header);
  PXB_ASSIGN_OR_RETURN(uint8_t version, r.ReadU8());
  if (version < kPackHeaderVersion || version > kPackHeaderVersionFrames) {
    return DataLossError("pack header version " + std::to_string(version) + " is not supported");
  }
  // The smallest entries: a member (type, flags, length, id), or a frame
  // (5 bytes) with one member, 20 bytes per entry.
  PXB_ASSIGN_OR_RETURN(uint64_t count, r.ReadBoundedVarint(kMaxBlobsPerPack, "pack blob count"));
  if (count * 20 > r.remaining()) return DataLossError("pack header blob count exceeds its size");
  std::vector<PackBlob> blobs;
  blobs.reserve(count);
  PackEntryDecoder decoder(version, kPackPrefixSize);
  while (blobs.size() < count) {
    if (Status read = decoder.Read(r, /*with_offset=*/false, header_offset, blobs); !read.ok()) {
      return read.WithContext("pack header: entry " + std::to_string(blobs.size()));
    }
  }
  PXB_RETURN_IF_ERROR(r.ExpectEnd("pack header"));
  if (blobs.size() != count) {
    return DataLossError("pack header lists " + std::to_string(blobs.size()) +
                         " entries, not the " + std::to_string(count) + " it counts");
  }
  PXB_RETURN_IF_ERROR_CTX(decoder.Finish(), "pack header");
  if (decoder.end() != header_offset) {
    return DataLossError("pack header: blobs cover " + std::to_string(decoder.end()) +
                         " bytes but the header starts at " + std::to_string(header_offset));
  }
  return blobs;
}

Status OpenBlob(Aead& aead, uint32_t offset, ByteView stored, MutableByteView out) {
  std::array<std::byte, 24> nonce_buf;
  MutableByteView nonce;
  FillNonce(aead, kNonceDomainBlob, offset, nonce_buf, nonce);
  return aead.Open(nonce, {}, stored, out);
}

}  // namespace pxb
