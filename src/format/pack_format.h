// Pack files: many encrypted blobs of one type followed by an encrypted
// header. Implements doc/repository_format.md section 5.
//
// PackBuilder assembles a pack in memory, or streams it to a StagedBytes
// through a ring of a few MiB; DecodePackHeader and OpenBlob read one back,
// from the whole object or from ranges of it.
//
//   PXB_ASSIGN_OR_RETURN(auto pack, PackBuilder::Create(alg, data_key, BlobType::kData));
//   PXB_RETURN_IF_ERROR(pack->Add(id, raw_length, compressed, payload));
//   PXB_ASSIGN_OR_RETURN(FinishedPack done, pack->Finish());
//
// Thread-safety: Reserve, Add, AddDictionary and Finish are called by one
// thread at a time; Seal may run on other threads meanwhile, each on its own
// slot. The free functions are safe to call concurrently.
#pragma once

#include <array>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "core/coding.h"
#include "core/crypto/aead.h"
#include "core/crypto/secret.h"
#include "core/crypto/sha256.h"
#include "core/staged_bytes.h"
#include "format/crypto_format.h"
#include "pxb/bytes.h"
#include "pxb/ids.h"
#include "pxb/status.h"

namespace pxb {

inline constexpr std::string_view kPackMagic = "PXBPACK";
inline constexpr uint8_t kPackVersion = 1;
inline constexpr size_t kPackPrefixSize = 40;  // magic(7) version(1) salt(32)
inline constexpr std::string_view kPackTrailerMagic = "PXBE";
inline constexpr size_t kPackTrailerSize = 8;  // header length u32, "PXBE"
// Version 1 headers list blobs only; version 2, written when a pack holds
// compression dictionaries, adds dictionary entries and dictionary numbers;
// version 3, written when it holds frames, adds frame and member entries.
inline constexpr uint8_t kPackHeaderVersion = 1;
inline constexpr uint8_t kPackHeaderVersionDictionaries = 2;
inline constexpr uint8_t kPackHeaderVersionFrames = 3;
inline constexpr uint32_t kMaxBlobsPerPack = 1u << 20;
inline constexpr uint64_t kMaxPackSize = uint64_t{1} << 32;
inline constexpr uint32_t kMaxBlobRawLength = 64u << 20;
// Dictionaries per pack (numbered 1 to 3 in two flag bits, which the
// in-memory index also has room for) and their size.
inline constexpr uint8_t kMaxPackDictionaries = 3;
inline constexpr uint32_t kMaxDictionaryLength = 1u << 20;
// Blobs one frame holds at most.
inline constexpr uint32_t kMaxFrameMembers = 256;
// Bytes per blob in the header at most: type, flags, two 5-byte varints, id.
inline constexpr size_t kMaxPackHeaderEntrySize = 2 + 5 + 5 + 32;

// kDictionary is not a blob of the index but a zstd dictionary that blobs of
// the same pack were compressed with; it is listed among them. kFrame is not
// a blob either: it is one sealed (and compressed) piece holding the blobs
// listed right after it, its members, one after the other.
enum class BlobType : uint8_t { kData = 1, kTree = 2, kDictionary = 3, kFrame = 4 };
std::string_view BlobTypeName(BlobType type);

inline constexpr uint8_t kBlobFlagCompressed = 1;
inline constexpr uint8_t kBlobFlagDictionaryShift = 1;  // bits 1-2: dictionary number
inline constexpr uint8_t kBlobFlagDictionaryMask = 0x06;
inline constexpr uint8_t kBlobFlagMember = 0x08;  // version 3: a member of the frame before it

// One blob as listed in a pack header or an index. A member of a frame
// carries its frame's offset, stored length, compression and dictionary, so
// that whatever reads a blob's stored bytes reads its frame's; its own part
// of the frame's plaintext is [member_offset, member_offset + raw_length).
struct PackBlob {
  BlobType type = BlobType::kData;
  bool compressed = false;
  uint32_t offset = 0;         // from the start of the pack
  uint32_t stored_length = 0;  // ciphertext + tag
  uint32_t raw_length = 0;     // plaintext before compression
  BlobId id;
  // The zstd frame needs the pack's dictionary with this number (1-based, in
  // the order the dictionary entries are listed); 0: none.
  uint8_t dictionary = 0;
  // Members only: where the blob starts in its frame's plaintext, and that
  // plaintext's length (0 for anything but a member).
  uint32_t member_offset = 0;
  uint32_t frame_raw_length = 0;

  bool member() const { return frame_raw_length != 0; }
  // Length of the blob's plaintext as stored (compressed or raw); of the
  // frame's, for a member.
  uint32_t payload_length() const { return stored_length - static_cast<uint32_t>(Aead::kTagSize); }
  // The stored bytes that are this blob's: a member's share of its frame's
  // by plaintext length.
  uint64_t stored_share() const {
    return member() ? uint64_t{stored_length} * raw_length / frame_raw_length : stored_length;
  }
  // Whether two entries name the same stored bytes and the same part of them.
  bool SamePlace(const PackBlob& other) const {
    return offset == other.offset && member_offset == other.member_offset;
  }
};

// A blob to be stored in a frame: its id and plaintext length.
struct FrameMember {
  BlobId id;
  uint32_t raw_length = 0;
};

struct FinishedPack {
  // The pack, unless it was staged; then empty, its capacity the ring's
  // memory for reuse.
  PageBytes bytes;
  std::unique_ptr<StagedBytes> staged;  // the pack, if it was streamed to one
  uint64_t size = 0;                    // bytes of the pack
  PackId id;                            // SHA-256 of the pack
  Salt salt;
  std::vector<PackBlob> blobs;
};

class PackBuilder {
 public:
  // Fails only if the algorithm cannot be instantiated. `expected_size`
  // reserves room for the whole pack up front: growing a 16 MiB buffer
  // copies it, holds twice its size at the peak, and must wait for every
  // Seal in progress. The pack is built in `buffer` (its contents dropped),
  // so that a caller can reuse the memory of a pack it has stored.
  //
  // With `staged`, the pack goes there instead, through a ring of
  // kRingSize bytes made of `buffer`: sealed blobs fill it, each full
  // segment is hashed in order by the sealers and written by a thread of
  // the builder, while the next ones fill. A Seal that would overrun the
  // ring waits until the segment in its way is hashed and written.
  static StatusOr<std::unique_ptr<PackBuilder>> Create(
      AeadAlgorithm algorithm, const SecretKey& data_key, BlobType type, size_t expected_size = 0,
      PageBytes buffer = {}, std::unique_ptr<StagedBytes> staged = nullptr);

  // A staged pack's ring, written a whole segment at a time: room for a
  // chunk of the largest size (4 MiB) to be sealed in place.
  static constexpr size_t kRingSegment = size_t{1} << 20;
  static constexpr size_t kRingSize = 6 * kRingSegment;

  // Where one blob goes: Reserve lists it, Seal encrypts it into its place.
  // The cipher context is the slot's own while the slot is unsealed. A slot
  // dropped unsealed spoils its pack (Finish reports it) rather than leave
  // Finish waiting for it.
  class Slot {
   public:
    Slot() = default;
    Slot(Slot&& other) noexcept { *this = std::move(other); }
    Slot& operator=(Slot&& other) noexcept;
    ~Slot() { Drop(); }

    size_t offset() const { return offset_; }
    size_t stored() const { return stored_; }  // payload + tag

   private:
    friend class PackBuilder;
    void Drop();

    PackBuilder* owner_ = nullptr;
    size_t offset_ = 0;
    size_t stored_ = 0;
    std::unique_ptr<Aead> aead_;
  };

  // Lists a blob whose payload (the zstd frame if compressed, else the raw
  // bytes) has `payload_size` bytes and makes room for it. A frame made with
  // one of this pack's dictionaries names its number. kInvalidArgument when
  // the pack is full, the blob too big or the dictionary unknown. Every slot
  // must then be sealed: Finish waits for it. A pack that must grow waits
  // for the slots being sealed, so the caller must hold none unsealed.
  StatusOr<Slot> Reserve(const BlobId& id, uint32_t raw_length, bool compressed,
                         size_t payload_size, uint8_t dictionary = 0);
  // Encrypts the payload into its slot, so that blobs are encrypted outside
  // whatever lock serialises Reserve. A failure spoils the pack: Finish then
  // reports it, and the pack must not be stored.
  Status Seal(Slot slot, ByteView payload);
  // Lists a frame of `members` (their plaintexts one after the other, as
  // the zstd frame or the raw bytes of `payload_size` bytes), makes room for
  // it, and returns its one slot. kInvalidArgument as Reserve, and for no
  // members or more than kMaxFrameMembers.
  StatusOr<Slot> ReserveFrame(std::span<const FrameMember> members, bool compressed,
                              size_t payload_size, uint8_t dictionary = 0);
  // Reserve and Seal together.
  Status Add(const BlobId& id, uint32_t raw_length, bool compressed, ByteView payload,
             uint8_t dictionary = 0);
  // Appends a zstd dictionary (id: its blob id) and returns its number,
  // stored as `compressed` (a zstd frame of it, without a dictionary) unless
  // that is empty. kInvalidArgument when the pack has kMaxPackDictionaries
  // already or the dictionary is too large.
  StatusOr<uint8_t> AddDictionary(const BlobId& id, ByteView dictionary, ByteView compressed = {});
  uint8_t dictionary_count() const { return dictionaries_; }

  BlobType type() const { return type_; }
  // Entries listed: blobs, dictionaries, frames and their members.
  size_t blob_count() const { return blobs_.size(); }
  // Bytes the pack will have without its header.
  size_t size() const { return size_; }
  bool empty() const { return blobs_.empty(); }
  // Whether the pack goes to a StagedBytes through the ring.
  bool staged() const { return staged_ != nullptr; }

  // Waits for the slots still being sealed, seals the header and returns the
  // complete pack. The builder is spent.
  StatusOr<FinishedPack> Finish();

  // Waits for the slots still being sealed (a worker may be encrypting into
  // a pack that an error path drops) and for the ring's writer.
  ~PackBuilder();

 private:
  PackBuilder(BlobType type, Salt salt, SecretKey key, std::unique_ptr<Aead> aead, PageBytes buffer,
              std::unique_ptr<StagedBytes> staged);
  StatusOr<std::unique_ptr<Aead>> TakeAead();
  // Checks that an entry of `stored` bytes and `entries` header entries
  // fits, and makes room for it.
  StatusOr<Slot> MakeSlot(size_t stored, size_t entries);
  // Ends a slot: gives its cipher context back and records how it ended.
  void EndSlot(std::unique_ptr<Aead> aead, const Status& sealed);
  void WaitForSeals();
  // Seals the header and appends the trailer: `out` holds exactly both.
  Status SealHeaderAndTrailer(ByteView header, MutableByteView out);
  // Staged: places a sealed blob's bytes in the ring (waiting for room),
  // sealing straight into it where the blob fits without wrapping.
  Status SealIntoRing(const Slot& slot, ByteView payload, const MutableByteView& nonce);
  // Staged, with ring_mu_ held. A segment's bytes are hashed in order by
  // the sealers (CPU) and written by the writer thread (I/O), side by side;
  // it is free again once both are done.
  void MarkFilled(size_t offset, size_t n, std::unique_lock<std::mutex>& lock);
  bool SegmentFull(size_t at) const;
  // The next segment to hash (to write) is full, no one is at it, and it is
  // not a ring ahead of the other cursor (whose segment shares its place).
  bool CanHash() const;
  bool CanWrite() const;
  void HashFullSegments(std::unique_lock<std::mutex>& lock);
  void WriteNextSegment(std::unique_lock<std::mutex>& lock);
  // Frees the segment at `at` if it is both hashed and written.
  void AfterSegmentDone(size_t at);
  // Staged: waits until the ring holds [.., end), hashing or writing the
  // segment in the way itself when no one else is; or until a write failed.
  Status WaitForRoom(size_t end);
  void RingWriterLoop();
  void StopRingWriter();

  const BlobType type_;
  const Salt salt_;
  const AeadAlgorithm algorithm_;
  const SecretKey key_;  // the pack's key, for one cipher context per concurrent Seal
  // Sized ahead of size_, so that Seal never sees it move; the ring when
  // the pack is staged.
  PageBytes bytes_;
  std::array<std::byte, kPackPrefixSize> prefix_{};

  // Staged packs only. Wakes are targeted: waking the writer for every
  // sealed blob cost eight context switches per blob.
  std::unique_ptr<StagedBytes> staged_;
  std::mutex ring_mu_;
  std::condition_variable segment_full_;  // the writer waits for its next segment
  std::condition_variable room_made_;     // sealers wait for room in the ring
  // Guarded by ring_mu_: pack bytes [0, hashed_) are hashed and [0,
  // written_) written, whole segments; filled_ counts the bytes placed in
  // each ring segment since it was last freed.
  size_t hashed_ = 0;
  size_t written_ = 0;
  std::array<size_t, kRingSize / kRingSegment> filled_{};
  bool hashing_ = false;
  bool writing_ = false;
  bool writer_waiting_ = false;
  bool writer_stopping_ = false;
  size_t room_waiters_ = 0;
  // A failed write, or a slot that ended without placing its bytes: its
  // segment will never fill, so waiting for room ends with this.
  Status ring_failure_;
  Sha256Hasher hasher_;  // of bytes [0, hashed_); used by one thread at a time
  std::thread ring_writer_;
  size_t size_ = 0;
  std::vector<PackBlob> blobs_;  // dictionary, frame and member entries included, in pack order
  uint8_t dictionaries_ = 0;

  std::mutex seal_mu_;
  std::condition_variable sealed_;
  size_t unsealed_ = 0;                       // guarded by seal_mu_
  std::vector<std::unique_ptr<Aead>> aeads_;  // idle contexts; guarded by seal_mu_
  Status seal_failure_;                       // guarded by seal_mu_
};

// The type and flag bytes of an entry in a pack header or an index.
uint8_t PackEntryFlags(const PackBlob& entry);

// The version of a pack header or index listing these entries: the lowest
// whose encoding has every kind of entry they hold.
uint8_t PackEntriesVersion(std::span<const PackBlob> entries);

// Decodes the entries of one pack, as a pack header or an index lists them
// (sections 5 and 6), checking the rules both share: types and flags the
// version allows, dictionaries named only after they are listed, members
// following their frame and filling it exactly. Frame and dictionary entries
// are kept in the list, members carry their frame's place (see PackBlob).
class PackEntryDecoder {
 public:
  // Version 1, 2 or 3 of the pack header or index; `first_offset` where the
  // first entry's stored bytes start, used when the entries list no offset.
  PackEntryDecoder(uint8_t version, uint64_t first_offset);

  // Reads one entry (or a frame and its members) with `r`; `with_offset`
  // for an index, which lists each stored piece's offset. Appends what it
  // read to `out`. kDataLoss when malformed (the caller adds where).
  Status Read(ByteReader& r, bool with_offset, uint64_t max_offset, std::vector<PackBlob>& out);
  // After the last entry: the version's rules about what it must hold.
  Status Finish() const;
  // Where the next stored piece would start when the entries list no offset.
  uint64_t end() const { return end_; }
  size_t dictionaries() const { return dictionaries_; }
  bool frames() const { return frames_; }

 private:
  uint8_t version_;
  uint64_t end_;
  size_t dictionaries_ = 0;
  bool frames_ = false;
};

// Writes the entries of one pack, as a pack header (without offsets) or an
// index (with them) lists them.
void EncodePackEntries(std::span<const PackBlob> entries, bool with_offset, ByteWriter& w);

// Reads the salt from a pack's first 40 bytes. kDataLoss on a wrong magic or version.
StatusOr<Salt> DecodePackPrefix(ByteView prefix);

// Decodes the header from the pack's tail. `tail` holds the last bytes of the
// pack (at least the header, trailer included; the whole pack works), and
// pack_size is the size of the whole pack. kDataLoss on any inconsistency.
StatusOr<std::vector<PackBlob>> DecodePackHeader(AeadAlgorithm algorithm, const SecretKey& data_key,
                                                 ByteView salt, ByteView tail, uint64_t pack_size);

// How many bytes from the end of a pack to read to get its header, given the
// trailer (the last 8 bytes). kDataLoss if the trailer is malformed.
StatusOr<uint64_t> PackHeaderReadSize(ByteView trailer, uint64_t pack_size);

// Decrypts the blob (or dictionary) stored at `offset` of its pack into out,
// whose size must be payload_length(). kDataLoss "authentication failed" on
// tampering.
Status OpenBlob(Aead& aead, uint32_t offset, ByteView stored, MutableByteView out);

}  // namespace pxb
