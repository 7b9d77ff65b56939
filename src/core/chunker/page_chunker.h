// Page-aligned chunking for SQLite database files ("sqlite-pages").
//
// SQLite changes pages in place and appends new ones, so content never
// shifts: a content-defined chunker gains nothing there and loses a lot,
// because one changed page anywhere inside a 512 KiB chunk stores the whole
// chunk again. PageChunker cuts at fixed file offsets that are multiples of
// the chunk size, so an unchanged run of pages is an unchanged chunk in every
// backup. See doc/design.md, section 16.
//
//   if (auto page = SqlitePageSize(first_100_bytes)) {
//     PageChunker chunker(SqliteChunkSize(*page));
//     chunker.Reset(extent_offset);
//     PXB_RETURN_IF_ERROR(chunker.Feed(piece, on_chunk));  // repeat
//     PXB_RETURN_IF_ERROR(chunker.Finish(on_chunk));
//   }
//
// Thread-safety: the free functions are pure; a PageChunker holds a buffer
// and is used by one thread at a time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string_view>

#include "pxb/bytes.h"
#include "pxb/status.h"

namespace pxb {

// The name of this chunking in documents and reports.
inline constexpr std::string_view kSqlitePageChunkingName = "sqlite-pages";

// The first 16 bytes of every SQLite 3 database file.
inline constexpr std::string_view kSqliteHeaderMagic{"SQLite format 3\0", 16};
// Bytes of the database header that SqlitePageSize needs.
inline constexpr size_t kSqliteHeaderPrefix = 18;

// Bytes per chunk of a SQLite file: at least this many, and at least one
// page. Chosen by measurement (doc/design.md, section 16): after 10,000 new
// messages and 1,000 edits in a 300 MiB database, 8 KiB chunks store 23 % of
// what restic stores, 16 KiB chunks 36 %; the index holds 6 MiB per GiB.
inline constexpr uint32_t kSqliteChunkTarget = 8 * 1024;

// The page size of a SQLite database whose file starts with `header`: the
// magic, then the big-endian 16-bit page size at offset 16 (1 means 65536),
// a power of two from 512 to 65536. nullopt if `header` is shorter than 18
// bytes or is not such a header.
std::optional<uint32_t> SqlitePageSize(ByteView header);

// Whether a file of `size` bytes can be a SQLite database: one is a whole
// number of pages, each a power of two of at least 512 bytes. A walk reads
// the header only of such files, since on a cold cache that read waits for
// the disk, file after file.
constexpr bool SqliteSizeFits(uint64_t size) { return size >= 512 && size % 512 == 0; }

// The chunk size for a page size: max(page_size, kSqliteChunkTarget), a whole
// number of pages because both are powers of two.
uint32_t SqliteChunkSize(uint32_t page_size);

// Cuts a stream into chunks that end at absolute offsets divisible by the
// chunk size (and at the end of the stream). Holds one chunk-sized buffer,
// allocated on construction; Feed and Finish do not allocate, and whole
// aligned chunks of a piece go to the callback without a copy.
class PageChunker {
 public:
  // The view passed to the callback is valid only during the call. An error
  // returned by the callback stops cutting and is returned as is.
  using ChunkCallback = std::function<Status(ByteView chunk)>;

  // chunk_size must not be 0.
  explicit PageChunker(uint32_t chunk_size);

  PageChunker(const PageChunker&) = delete;
  PageChunker& operator=(const PageChunker&) = delete;

  // Starts a new stream whose first byte lies at `offset` in the file, so a
  // stream starting mid-chunk (a sparse file's extent) first gets a short
  // chunk up to the next boundary.
  void Reset(uint64_t offset);

  // Consumes piece and calls on_chunk for every chunk that is now complete.
  [[nodiscard]] Status Feed(ByteView piece, const ChunkCallback& on_chunk);

  // Passes the remaining bytes as a last, shorter chunk (none if there are
  // none), then starts over at the offset where the stream ended.
  [[nodiscard]] Status Finish(const ChunkCallback& on_chunk);

  uint32_t chunk_size() const { return chunk_size_; }

 private:
  uint32_t chunk_size_;
  Bytes buffer_;
  size_t buffered_ = 0;
  uint64_t offset_ = 0;  // file offset of the next byte fed
};

}  // namespace pxb
