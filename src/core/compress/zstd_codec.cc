#include "core/compress/zstd_codec.h"

// For ZDICT_trainFromBuffer_fastCover and static contexts, which libzstd
// exports.
#define ZDICT_STATIC_LINKING_ONLY
#define ZSTD_STATIC_LINKING_ONLY
#include <zdict.h>
#include <zstd.h>
#include <zstd_errors.h>

#include <algorithm>
#include <cstdint>
#include <string>

namespace pxb {
namespace {

constexpr int kSampleLevel = 1;

std::string ZstdErrorText(size_t code) { return ZSTD_getErrorName(code); }

// Checks that frame is exactly one complete zstd frame.
Status CheckSingleFrame(ByteView frame) {
  const size_t frame_size = ZSTD_findFrameCompressedSize(frame.data(), frame.size());
  if (ZSTD_isError(frame_size)) {
    return DataLossError("zstd: not a complete frame: " + ZstdErrorText(frame_size));
  }
  if (frame_size != frame.size()) {
    return DataLossError("zstd: " + std::to_string(frame.size() - frame_size) +
                         " trailing bytes after the frame");
  }
  return Status::Ok();
}

}  // namespace

ZstdDictionary::ZstdDictionary(Bytes bytes, ZSTD_DDict* ddict)
    : bytes_(std::move(bytes)), ddict_(ddict) {}

ZstdDictionary::~ZstdDictionary() {
  ZSTD_freeDDict(ddict_);
  for (auto& [level, cdict] : cdicts_) ZSTD_freeCDict(cdict);
}

StatusOr<std::shared_ptr<const ZstdDictionary>> ZstdDictionary::Train(ByteView samples,
                                                                      std::span<const size_t> sizes,
                                                                      size_t capacity) {
  Bytes dictionary(capacity);
  // fastCover with fixed parameters (segments of 500 bytes, d = 8) rather
  // than ZDICT_trainFromBuffer's search over k: on database pages the search
  // found dictionaries no better (within 0.3 %) at four times the work on
  // every core, while the backup waits for the dictionary.
  ZDICT_fastCover_params_t params{};
  params.k = 500;
  params.d = 8;
  // A frequency table of 2^19 entries instead of zstd's 2^20: 3 MiB less
  // while the dictionary trains beside the backup, and on the medium home's
  // database a dictionary as good (48.47 MB of pages either way).
  params.f = 19;
  params.nbThreads = 1;
  params.zParams.compressionLevel = ZSTD_CLEVEL_DEFAULT;
  const size_t n =
      ZDICT_trainFromBuffer_fastCover(dictionary.data(), dictionary.size(), samples.data(),
                                      sizes.data(), static_cast<unsigned>(sizes.size()), params);
  if (ZDICT_isError(n)) {
    return FailedPreconditionError("zstd: no dictionary from " + std::to_string(sizes.size()) +
                                   " samples: " + ZDICT_getErrorName(n));
  }
  dictionary.resize(n);
  return FromBytes(dictionary);
}

StatusOr<std::shared_ptr<const ZstdDictionary>> ZstdDictionary::FromBytes(ByteView bytes) {
  Bytes copy(bytes.begin(), bytes.end());
  // A full dictionary (magic, id, entropy tables, content): anything else is
  // damage, not raw content to be used as a prefix.
  if (ZSTD_getDictID_fromDict(copy.data(), copy.size()) == 0) {
    return DataLossError("zstd: not a dictionary");
  }
  ZSTD_DDict* ddict = ZSTD_createDDict(copy.data(), copy.size());
  if (ddict == nullptr) return DataLossError("zstd: damaged dictionary");
  return std::shared_ptr<const ZstdDictionary>(new ZstdDictionary(std::move(copy), ddict));
}

ByteView ZstdDictionary::Compressed() const {
  std::lock_guard lock(mu_);
  if (!compressed_) {
    // Once per dictionary and backup: a slower level than the chunks' pays.
    constexpr int kDictionaryLevel = 9;
    Bytes frame(bytes_.size() - 1);
    const size_t n =
        ZSTD_compress(frame.data(), frame.size(), bytes_.data(), bytes_.size(), kDictionaryLevel);
    frame.resize(ZSTD_isError(n) ? 0 : n);
    compressed_ = std::move(frame);
  }
  return *compressed_;
}

const ZSTD_CDict* ZstdDictionary::ForCompression(int level) const {
  std::lock_guard lock(mu_);
  for (const auto& [l, cdict] : cdicts_) {
    if (l == level) return cdict;
  }
  ZSTD_CDict* cdict = ZSTD_createCDict(bytes_.data(), bytes_.size(), level);
  if (cdict != nullptr) cdicts_.emplace_back(level, cdict);
  return cdict;
}

StatusOr<CompressionLevel> CompressionLevelFromName(std::string_view name) {
  for (CompressionLevel level : {CompressionLevel::kOff, CompressionLevel::kFastest,
                                 CompressionLevel::kDefault, CompressionLevel::kMax}) {
    if (name == CompressionLevelName(level)) return level;
  }
  return InvalidArgumentError("unknown compression level \"" + std::string(name) +
                              "\" (want off, fastest, default or max)");
}

std::string_view CompressionLevelName(CompressionLevel level) {
  switch (level) {
    case CompressionLevel::kOff:
      return "off";
    case CompressionLevel::kFastest:
      return "fastest";
    case CompressionLevel::kDefault:
      return "default";
    case CompressionLevel::kMax:
      return "max";
  }
  return "unknown";
}

int ZstdLevel(CompressionLevel level) {
  switch (level) {
    case CompressionLevel::kOff:
      return 0;
    case CompressionLevel::kFastest:
      return 1;
    case CompressionLevel::kDefault:
      return 3;
    case CompressionLevel::kMax:
      return 19;
  }
  return 0;
}

ZstdCompressor::ZstdCompressor(CompressionLevel level)
    : level_(level),
      sample_cctx_(ZSTD_createCCtx()),
      sample_out_(ZSTD_compressBound(kIncompressibleSampleSize)) {
  if (level == CompressionLevel::kOff) return;
  // Pages are touched as zstd uses them, so a level that never meets a
  // large input never makes its tables resident.
  workspace_.resize(ZSTD_estimateCCtxSize(ZstdLevel(level)));
  cctx_ = ZSTD_initStaticCCtx(workspace_.data(), workspace_.size());
}

// A static context is not freed: its workspace goes with the object.
ZstdCompressor::~ZstdCompressor() { ZSTD_freeCCtx(sample_cctx_); }

bool ZstdCompressor::LooksIncompressible(ByteView in) {
  if (in.empty()) return true;
  if (sample_cctx_ == nullptr) return false;
  const size_t n = std::min(in.size(), kIncompressibleSampleSize);
  const size_t last_start = in.size() - n;
  for (size_t i = 0; i < kIncompressibleSamples; ++i) {
    ByteView sample = in.subspan(last_start * i / (kIncompressibleSamples - 1), n);
    const size_t r = ZSTD_compressCCtx(sample_cctx_, sample_out_.data(), sample_out_.size(),
                                       sample.data(), sample.size(), kSampleLevel);
    if (ZSTD_isError(r)) return false;  // let the real compression decide
    // Shrinks by 3 % or more: r <= 0.97 * n.
    if (r * 100 <= n * 97) return false;
  }
  return true;
}

template <class Buffer>
StatusOr<bool> ZstdCompressor::Compress(ByteView in, Buffer& out) {
  if (level_ == CompressionLevel::kOff || in.empty()) return false;
  if (cctx_ == nullptr) return ResourceExhaustedError("zstd: cannot allocate a context");
  if (in.size() > kIncompressibleCheckThreshold && LooksIncompressible(in)) return false;
  // A frame that does not fit in in.size() - 1 bytes is not worth keeping, so
  // zstd may stop as soon as it overflows.
  out.resize(in.size() - 1);
  const size_t r =
      ZSTD_compressCCtx(cctx_, out.data(), out.size(), in.data(), in.size(), ZstdLevel(level_));
  if (ZSTD_isError(r)) {
    if (ZSTD_getErrorCode(r) == ZSTD_error_dstSize_tooSmall) return false;
    return InternalError("zstd: compression failed: " + ZstdErrorText(r));
  }
  out.resize(r);
  return true;
}

template <class Buffer>
StatusOr<bool> ZstdCompressor::Compress(ByteView in, Buffer& out,
                                        const ZstdDictionary& dictionary) {
  if (level_ == CompressionLevel::kOff || in.empty()) return false;
  if (cctx_ == nullptr) return ResourceExhaustedError("zstd: cannot allocate a context");
  const ZSTD_CDict* cdict = dictionary.ForCompression(ZstdLevel(level_));
  if (cdict == nullptr) return ResourceExhaustedError("zstd: cannot prepare a dictionary");
  if (in.size() > kIncompressibleCheckThreshold && LooksIncompressible(in)) return false;
  out.resize(in.size() - 1);
  // The level comes with the prepared dictionary; the frame records its
  // content size (Decompress checks it) but not the dictionary's id: the
  // pack names the dictionary. Compress() without one resets all this.
  ZSTD_CCtx_reset(cctx_, ZSTD_reset_session_and_parameters);
  size_t r = ZSTD_CCtx_refCDict(cctx_, cdict);
  if (!ZSTD_isError(r)) r = ZSTD_CCtx_setParameter(cctx_, ZSTD_c_dictIDFlag, 0);
  if (!ZSTD_isError(r)) r = ZSTD_compress2(cctx_, out.data(), out.size(), in.data(), in.size());
  if (ZSTD_isError(r)) {
    if (ZSTD_getErrorCode(r) == ZSTD_error_dstSize_tooSmall) return false;
    return InternalError("zstd: compression failed: " + ZstdErrorText(r));
  }
  out.resize(r);
  return true;
}

template StatusOr<bool> ZstdCompressor::Compress(ByteView, Bytes&);
template StatusOr<bool> ZstdCompressor::Compress(ByteView, PageBytes&);
template StatusOr<bool> ZstdCompressor::Compress(ByteView, Bytes&, const ZstdDictionary&);
template StatusOr<bool> ZstdCompressor::Compress(ByteView, PageBytes&, const ZstdDictionary&);

ZstdDecompressor::ZstdDecompressor() : dctx_(ZSTD_createDCtx()) {}

ZstdDecompressor::~ZstdDecompressor() { ZSTD_freeDCtx(dctx_); }

Status ZstdDecompressor::Decompress(ByteView frame, MutableByteView out) {
  return Decompress(frame, out, nullptr);
}

Status ZstdDecompressor::Decompress(ByteView frame, MutableByteView out,
                                    const ZstdDictionary* dictionary) {
  if (dctx_ == nullptr) return ResourceExhaustedError("zstd: cannot allocate a context");
  PXB_RETURN_IF_ERROR(CheckSingleFrame(frame));
  const unsigned long long content = ZSTD_getFrameContentSize(frame.data(), frame.size());
  if (content == ZSTD_CONTENTSIZE_ERROR) return DataLossError("zstd: bad frame header");
  if (content != ZSTD_CONTENTSIZE_UNKNOWN && content != out.size()) {
    return DataLossError("zstd: frame holds " + std::to_string(content) + " bytes, expected " +
                         std::to_string(out.size()));
  }
  const size_t r =
      dictionary != nullptr
          ? ZSTD_decompress_usingDDict(dctx_, out.data(), out.size(), frame.data(), frame.size(),
                                       dictionary->ForDecompression())
          : ZSTD_decompressDCtx(dctx_, out.data(), out.size(), frame.data(), frame.size());
  if (ZSTD_isError(r)) {
    if (ZSTD_getErrorCode(r) == ZSTD_error_dstSize_tooSmall) {
      return DataLossError("zstd: frame holds more than the expected " +
                           std::to_string(out.size()) + " bytes");
    }
    return DataLossError("zstd: corrupt frame: " + ZstdErrorText(r));
  }
  if (r != out.size()) {
    return DataLossError("zstd: frame holds " + std::to_string(r) + " bytes, expected " +
                         std::to_string(out.size()));
  }
  return Status::Ok();
}

StatusOr<Bytes> ZstdCompressAll(ByteView in, int level) {
  if (level < ZSTD_minCLevel() || level > ZSTD_maxCLevel()) {
    return InvalidArgumentError("zstd: no compression level " + std::to_string(level));
  }
  Bytes out(ZSTD_compressBound(in.size()));
  const size_t r = ZSTD_compress(out.data(), out.size(), in.data(), in.size(), level);
  if (ZSTD_isError(r)) return InternalError("zstd: compression failed: " + ZstdErrorText(r));
  out.resize(r);
  return out;
}

StatusOr<Bytes> ZstdDecompressAll(ByteView frame, size_t max_size) {
  PXB_RETURN_IF_ERROR(CheckSingleFrame(frame));
  const unsigned long long content = ZSTD_getFrameContentSize(frame.data(), frame.size());
  if (content == ZSTD_CONTENTSIZE_ERROR) return DataLossError("zstd: bad frame header");
  if (content != ZSTD_CONTENTSIZE_UNKNOWN) {
    if (content > max_size) {
      return DataLossError("zstd: frame holds " + std::to_string(content) +
                           " bytes, more than the limit of " + std::to_string(max_size));
    }
    Bytes out(static_cast<size_t>(content));
    ZstdDecompressor d;
    PXB_RETURN_IF_ERROR(d.Decompress(frame, out));
    return out;
  }

  // No size in the header (a frame from a streaming writer): grow up to the
  // limit, one byte past it to tell "exactly max_size" from "more".
  std::unique_ptr<ZSTD_DStream, decltype(&ZSTD_freeDStream)> ds(ZSTD_createDStream(),
                                                                &ZSTD_freeDStream);
  if (ds == nullptr) return ResourceExhaustedError("zstd: cannot allocate a context");
  Bytes out;
  ZSTD_inBuffer input{frame.data(), frame.size(), 0};
  size_t produced = 0;
  const size_t cap = max_size < SIZE_MAX ? max_size + 1 : max_size;
  for (;;) {
    if (produced == out.size()) {
      if (out.size() > max_size) {
        return DataLossError("zstd: frame holds more than the limit of " +
                             std::to_string(max_size) + " bytes");
      }
      const size_t grow = std::max<size_t>(out.size(), ZSTD_DStreamOutSize());
      out.resize(out.size() + std::min(grow, cap - out.size()));
    }
    ZSTD_outBuffer output{out.data(), out.size(), produced};
    const size_t r = ZSTD_decompressStream(ds.get(), &output, &input);
    produced = output.pos;
    if (ZSTD_isError(r)) return DataLossError("zstd: corrupt frame: " + ZstdErrorText(r));
    if (r == 0) break;  // frame complete
    if (input.pos == input.size && output.pos < output.size) {
      return DataLossError("zstd: truncated frame");
    }
  }
  if (produced > max_size) {
    return DataLossError("zstd: frame holds more than the limit of " + std::to_string(max_size) +
                         " bytes");
  }
  out.resize(produced);
  return out;
}

}  // namespace pxb
