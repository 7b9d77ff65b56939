// Fuzzes the shard format (doc/repository_format.md section 10):
// DecodeShardHeader and VerifyShard on a whole fuzzed shard, and EncodeShard
// on fuzzed header fields. A decoded header must satisfy every rule of the
// format and re-encode to the same bytes, checksum aside (and the version of
// a version 1 shard, which is rewritten as version 2); VerifyShard must
// accept exactly the shards whose checksum is the one the encoder writes, or
// for version 1 the SHA-256 of header and payload.
// The encoder must refuse exactly the fields the decoder refuses.
#include <cstring>

#include "core/coding.h"
#include "core/crypto/sha256.h"
#include "core/erasure/reed_solomon.h"
#include "format/shard_format.h"
#include "fuzz_common.h"

namespace pxb {
namespace {

void CheckHeader(const ShardHeader& h, ByteView object) {
  FUZZ_CHECK(h.scheme == ShardScheme::kReedSolomon || h.scheme == ShardScheme::kReplica,
             "unknown scheme accepted");
  FUZZ_CHECK(h.data_shards >= 1, "k=0 accepted");
  FUZZ_CHECK(h.total_shards() <= kMaxShardsPerObject, "k+m above the limit accepted");
  FUZZ_CHECK(h.index < h.total_shards(), "index outside the shards accepted");
  if (h.scheme == ShardScheme::kReplica) {
    FUZZ_CHECK(h.data_shards == 1, "replica with k other than 1 accepted");
    FUZZ_CHECK(h.payload_length == h.object_length, "replica payload is not the object");
  } else {
    FUZZ_CHECK(h.payload_length == ShardLength(h.object_length, h.data_shards),
               "payload length is not ceil(object length / k)");
  }
  FUZZ_CHECK(object.size() == kShardHeaderSize + h.payload_length, "size disagrees with header");
}

void FuzzRawShard(ByteView object) {
  auto decoded = DecodeShardHeader(object);
  auto verified = VerifyShard(object);
  if (!decoded.ok()) {
    FUZZ_CHECK(decoded.status().code() == StatusCode::kDataLoss, "decode error is not data loss");
    FUZZ_CHECK(verified.status() == decoded.status(), "verify and decode disagree");
    return;
  }
  CheckHeader(*decoded, object);
  auto again = EncodeShard(*decoded, ShardPayload(object));
  FUZZ_CHECK(again.ok(), "EncodeShard refused a decoded header");
  FUZZ_CHECK(again->size() == object.size(), "re-encoding has another size");
  // A version 1 shard is rewritten as version 2: bytes 8..9 differ.
  constexpr size_t kVersionOffset = 8;
  FUZZ_CHECK(std::memcmp(again->data(), object.data(), kVersionOffset) == 0 &&
                 std::memcmp(again->data() + kVersionOffset + 2, object.data() + kVersionOffset + 2,
                             kShardChecksumOffset - kVersionOffset - 2) == 0,
             "re-encoded header differs");
  if (object[kVersionOffset] == std::byte{1}) {
    // Version 1: the checksum field is SHA-256 of the header and payload.
    Sha256Hasher hasher;
    hasher.Update(object.first(kShardChecksumOffset));
    hasher.Update(ShardPayload(object));
    const Sha256Digest digest = hasher.Finish();
    const bool matches =
        std::memcmp(digest.data(), object.data() + kShardChecksumOffset, digest.size()) == 0;
    FUZZ_CHECK(verified.ok() == matches, "version 1 verification disagrees with SHA-256");
    if (verified.ok()) {
      FUZZ_CHECK(*verified == *decoded, "verify and decode return different headers");
    } else {
      FUZZ_CHECK(verified.status().code() == StatusCode::kDataLoss,
                 "verify error is not data loss");
    }
    return;
  }
  const bool same = std::memcmp(again->data(), object.data(), object.size()) == 0;
  if (verified.ok()) {
    FUZZ_CHECK(same, "a shard passed verification with another checksum than the encoder's");
    FUZZ_CHECK(*verified == *decoded, "verify and decode return different headers");
  } else {
    FUZZ_CHECK(!same, "verification refused a shard the encoder writes");
    FUZZ_CHECK(verified.status().code() == StatusCode::kDataLoss, "verify error is not data loss");
  }
}

// The fields written at their offsets, as the encoder would, checksum zero.
Bytes HandWritten(const ShardHeader& h, ByteView payload) {
  Bytes out;
  ByteWriter w(out);
  w.PutRaw(kShardMagic);
  w.PutU8(static_cast<uint8_t>(kShardVersion));
  w.PutU8(static_cast<uint8_t>(kShardVersion >> 8));
  w.PutU8(static_cast<uint8_t>(h.scheme));
  w.PutU8(h.index);
  w.PutU8(h.data_shards);
  w.PutU8(h.parity_shards);
  w.PutU8(0);
  w.PutU8(0);
  w.PutLe64(h.object_length);
  w.PutLe64(h.payload_length);
  w.PutRaw(h.object.bytes());
  out.resize(kShardHeaderSize);
  w.PutRaw(payload);
  return out;
}

void FuzzFields(ByteView input) {
  if (input.size() < fuzz::kShardFieldsSize) return;
  ShardHeader h;
  h.scheme = static_cast<ShardScheme>(input[0]);
  h.index = static_cast<uint8_t>(input[1]);
  h.data_shards = static_cast<uint8_t>(input[2]);
  h.parity_shards = static_cast<uint8_t>(input[3]);
  h.object_length = LoadLe64(input.data() + 4);
  ByteView payload = input.subspan(fuzz::kShardFieldsSize);
  h.payload_length = payload.size();
  h.object = HashObjectName("data/00/fuzz");

  auto shard = EncodeShard(h, payload);
  const Bytes by_hand = HandWritten(h, payload);
  auto decoded = DecodeShardHeader(by_hand);
  if (!shard.ok()) {
    FUZZ_CHECK(shard.status().code() == StatusCode::kInvalidArgument,
               "encode error is not invalid argument");
    FUZZ_CHECK(!decoded.ok(), "the decoder accepts fields the encoder refuses");
    return;
  }
  FUZZ_CHECK(decoded.ok(), "the decoder refuses fields the encoder accepts");
  FUZZ_CHECK(*decoded == h, "hand-written fields decode differently");
  auto verified = VerifyShard(*shard);
  FUZZ_CHECK(verified.ok(), "an encoded shard does not verify");
  FUZZ_CHECK(*verified == h, "an encoded shard decodes to another header");
  FUZZ_CHECK(std::memcmp(shard->data(), by_hand.data(), kShardChecksumOffset) == 0,
             "encoder puts fields at other offsets");
  FUZZ_CHECK(std::memcmp(ShardPayload(*shard).data(), payload.data(), payload.size()) == 0,
             "encoded payload differs");

  Bytes in_place(kShardHeaderSize);
  Append(in_place, payload);
  FUZZ_CHECK(WriteShardHeader(h, in_place).ok(), "WriteShardHeader refuses what EncodeShard took");
  FUZZ_CHECK(in_place == *shard, "WriteShardHeader and EncodeShard differ");
}

}  // namespace
}  // namespace pxb

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace pxb;
  if (size < 1) return 0;
  ByteView rest = fuzz::AsView(data + 1, size - 1);
  if (fuzz::ModeOf(data[0]) == fuzz::kShardModeFields) {
    FuzzFields(rest);
  } else {
    FuzzRawShard(rest);
  }
  return 0;
}
