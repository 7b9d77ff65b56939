// Throughput of the hot-path primitives on 1 MiB buffers (and 4 KiB, where
// per-call overhead shows).

#include <benchmark/benchmark.h>

#include "core/crypto/aead.h"
#include "core/crypto/hmac.h"
#include "core/crypto/random.h"
#include "core/crypto/sha256.h"

namespace pxb {
namespace {

Bytes RandomBuffer(size_t n) {
  Bytes b(n);
  RandomBytes(b);
  return b;
}

void BM_Sha256(benchmark::State& state) {
  const Bytes data = RandomBuffer(static_cast<size_t>(state.range(0)));
  for (auto _ : state) {
    Sha256Digest d = Sha256(data);
    benchmark::DoNotOptimize(d);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * state.range(0));
}
BENCHMARK(BM_Sha256)->Arg(4 << 10)->Arg(1 << 20);

void BM_HmacSha256(benchmark::State& state) {
  const Bytes data = RandomBuffer(static_cast<size_t>(state.range(0)));
  const HmacSha256 mac(SecretKey::Random());
  for (auto _ : state) {
    Sha256Digest d = mac.Compute(data);
    benchmark::DoNotOptimize(d);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * state.range(0));
}
BENCHMARK(BM_HmacSha256)->Arg(4 << 10)->Arg(1 << 20);

void BM_AeadSeal(benchmark::State& state, AeadAlgorithm algorithm) {
  const size_t size = static_cast<size_t>(state.range(0));
  const Bytes plaintext = RandomBuffer(size);
  Bytes sealed(size + Aead::kTagSize);
  auto aead = Aead::Create(algorithm, SecretKey::Random());
  if (!aead.ok()) {
    state.SkipWithError(aead.status().ToString().c_str());
    return;
  }
  Bytes nonce((*aead)->NonceSize());
  uint64_t counter = 0;
  for (auto _ : state) {
    MakeNonce(0, counter++, nonce);
    if (!(*aead)->Seal(nonce, {}, plaintext, sealed).ok()) {
      state.SkipWithError("Seal failed");
      break;
    }
    benchmark::DoNotOptimize(sealed.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * state.range(0));
}

void BM_AeadOpen(benchmark::State& state, AeadAlgorithm algorithm) {
  const size_t size = static_cast<size_t>(state.range(0));
  const Bytes plaintext = RandomBuffer(size);
  Bytes sealed(size + Aead::kTagSize);
  Bytes opened(size);
  auto aead = Aead::Create(algorithm, SecretKey::Random());
  if (!aead.ok()) {
    state.SkipWithError(aead.status().ToString().c_str());
    return;
  }
  Bytes nonce((*aead)->NonceSize());
  MakeNonce(0, 0, nonce);
  if (!(*aead)->Seal(nonce, {}, plaintext, sealed).ok()) {
    state.SkipWithError("Seal failed");
    return;
  }
  for (auto _ : state) {
    if (!(*aead)->Open(nonce, {}, sealed, opened).ok()) {
      state.SkipWithError("Open failed");
      break;
    }
    benchmark::DoNotOptimize(opened.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * state.range(0));
}

BENCHMARK_CAPTURE(BM_AeadSeal, aes_256_gcm, AeadAlgorithm::kAes256Gcm)->Arg(4 << 10)->Arg(1 << 20);
BENCHMARK_CAPTURE(BM_AeadOpen, aes_256_gcm, AeadAlgorithm::kAes256Gcm)->Arg(4 << 10)->Arg(1 << 20);
BENCHMARK_CAPTURE(BM_AeadSeal, xchacha20_poly1305, AeadAlgorithm::kXChaCha20Poly1305)
    ->Arg(4 << 10)
    ->Arg(1 << 20);
BENCHMARK_CAPTURE(BM_AeadOpen, xchacha20_poly1305, AeadAlgorithm::kXChaCha20Poly1305)
    ->Arg(4 << 10)
    ->Arg(1 << 20);

}  // namespace
}  // namespace pxb
