// FastCDC content-defined chunking with a keyed gear table ("fastcdc-keyed").
//
// A Chunker cuts a byte stream into chunks whose boundaries depend only on
// nearby content, so an insertion or deletion changes only the chunks around
// it. The gear table is derived from the secret chunker key, so boundaries
// (and the stored sizes that reveal them) cannot be predicted from known
// content. See doc/design.md, section 4. Everything below is frozen format:
// changing any of it changes every chunk boundary of every repository.
//
//   PXB_ASSIGN_OR_RETURN(Chunker chunker, Chunker::Create(keys.chunker.bytes(), params));
//   size_t n = chunker.NextChunkLength(data);  // data starts at a chunk start
//
// Thread-safety: GearTable and Chunker are immutable and may be shared between
// threads. StreamChunker holds a buffer and is used by one thread at a time.
//
// The algorithm, exactly:
//
// * Hash. h = (h << 1) + gear[byte] (mod 2^64). After 64 bytes the oldest byte
//   has been shifted out, so h is a function of the last 64 bytes only.
// * Masks. bits = log2(avg_size). mask_s has bits + normalization one-bits,
//   mask_l has bits - normalization and mask_b (backup) bits - normalization
//   - 4. A mask with n one-bits (n <= 28) sets the bits at positions
//   63 - floor(3 * rev5(i) / 2) for i = 0..n-1, where rev5 reverses the low 5
//   bits of i (63, 39, 51, 27, 57, 33, ...). Every prefix of that order is
//   spread over bits 17..63, the bits that depend on most of the window, and
//   the masks nest (mask_b within mask_l within mask_s), so a position that
//   passes a stricter mask passes the looser ones.
// * Gear table. A PRF stream S = HMAC-SHA-256(key, "pxb/v1/gear" || LE64(0))
//   || HMAC-SHA-256(key, "pxb/v1/gear" || LE64(1)) || ..., read as a sequence
//   of little-endian 64-bit words w0, w1, .... Entries gear[0..255] = w0..w255.
//   Then for b = 0, 1, ..., 255 in order: while the run fixed point
//   fp = -gear[b] (mod 2^64) has (fp & m) == 0 for m = mask_s, mask_l or
//   mask_b, gear[b] is replaced by the next unused word of S. Inside a run of
//   64 or more copies of byte b the hash equals fp, so no run of one byte
//   value ever creates a boundary or backup point by itself.
// * Cut. Given data at a chunk start, n = min(size, max_size). If n <= min_size
//   the chunk is n bytes. Otherwise hashing starts at offset min_size - 64 with
//   h = 0 (so every tested hash covers exactly the 64 bytes ending at the
//   tested position, independent of where the chunk started), and the chunk
//   ends after the first byte i (min_size <= i < n) for which (h & mask) == 0,
//   with mask = mask_s while i < avg_size and mask_l from there on.
// * Backup cut. If no byte matches and n == max_size, the chunk ends after the
//   last byte i >= avg_size with (h & mask_b) == 0, if there is one; otherwise
//   (and at the end of the stream, n < max_size) the chunk is n bytes. On data
//   where few positions can cut (sparse pages: ~100 random bytes per 4 KiB of
//   zeros) most chunks would otherwise end at max_size, and a chain of
//   max-size cuts shifted by an insertion realigns only by chance; the backup
//   keeps those cuts content-defined. On random data it practically never
//   applies (no mask_l match in [avg, max) has probability e^-12).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>

#include "pxb/bytes.h"
#include "pxb/status.h"

namespace pxb {

// The configuration-file name of this algorithm.
inline constexpr std::string_view kFastCdcAlgorithmName = "fastcdc-keyed";

struct ChunkerParams {
  uint32_t min_size = 256 * 1024;
  uint32_t avg_size = 1024 * 1024;
  uint32_t max_size = 4 * 1024 * 1024;
  uint32_t normalization = 2;
};

// Chunker limits. The window is the 64 bytes the gear hash depends on.
inline constexpr uint32_t kChunkerWindow = 64;
inline constexpr uint32_t kChunkerMinAvgSize = 256;
inline constexpr uint32_t kChunkerMaxMaxSize = 64 * 1024 * 1024;
inline constexpr uint32_t kChunkerMaxNormalization = 3;
inline constexpr size_t kChunkerKeySize = 32;

// OK if avg_size is a power of two of at least 256, 64 <= min_size < avg_size
// < max_size <= 64 MiB and normalization is 0..3; otherwise kInvalidArgument
// naming the offending field.
[[nodiscard]] Status ValidateChunkerParams(const ChunkerParams& params);

// The boundary masks of valid params (layout described at the top).
struct ChunkerMasks {
  uint64_t small;   // mask_s, used before avg_size
  uint64_t large;   // mask_l, used from avg_size on
  uint64_t backup;  // mask_b, backup cut points from avg_size on
};
ChunkerMasks MasksForParams(const ChunkerParams& params);

// The 256 keyed gear entries for one set of params (the re-draw depends on the
// masks). Immutable; share it between threads through shared_ptr<const>.
class GearTable {
 public:
  // Derives the table from a 32-byte chunker key. kInvalidArgument for a key
  // of another length or invalid params.
  [[nodiscard]] static StatusOr<GearTable> Derive(ByteView key32, const ChunkerParams& params);

  const std::array<uint64_t, 256>& entries() const { return gear_; }
  const ChunkerParams& params() const { return params_; }
  // How many entries were re-drawn because their run fixed point hit a mask.
  int redrawn() const { return redrawn_; }

 private:
  GearTable() = default;

  std::array<uint64_t, 256> gear_{};
  ChunkerParams params_;
  int redrawn_ = 0;
};

// Finds chunk boundaries. Cheap to copy; copies share the table.
class Chunker {
 public:
  // table must not be null; its params are the chunker's params.
  explicit Chunker(std::shared_ptr<const GearTable> table);

  // Derives the table and wraps it. kInvalidArgument as GearTable::Derive.
  [[nodiscard]] static StatusOr<Chunker> Create(ByteView key32, const ChunkerParams& params);

  // Given data that starts at a chunk start, returns the length of the first
  // chunk: data.size() if it is at most min_size, never more than max_size.
  // Pass at least max_size bytes unless the stream ends sooner: a shorter view
  // is taken as the end of the stream. A pure function of (key, params, the
  // first max_size bytes of data). Does not allocate.
  size_t NextChunkLength(ByteView data) const;

  const ChunkerParams& params() const { return params_; }

 private:
  std::shared_ptr<const GearTable> table_;
  const uint64_t* gear_;
  ChunkerParams params_;
  ChunkerMasks masks_;
};

// Cuts a stream fed in pieces of any size into the same chunks that
// NextChunkLength gives over the whole stream. Holds one buffer of
// 2 * max_size bytes, allocated on construction and not cleared, so that
// only the pages bytes were read into take memory; Feed and Finish do not
// allocate.
//
//   StreamChunker sc(chunker);
//   PXB_RETURN_IF_ERROR(sc.Feed(piece, on_chunk));  // repeat
//   PXB_RETURN_IF_ERROR(sc.Finish(on_chunk));
class StreamChunker {
 public:
  // The view passed to the callback is valid only during the call. An error
  // returned by the callback stops cutting and is returned as is; the
  // StreamChunker then must be Reset() before it is used again.
  using ChunkCallback = std::function<Status(ByteView chunk)>;

  // Keeps a copy of chunker (which shares its table).
  explicit StreamChunker(const Chunker& chunker);

  StreamChunker(const StreamChunker&) = delete;
  StreamChunker& operator=(const StreamChunker&) = delete;

  // Consumes piece and calls on_chunk for every chunk that is now complete.
  [[nodiscard]] Status Feed(ByteView piece, const ChunkCallback& on_chunk);

  // Room for the stream's next bytes, at least max_size of them, to read
  // into directly instead of copying through Feed. Follow with Commit.
  MutableByteView Space();
  // Takes the first n bytes written into Space() as the stream's next bytes
  // and calls on_chunk for every chunk that is now complete, as Feed does.
  [[nodiscard]] Status Commit(size_t n, const ChunkCallback& on_chunk);

  // Calls on_chunk for the remaining chunks of the stream (none if it was
  // empty), then resets, ready for the next stream.
  [[nodiscard]] Status Finish(const ChunkCallback& on_chunk);

  // Drops buffered bytes and starts a new stream.
  void Reset();

  // Bytes fed but not yet passed to on_chunk.
  size_t buffered() const { return end_ - start_; }

 private:
  Chunker chunker_;
  size_t max_size_;
  // Twice the largest chunk; its pages are touched only as bytes are read
  // into them.
  PageBytes buffer_;
  size_t start_ = 0;  // first pending byte
  size_t end_ = 0;    // one past the last pending byte
  // Pending bytes when a cut was last looked for and not found: the next
  // look waits for kRescanStep more, so small pieces do not rescan a chunk
  // per byte.
  size_t looked_ = 0;
  static constexpr size_t kRescanStep = 64 << 10;
};

}  // namespace pxb
