#include "core/chunker/fastcdc.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <string>
#include <utility>

#include "core/coding.h"

namespace pxb {
namespace {

constexpr std::string_view kGearLabel = "pxb/v1/gear";

// Bit positions of the masks in the order they are taken (fastcdc.h):
// 63 - floor(3 * rev5(i) / 2).
constexpr std::array<int, 32> MaskBitOrder() {
  std::array<int, 32> order{};
  for (int i = 0; i < 32; ++i) {
    int rev = 0;
    for (int b = 0; b < 5; ++b) rev |= ((i >> b) & 1) << (4 - b);
    order[i] = 63 - 3 * rev / 2;
  }
  return order;
}
constexpr std::array<int, 32> kMaskBitOrder = MaskBitOrder();

// mask_b has this many one-bits fewer than mask_l.
constexpr int kBackupMaskDrop = 4;

// Bound on re-draws over the whole table. A draw is rejected with probability
// at most 1/2 (mask_b has at least one bit), so about 256 re-draws are needed
// at worst and this is never reached with a working PRF; it only keeps a
// broken one from looping forever.
constexpr int kMaxRedraws = 4096;

uint64_t SpreadMask(int one_bits) {
  uint64_t mask = 0;
  for (int i = 0; i < one_bits; ++i) mask |= uint64_t{1} << kMaskBitOrder[i];
  return mask;
}

// The PRF stream of 64-bit words: HMAC-SHA-256(key, label || LE64(counter)).
class GearStream {
 public:
  explicit GearStream(ByteView key) : key_(key) {}

  [[nodiscard]] bool Next(uint64_t& word) {
    if (used_ == kWordsPerBlock) {
      std::array<std::byte, kGearLabel.size() + 8> msg;
      std::memcpy(msg.data(), kGearLabel.data(), kGearLabel.size());
      StoreLe64(msg.data() + kGearLabel.size(), counter_++);
      unsigned int len = 0;
      if (HMAC(EVP_sha256(), key_.data(), static_cast<int>(key_.size()),
               reinterpret_cast<const unsigned char*>(msg.data()), msg.size(),
               reinterpret_cast<unsigned char*>(block_.data()), &len) == nullptr ||
          len != block_.size()) {
        return false;
      }
      used_ = 0;
    }
    word = LoadLe64(block_.data() + 8 * used_++);
    return true;
  }

 private:
  static constexpr int kWordsPerBlock = 4;
  ByteView key_;
  uint64_t counter_ = 0;
  std::array<std::byte, 32> block_{};
  int used_ = kWordsPerBlock;
};

}  // namespace

Status ValidateChunkerParams(const ChunkerParams& p) {
  auto bad = [](std::string msg) { return InvalidArgumentError("chunker params: " + msg); };
  if (!std::has_single_bit(p.avg_size) || p.avg_size < kChunkerMinAvgSize) {
    return bad("avg_size " + std::to_string(p.avg_size) + " must be a power of two of at least " +
               std::to_string(kChunkerMinAvgSize));
  }
  if (p.min_size < kChunkerWindow) {
    return bad("min_size " + std::to_string(p.min_size) + " must be at least " +
               std::to_string(kChunkerWindow));
  }
  if (p.min_size >= p.avg_size) {
    return bad("min_size " + std::to_string(p.min_size) + " must be less than avg_size " +
               std::to_string(p.avg_size));
  }
  if (p.avg_size >= p.max_size) {
    return bad("avg_size " + std::to_string(p.avg_size) + " must be less than max_size " +
               std::to_string(p.max_size));
  }
  if (p.max_size > kChunkerMaxMaxSize) {
    return bad("max_size " + std::to_string(p.max_size) + " must be at most " +
               std::to_string(kChunkerMaxMaxSize) + " (64 MiB)");
  }
  if (p.normalization > kChunkerMaxNormalization) {
    return bad("normalization " + std::to_string(p.normalization) + " must be 0..3");
  }
  return Status::Ok();
}

ChunkerMasks MasksForParams(const ChunkerParams& params) {
  const int bits = std::countr_zero(params.avg_size);
  const int norm = static_cast<int>(params.normalization);
  return ChunkerMasks{SpreadMask(bits + norm), SpreadMask(bits - norm),
                      SpreadMask(bits - norm - kBackupMaskDrop)};
}

StatusOr<GearTable> GearTable::Derive(ByteView key32, const ChunkerParams& params) {
  if (key32.size() != kChunkerKeySize) {
    return InvalidArgumentError("chunker key must be 32 bytes, got " +
                                std::to_string(key32.size()));
  }
  PXB_RETURN_IF_ERROR(ValidateChunkerParams(params));
  const ChunkerMasks masks = MasksForParams(params);
  auto hits_mask = [&](uint64_t entry) {
    const uint64_t fixed_point = uint64_t{0} - entry;  // entry * (2^64 - 1)
    return (fixed_point & masks.small) == 0 || (fixed_point & masks.large) == 0 ||
           (fixed_point & masks.backup) == 0;
  };

  GearTable table;
  table.params_ = params;
  GearStream stream(key32);
  for (uint64_t& entry : table.gear_) {
    if (!stream.Next(entry)) return InternalError("chunker: HMAC-SHA-256 failed");
  }
  for (uint64_t& entry : table.gear_) {
    while (hits_mask(entry)) {
      if (++table.redrawn_ > kMaxRedraws) return InternalError("chunker: gear re-draw diverged");
      if (!stream.Next(entry)) return InternalError("chunker: HMAC-SHA-256 failed");
    }
  }
  return table;
}

Chunker::Chunker(std::shared_ptr<const GearTable> table)
    : table_(std::move(table)),
      gear_(table_->entries().data()),
      params_(table_->params()),
      masks_(MasksForParams(params_)) {}

StatusOr<Chunker> Chunker::Create(ByteView key32, const ChunkerParams& params) {
  PXB_ASSIGN_OR_RETURN(GearTable table, GearTable::Derive(key32, params));
  return Chunker(std::make_shared<const GearTable>(std::move(table)));
}

size_t Chunker::NextChunkLength(ByteView data) const {
  const size_t n = std::min<size_t>(data.size(), params_.max_size);
  const size_t min_size = params_.min_size;
  if (n <= min_size) return n;
  const uint8_t* p = U8(data);
  const uint64_t* gear = gear_;
  const size_t normal = std::min<size_t>(n, params_.avg_size);
  const uint64_t mask_s = masks_.small;
  const uint64_t mask_l = masks_.large;

  uint64_t h = 0;
  size_t i = min_size - kChunkerWindow;
  for (; i < min_size; ++i) h = (h << 1) + gear[p[i]];
  for (; i < normal; ++i) {
    h = (h << 1) + gear[p[i]];
    if ((h & mask_s) == 0) return i + 1;
  }
  // mask_b is a subset of mask_l, so the common path tests one mask per byte.
  const uint64_t mask_b = masks_.backup;
  size_t backup = 0;
  for (; i < n; ++i) {
    h = (h << 1) + gear[p[i]];
    if ((h & mask_b) == 0) [[unlikely]] {
      if ((h & mask_l) == 0) return i + 1;
      backup = i + 1;
    }
  }
  return n == params_.max_size && backup != 0 ? backup : n;
}

StreamChunker::StreamChunker(const Chunker& chunker)
    : chunker_(chunker),
      max_size_(chunker.params().max_size),
      buffer_(2 * static_cast<size_t>(chunker.params().max_size)) {}

Status StreamChunker::Feed(ByteView piece, const ChunkCallback& on_chunk) {
  while (!piece.empty()) {
    MutableByteView space = Space();
    const size_t take = std::min(piece.size(), space.size());
    std::memcpy(space.data(), piece.data(), take);
    piece = piece.subspan(take);
    PXB_RETURN_IF_ERROR(Commit(take, on_chunk));
  }
  return Status::Ok();
}

MutableByteView StreamChunker::Space() {
  if (start_ == end_) start_ = end_ = 0;
  // Pending bytes are fewer than max_size here, so compacting leaves room
  // for at least max_size more. Cuts are taken as soon as they are certain,
  // so what moves is mostly less than one chunk.
  if (buffer_.size() - end_ < max_size_) {
    std::memmove(buffer_.data(), buffer_.data() + start_, end_ - start_);
    end_ -= start_;
    start_ = 0;
  }
  return MutableByteView(buffer_.data() + end_, buffer_.size() - end_);
}

Status StreamChunker::Commit(size_t n, const ChunkCallback& on_chunk) {
  end_ += n;
  for (;;) {
    ByteView pending(buffer_.data() + start_, end_ - start_);
    if (pending.size() < max_size_ && pending.size() < looked_ + kRescanStep) break;
    const size_t len = chunker_.NextChunkLength(pending);
    // A cut before the end of the bytes at hand is where the whole stream
    // would be cut too (the scan goes front to back and stops at the first
    // boundary); one at their end is certain only at max_size.
    if (len == pending.size() && pending.size() < max_size_) {
      looked_ = pending.size();
      break;
    }
    start_ += len;
    looked_ = 0;
    PXB_RETURN_IF_ERROR(on_chunk(pending.first(len)));
  }
  return Status::Ok();
}

Status StreamChunker::Finish(const ChunkCallback& on_chunk) {
  while (start_ < end_) {
    ByteView pending(buffer_.data() + start_, end_ - start_);
    const size_t len = chunker_.NextChunkLength(pending);
    start_ += len;
    PXB_RETURN_IF_ERROR(on_chunk(pending.first(len)));
  }
  Reset();
  return Status::Ok();
}

void StreamChunker::Reset() {
  start_ = 0;
  end_ = 0;
  looked_ = 0;
}

}  // namespace pxb
