#include "core/chunker/page_chunker.h"

#include <algorithm>
#include <cstring>

namespace pxb {

std::optional<uint32_t> SqlitePageSize(ByteView header) {
  if (header.size() < kSqliteHeaderPrefix) return std::nullopt;
  if (std::memcmp(header.data(), kSqliteHeaderMagic.data(), kSqliteHeaderMagic.size()) != 0) {
    return std::nullopt;
  }
  uint32_t raw = (static_cast<uint32_t>(header[16]) << 8) | static_cast<uint32_t>(header[17]);
  uint32_t page = raw == 1 ? 65536 : raw;
  if (page < 512 || page > 65536 || (page & (page - 1)) != 0) return std::nullopt;
  return page;
}

uint32_t SqliteChunkSize(uint32_t page_size) { return std::max(page_size, kSqliteChunkTarget); }

PageChunker::PageChunker(uint32_t chunk_size) : chunk_size_(chunk_size), buffer_(chunk_size) {}

void PageChunker::Reset(uint64_t offset) {
  buffered_ = 0;
  offset_ = offset;
}

Status PageChunker::Feed(ByteView piece, const ChunkCallback& on_chunk) {
  while (!piece.empty()) {
    // Bytes from the current position to the next boundary.
    const size_t to_boundary = chunk_size_ - static_cast<size_t>(offset_ % chunk_size_);
    const size_t take = std::min(to_boundary, piece.size());
    if (buffered_ == 0 && take == to_boundary) {
      PXB_RETURN_IF_ERROR(on_chunk(piece.first(take)));
    } else {
      std::memcpy(buffer_.data() + buffered_, piece.data(), take);
      buffered_ += take;
      if (take == to_boundary) {
        const size_t n = buffered_;
        buffered_ = 0;
        PXB_RETURN_IF_ERROR(on_chunk(ByteView(buffer_.data(), n)));
      }
    }
    offset_ += take;
    piece = piece.subspan(take);
  }
  return Status::Ok();
}

Status PageChunker::Finish(const ChunkCallback& on_chunk) {
  if (buffered_ == 0) return Status::Ok();
  const size_t n = buffered_;
  buffered_ = 0;
  return on_chunk(ByteView(buffer_.data(), n));
}

}  // namespace pxb
