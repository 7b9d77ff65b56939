// zstd compression of chunks and of small payloads (doc/design.md, section 5).
//
// ZstdCompressor decides per chunk whether compression is worth it: level off,
// a chunk over 64 KiB whose 16 KiB middle sample shrinks by less than 3 % at
// level 1, or a compressed form that is not smaller all mean "store raw".
// ZstdDecompressor turns a stored frame back into exactly the expected number
// of bytes and reports anything else as kDataLoss.
//
//   ZstdCompressor zc(CompressionLevel::kDefault);
//   PXB_ASSIGN_OR_RETURN(bool compressed, zc.Compress(chunk, frame));
//
// Thread-safety: ZstdCompressor and ZstdDecompressor hold a zstd context and
// are used by one thread at a time (one per worker). The free functions are
// thread-safe.
#pragma once

#include <cstddef>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string_view>
#include <utility>
#include <vector>

#include "pxb/bytes.h"
#include "pxb/status.h"

struct ZSTD_CCtx_s;
struct ZSTD_DCtx_s;
struct ZSTD_CDict_s;
struct ZSTD_DDict_s;

namespace pxb {

enum class CompressionLevel { kOff, kFastest, kDefault, kMax };

// "off", "fastest", "default" or "max"; kInvalidArgument for anything else.
[[nodiscard]] StatusOr<CompressionLevel> CompressionLevelFromName(std::string_view name);
// The inverse of CompressionLevelFromName.
std::string_view CompressionLevelName(CompressionLevel level);
// The zstd level: 0 for kOff, then 1, 3, 19.
int ZstdLevel(CompressionLevel level);

// Chunks larger than this get the sample check before compression.
inline constexpr size_t kIncompressibleCheckThreshold = 64 * 1024;
// The check compresses this many samples of this size, spread evenly from
// the chunk's first byte to its last: files whose compressed body sits
// between text (PDFs, videos with their index at one end) are caught.
inline constexpr size_t kIncompressibleSamples = 5;
inline constexpr size_t kIncompressibleSampleSize = 8 * 1024;

// A zstd dictionary: what many small, similar chunks (the pages of a SQLite
// database) have in common, so that each compresses nearly as well as a large
// chunk would. Prepared forms for compression (per level) and decompression
// are made on first use.
//
// Thread-safety: all methods may be called concurrently.
class ZstdDictionary {
 public:
  // Trains a dictionary of at most `capacity` bytes on samples (concatenated
  // in `samples`, their lengths in `sizes`). kFailedPrecondition when zstd
  // finds too little to learn (too few or too uniform samples).
  static StatusOr<std::shared_ptr<const ZstdDictionary>> Train(ByteView samples,
                                                               std::span<const size_t> sizes,
                                                               size_t capacity);
  // Wraps stored dictionary bytes. kDataLoss if they are not a zstd dictionary.
  static StatusOr<std::shared_ptr<const ZstdDictionary>> FromBytes(ByteView bytes);

  ~ZstdDictionary();
  ZstdDictionary(const ZstdDictionary&) = delete;
  ZstdDictionary& operator=(const ZstdDictionary&) = delete;

  ByteView bytes() const { return bytes_; }
  // The bytes as a zstd frame (level 9, without a dictionary), made on first
  // use, for storing the dictionary: about half its size. Empty if zstd
  // cannot make it smaller.
  ByteView Compressed() const;
  // nullptr if zstd cannot allocate it.
  const ZSTD_CDict_s* ForCompression(int level) const;
  const ZSTD_DDict_s* ForDecompression() const { return ddict_; }

 private:
  ZstdDictionary(Bytes bytes, ZSTD_DDict_s* ddict);

  Bytes bytes_;
  ZSTD_DDict_s* ddict_;
  mutable std::mutex mu_;
  mutable std::vector<std::pair<int, ZSTD_CDict_s*>> cdicts_;  // by level
  mutable std::optional<Bytes> compressed_;                    // made once
};

class ZstdCompressor {
 public:
  explicit ZstdCompressor(CompressionLevel level);
  ~ZstdCompressor();
  ZstdCompressor(const ZstdCompressor&) = delete;
  ZstdCompressor& operator=(const ZstdCompressor&) = delete;

  // Compresses in into out (resized to the frame) and returns true, or
  // returns false, leaving out unspecified, when in should be stored raw
  // (see the top of this file). The frame records the content size.
  // kResourceExhausted if the zstd context could not be allocated,
  // kInternal on an unexpected zstd error.
  // Buffer is Bytes or PageBytes; a reused PageBytes is not cleared before
  // zstd writes into it.
  template <class Buffer>
  [[nodiscard]] StatusOr<bool> Compress(ByteView in, Buffer& out);
  // The same with a dictionary, which the frame then needs to be read; it
  // does not record the dictionary's id (the pack does).
  template <class Buffer>
  [[nodiscard]] StatusOr<bool> Compress(ByteView in, Buffer& out, const ZstdDictionary& dictionary);

  // The sample check alone: true if each of the samples (above) shrinks by
  // less than 3 % at level 1. True for empty input.
  bool LooksIncompressible(ByteView in);

  CompressionLevel level() const { return level_; }

 private:
  CompressionLevel level_;
  // The context lives in a workspace sized once for the largest input at
  // this level. A context zstd allocates itself is resized to each input
  // and freed after many smaller ones, so a thread that alternates
  // database pages, small files and large chunks would allocate, fault in
  // and clear a fresh megabyte again and again.
  PageBytes workspace_;
  ZSTD_CCtx_s* cctx_ = nullptr;
  ZSTD_CCtx_s* sample_cctx_;  // samples only: always small, level 1
  Bytes sample_out_;          // allocated once, reused by every sample check
};

extern template StatusOr<bool> ZstdCompressor::Compress(ByteView, Bytes&);
extern template StatusOr<bool> ZstdCompressor::Compress(ByteView, PageBytes&);
extern template StatusOr<bool> ZstdCompressor::Compress(ByteView, Bytes&, const ZstdDictionary&);
extern template StatusOr<bool> ZstdCompressor::Compress(ByteView, PageBytes&,
                                                        const ZstdDictionary&);

class ZstdDecompressor {
 public:
  ZstdDecompressor();
  ~ZstdDecompressor();
  ZstdDecompressor(const ZstdDecompressor&) = delete;
  ZstdDecompressor& operator=(const ZstdDecompressor&) = delete;

  // Decompresses one zstd frame that must fill out exactly. kDataLoss if
  // frame is not exactly one valid frame (corrupt, truncated, trailing bytes)
  // or decompresses to more or fewer than out.size() bytes; the contents of
  // out are then unspecified. kResourceExhausted if the context could not be
  // allocated.
  [[nodiscard]] Status Decompress(ByteView frame, MutableByteView out);
  // The same for a frame made with `dictionary` (nullptr: without one).
  [[nodiscard]] Status Decompress(ByteView frame, MutableByteView out,
                                  const ZstdDictionary* dictionary);

 private:
  ZSTD_DCtx_s* dctx_;
};

// Compresses all of in as one frame (with its content size) at a zstd level.
// For small payloads; allocates. kInvalidArgument for a level zstd does not
// have, kInternal on a zstd error.
[[nodiscard]] StatusOr<Bytes> ZstdCompressAll(ByteView in, int level);

// Decompresses exactly one frame. kDataLoss if it is corrupt, truncated, has
// trailing bytes or decompresses to more than max_size bytes.
[[nodiscard]] StatusOr<Bytes> ZstdDecompressAll(ByteView frame, size_t max_size);

}  // namespace pxb
