#include "core/erasure/reed_solomon.h"

#include <isa-l/erasure_code.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace pxb {
namespace {

// ISA-L expands each coefficient into a 32-byte multiplication table.
constexpr size_t kTableBytesPerCoefficient = 32;
// ISA-L takes int lengths; longer shards are coded in steps of this many
// bytes, a multiple of 64 so that every step keeps the buffers' alignment.
constexpr size_t kMaxStep = size_t{1} << 30;

using PointerArray = std::array<uint8_t*, kMaxTotalShards>;

// ec_encode_data jumps through a pointer that its first call sets to the
// kernel for this CPU. Making that first call once, before any instance
// exists, keeps concurrent callers from racing on the store.
void SelectIsalKernel() {
  static const bool selected = [] {
    uint8_t coefficient = 1;
    std::array<uint8_t, kTableBytesPerCoefficient> tables;
    ec_init_tables(1, 1, &coefficient, tables.data());
    uint8_t in = 0;
    uint8_t out = 0;
    uint8_t* source = &in;
    uint8_t* output = &out;
    ec_encode_data(1, 1, 1, tables.data(), &source, &output);
    return true;
  }();
  static_cast<void>(selected);
}

// outputs[r] = sum over j of coefficient (r, j) * sources[j], for `rows`
// outputs of len bytes, with the tables ec_init_tables made.
void Code(int k, int rows, const uint8_t* tables, const PointerArray& sources,
          const PointerArray& outputs, size_t len) {
  // ISA-L only reads the tables; its signature is not const-correct.
  uint8_t* t = const_cast<uint8_t*>(tables);
  if (len <= kMaxStep) {
    ec_encode_data(static_cast<int>(len), k, rows, t, const_cast<uint8_t**>(sources.data()),
                   const_cast<uint8_t**>(outputs.data()));
    return;
  }
  PointerArray src;
  PointerArray dst;
  for (size_t done = 0; done < len; done += kMaxStep) {
    const size_t step = std::min(kMaxStep, len - done);
    for (int j = 0; j < k; ++j) src[j] = sources[j] + done;
    for (int r = 0; r < rows; ++r) dst[r] = outputs[r] + done;
    ec_encode_data(static_cast<int>(step), k, rows, t, src.data(), dst.data());
  }
}

uint8_t* U8Pointer(const std::byte* p) {
  // ISA-L reads sources through uint8_t*; it never writes them.
  return reinterpret_cast<uint8_t*>(const_cast<std::byte*>(p));
}

}  // namespace

ReedSolomon::ReedSolomon(int k, int m)
    : k_(k),
      m_(m),
      matrix_(static_cast<size_t>(k + m) * k),
      encode_tables_(kTableBytesPerCoefficient * k * m) {
  gf_gen_cauchy1_matrix(matrix_.data(), k + m, k);
  if (m > 0) {
    ec_init_tables(k, m, matrix_.data() + static_cast<size_t>(k) * k, encode_tables_.data());
  }
}

StatusOr<ReedSolomon> ReedSolomon::Create(int data_shards, int parity_shards) {
  if (data_shards < 1 || data_shards > kMaxTotalShards) {
    return InvalidArgumentError("Reed-Solomon: k=" + std::to_string(data_shards) +
                                ", must be between 1 and " + std::to_string(kMaxTotalShards));
  }
  if (parity_shards < 0 || parity_shards > kMaxTotalShards - data_shards) {
    return InvalidArgumentError("Reed-Solomon: m=" + std::to_string(parity_shards) + " with k=" +
                                std::to_string(data_shards) + ", k+m must be at most " +
                                std::to_string(kMaxTotalShards) + " and m at least 0");
  }
  SelectIsalKernel();
  return ReedSolomon(data_shards, parity_shards);
}

void ReedSolomon::Encode(std::span<const std::byte* const> data, std::span<std::byte* const> parity,
                         size_t shard_len) const {
  if (data.size() != static_cast<size_t>(k_) || parity.size() != static_cast<size_t>(m_)) {
    std::fprintf(stderr,
                 "pxb: fatal: ReedSolomon::Encode given %zu data and %zu parity shards, "
                 "coder has k=%d m=%d\n",
                 data.size(), parity.size(), k_, m_);
    std::abort();
  }
  if (m_ == 0 || shard_len == 0) return;
  PointerArray sources;
  PointerArray outputs;
  for (int j = 0; j < k_; ++j) sources[j] = U8Pointer(data[j]);
  for (int r = 0; r < m_; ++r) outputs[r] = reinterpret_cast<uint8_t*>(parity[r]);
  Code(k_, m_, encode_tables_.data(), sources, outputs, shard_len);
}

Status ReedSolomon::Reconstruct(std::span<std::byte* const> shards, std::span<const bool> present,
                                size_t shard_len) const {
  const int n = k_ + m_;
  if (shards.size() != static_cast<size_t>(n) || present.size() != static_cast<size_t>(n)) {
    return InvalidArgumentError("Reed-Solomon reconstruct: " + std::to_string(shards.size()) +
                                " shard buffers and " + std::to_string(present.size()) +
                                " presence flags for k=" + std::to_string(k_) +
                                " m=" + std::to_string(m_));
  }
  const int available = static_cast<int>(std::count(present.begin(), present.end(), true));
  if (available < k_) {
    return DataLossError("Reed-Solomon: " + std::to_string(available) + " of " + std::to_string(n) +
                         " shards present, " + std::to_string(k_) + " needed");
  }
  if (available == n || shard_len == 0) return Status::Ok();
  for (int i = 0; i < n; ++i) {
    if (shards[i] == nullptr) {
      return InvalidArgumentError("Reed-Solomon reconstruct: shard " + std::to_string(i) +
                                  " has no buffer");
    }
  }

  // The first k present shards are the sources. Their generator rows form
  // a k × k matrix whose inverse maps them back to the data shards.
  const size_t k = static_cast<size_t>(k_);
  std::vector<uint8_t> rows_of_sources(k * k);
  std::vector<uint8_t> inverse(k * k);
  PointerArray sources;
  int s = 0;
  for (int i = 0; i < n && s < k_; ++i) {
    if (!present[i]) continue;
    std::copy_n(matrix_.begin() + i * k, k, rows_of_sources.begin() + s * k);
    sources[s++] = reinterpret_cast<uint8_t*>(shards[i]);
  }
  if (gf_invert_matrix(rows_of_sources.data(), inverse.data(), k_) != 0) {
    // Every square submatrix of a Cauchy generator is invertible.
    return InternalError("Reed-Solomon: decode matrix is singular");
  }

  // One decode row per missing shard: row j of the inverse for data shard
  // j; for parity shard i, its generator row times the inverse, which
  // computes the parity straight from the sources.
  const int missing = n - available;
  std::vector<uint8_t> decode_rows(static_cast<size_t>(missing) * k);
  PointerArray outputs;
  int e = 0;
  for (int i = 0; i < n; ++i) {
    if (present[i]) continue;
    uint8_t* row = decode_rows.data() + e * k;
    if (i < k_) {
      std::copy_n(inverse.begin() + i * k, k, row);
    } else {
      const uint8_t* generator = matrix_.data() + i * k;
      for (size_t c = 0; c < k; ++c) {
        uint8_t sum = 0;
        for (size_t j = 0; j < k; ++j) sum ^= gf_mul(generator[j], inverse[j * k + c]);
        row[c] = sum;
      }
    }
    outputs[e++] = reinterpret_cast<uint8_t*>(shards[i]);
  }
  std::vector<uint8_t> tables(kTableBytesPerCoefficient * k * missing);
  ec_init_tables(k_, missing, decode_rows.data(), tables.data());
  Code(k_, missing, tables.data(), sources, outputs, shard_len);
  return Status::Ok();
}

}  // namespace pxb
