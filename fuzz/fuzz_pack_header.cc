// Fuzzes the pack readers: DecodePackPrefix, PackHeaderReadSize and
// DecodePackHeader on a whole fuzzed pack, and the header plaintext parser
// behind the AEAD by sealing a fuzzed plaintext into a pack with the fixed
// key. A decoded header must describe blobs that tile the blob area exactly,
// and re-encode to no more bytes, identical when as long.
#include <array>
#include <cstring>

#include "core/coding.h"
#include "core/crypto/random.h"
#include "format/pack_format.h"
#include "fuzz_common.h"

namespace pxb {
namespace {

void CheckBlobs(const std::vector<PackBlob>& blobs, uint64_t header_offset) {
  uint64_t offset = kPackPrefixSize;
  fuzz::FrameMembersCheck frames;
  for (const PackBlob& b : blobs) {
    FUZZ_CHECK(b.raw_length <= kMaxBlobRawLength, "raw length above the limit");
    FUZZ_CHECK(b.dictionary <= kMaxPackDictionaries, "dictionary number above the limit");
    if (frames.Member(b)) continue;
    FUZZ_CHECK(b.offset == offset, "blobs do not follow each other");
    FUZZ_CHECK(b.stored_length >= Aead::kTagSize, "blob shorter than its tag");
    offset += b.stored_length;
  }
  frames.Finish();
  FUZZ_CHECK(offset == header_offset, "blobs do not end where the header starts");
}

// The header plaintext of doc/repository_format.md section 5.
Bytes EncodeHeader(uint8_t version, const std::vector<PackBlob>& blobs) {
  Bytes out;
  ByteWriter w(out);
  w.PutU8(version);
  w.PutVarint(blobs.size());
  EncodePackEntries(blobs, /*with_offset=*/false, w);
  return out;
}

void FuzzRawPack(AeadAlgorithm alg, ByteView pack) {
  auto salt = DecodePackPrefix(pack);
  auto read_size = PackHeaderReadSize(pack, pack.size());
  if (read_size.ok()) {
    FUZZ_CHECK(*read_size <= pack.size() - kPackPrefixSize, "header overlaps the prefix");
  }
  if (!salt.ok()) return;
  auto blobs = DecodePackHeader(alg, fuzz::DataKey(), *salt, pack, pack.size());
  if (!blobs.ok()) {
    FUZZ_CHECK(blobs.status().code() == StatusCode::kDataLoss, "decode error is not data loss");
    return;
  }
  CheckBlobs(*blobs, pack.size() - *read_size);
}

void FuzzHeaderPlaintext(AeadAlgorithm alg, ByteView input) {
  if (input.size() < 3) return;
  // Up to 1 MiB of blob area keeps inputs fast.
  const size_t blob_area = (static_cast<size_t>(input[0]) | static_cast<size_t>(input[1]) << 8 |
                            static_cast<size_t>(input[2]) << 16) &
                           0xfffff;
  ByteView header = input.subspan(3);
  const Salt salt = fuzz::PackSalt();
  Bytes pack;
  ByteWriter w(pack);
  w.PutRaw(kPackMagic);
  w.PutU8(kPackVersion);
  w.PutRaw(salt);
  pack.resize(kPackPrefixSize + blob_area);  // blob bytes do not matter to the header
  auto key = DeriveObjectKey(fuzz::DataKey(), salt);
  FUZZ_CHECK(key.ok(), "no object key");
  auto aead = Aead::Create(alg, *key);
  FUZZ_CHECK(aead.ok(), "no cipher");
  std::array<std::byte, 24> nonce_buf{};
  MutableByteView nonce(nonce_buf.data(), (*aead)->NonceSize());
  MakeNonce(kNonceDomainPackHeader, 0, nonce);
  const size_t header_offset = pack.size();
  pack.resize(header_offset + header.size() + Aead::kTagSize);
  FUZZ_CHECK((*aead)
                 ->Seal(nonce, ByteView(pack).first(kPackPrefixSize), header,
                        MutableByteView(pack).subspan(header_offset))
                 .ok(),
             "seal failed");
  ByteWriter tw(pack);
  tw.PutLe32(static_cast<uint32_t>(header.size() + Aead::kTagSize));
  tw.PutRaw(kPackTrailerMagic);

  auto blobs = DecodePackHeader(alg, fuzz::DataKey(), salt, pack, pack.size());
  if (!blobs.ok()) {
    FUZZ_CHECK(blobs.status().code() == StatusCode::kDataLoss, "decode error is not data loss");
    return;
  }
  CheckBlobs(*blobs, header_offset);
  Bytes again = EncodeHeader(static_cast<uint8_t>(header[0]), *blobs);
  FUZZ_CHECK(again.size() <= header.size(), "re-encoding is longer than the header");
  if (again.size() == header.size()) {
    FUZZ_CHECK(std::memcmp(again.data(), header.data(), header.size()) == 0, "re-encoding differs");
  }
}

}  // namespace
}  // namespace pxb

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  FUZZ_CHECK(pxb::InitCrypto().ok(), "crypto initialisation failed");
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace pxb;
  if (size < 1) return 0;
  const AeadAlgorithm alg = fuzz::CipherOf(data[0]);
  ByteView rest = fuzz::AsView(data + 1, size - 1);
  if (fuzz::ModeOf(data[0]) == fuzz::kPackModePlaintext) {
    FuzzHeaderPlaintext(alg, rest);
  } else {
    FuzzRawPack(alg, rest);
  }
  return 0;
}
