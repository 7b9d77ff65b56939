#include "format/pack_format.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "core/coding.h"
#include "core/compress/zstd_codec.h"
#include "core/crypto/random.h"
#include "core/crypto/sha256.h"
#include "format/testing/format_testing.h"
#include "storage/testing/status_testing.h"

namespace pxb {
namespace {

using ::testing::HasSubstr;

// One blob as a test writes it: the stored payload and what the header says.
struct TestBlob {
  std::string raw;
  bool compressed = false;
  Bytes payload;  // zstd frame of raw, or raw
};

TestBlob MakeBlob(std::string raw, bool compressed) {
  TestBlob b;
  b.raw = std::move(raw);
  b.compressed = compressed;
  if (compressed) {
    auto frame = ZstdCompressAll(AsBytes(b.raw), 3);
    b.payload = frame.ok() ? *frame : Bytes();
  } else {
    b.payload = ToBytes(b.raw);
  }
  return b;
}

std::vector<TestBlob> SampleBlobs() {
  std::vector<TestBlob> blobs;
  blobs.push_back(MakeBlob("first blob, stored raw", false));
  blobs.push_back(MakeBlob(std::string(3000, 'z') + "compressible tail", true));
  blobs.push_back(MakeBlob("", false));
  blobs.push_back(MakeBlob("last blob", true));
  return blobs;
}

// The header plaintext of section 5, written field by field.
Bytes HeaderPlaintext(const std::vector<PackBlob>& blobs, uint8_t version = 1) {
  Bytes out;
  ByteWriter w(out);
  w.PutU8(version);
  w.PutVarint(blobs.size());
  for (const PackBlob& b : blobs) {
    w.PutU8(static_cast<uint8_t>(b.type));
    w.PutU8(static_cast<uint8_t>((b.compressed ? 1 : 0) | (b.dictionary << 1)));
    w.PutVarint(b.stored_length);
    w.PutVarint(b.raw_length);
    w.PutRaw(b.id.bytes());
  }
  return out;
}

void FillNonce(AeadAlgorithm alg, uint32_t domain, uint64_t counter, std::array<std::byte, 24>& buf,
               MutableByteView& nonce) {
  buf.fill(std::byte{0});
  nonce = MutableByteView(buf.data(), AeadNonceSize(alg));
  MakeNonce(domain, counter, nonce);
}

// A pack built by the letter of repository_format.md section 5 from the
// crypto primitives, independent of PackBuilder. `header` is the header
// plaintext, sealed as given (so a test can seal an inconsistent one).
Bytes HandBuiltPack(AeadAlgorithm alg, const SecretKey& data_key, const Salt& salt,
                    const std::vector<Bytes>& payloads, ByteView header) {
  Bytes pack;
  ByteWriter w(pack);
  w.PutRaw(std::string_view("PXBPACK"));
  w.PutU8(1);
  w.PutRaw(salt);
  auto key = DeriveObjectKey(data_key, salt);
  EXPECT_OK(key);
  auto aead = Aead::Create(alg, *key);
  EXPECT_OK(aead);
  std::array<std::byte, 24> buf;
  MutableByteView nonce;
  for (const Bytes& p : payloads) {
    const size_t offset = pack.size();
    FillNonce(alg, 0, offset, buf, nonce);
    pack.resize(offset + p.size() + 16);
    EXPECT_OK((*aead)->Seal(nonce, {}, p, MutableByteView(pack).subspan(offset)));
  }
  const size_t header_offset = pack.size();
  FillNonce(alg, 1, 0, buf, nonce);
  pack.resize(header_offset + header.size() + 16);
  EXPECT_OK((*aead)->Seal(nonce, ByteView(pack).first(40), header,
                          MutableByteView(pack).subspan(header_offset)));
  w.PutLe32(static_cast<uint32_t>(header.size() + 16));
  w.PutRaw(std::string_view("PXBE"));
  return pack;
}

// What the header of a well-formed pack of `blobs` lists.
std::vector<PackBlob> ExpectedBlobs(const std::vector<TestBlob>& blobs, BlobType type) {
  std::vector<PackBlob> out;
  uint32_t offset = 40;
  for (const TestBlob& b : blobs) {
    PackBlob pb;
    pb.type = type;
    pb.compressed = b.compressed;
    pb.offset = offset;
    pb.stored_length = static_cast<uint32_t>(b.payload.size() + 16);
    pb.raw_length = static_cast<uint32_t>(b.raw.size());
    pb.id = TestId(b.raw);
    offset += pb.stored_length;
    out.push_back(pb);
  }
  return out;
}

std::vector<Bytes> Payloads(const std::vector<TestBlob>& blobs) {
  std::vector<Bytes> out;
  for (const TestBlob& b : blobs) out.push_back(b.payload);
  return out;
}

// Reads a pack completely as a reader would: prefix, header, every blob.
Status VerifyPack(AeadAlgorithm alg, const SecretKey& data_key, ByteView pack,
                  std::vector<Bytes>* payloads = nullptr) {
  PXB_ASSIGN_OR_RETURN(Salt salt, DecodePackPrefix(pack));
  PXB_ASSIGN_OR_RETURN(std::vector<PackBlob> blobs,
                       DecodePackHeader(alg, data_key, salt, pack, pack.size()));
  PXB_ASSIGN_OR_RETURN(SecretKey key, DeriveObjectKey(data_key, salt));
  PXB_ASSIGN_OR_RETURN(auto aead, Aead::Create(alg, key));
  for (const PackBlob& b : blobs) {
    if (uint64_t{b.offset} + b.stored_length > pack.size()) return InternalError("blob past end");
    Bytes out(b.payload_length());
    PXB_RETURN_IF_ERROR(OpenBlob(*aead, b.offset, pack.subspan(b.offset, b.stored_length), out));
    if (payloads != nullptr) payloads->push_back(std::move(out));
  }
  return Status::Ok();
}

class PackTest : public testing::TestWithParam<AeadAlgorithm> {
 protected:
  void SetUp() override { ASSERT_OK(InitCrypto()); }
  AeadAlgorithm alg() const { return GetParam(); }

  FinishedPack Build(const std::vector<TestBlob>& blobs, BlobType type = BlobType::kData,
                     std::unique_ptr<StagedBytes> staged = nullptr) {
    auto builder = PackBuilder::Create(alg(), key_, type, 0, {}, std::move(staged));
    EXPECT_OK(builder);
    for (const TestBlob& b : blobs) {
      EXPECT_OK((*builder)->Add(TestId(b.raw), static_cast<uint32_t>(b.raw.size()), b.compressed,
                                b.payload));
    }
    auto done = (*builder)->Finish();
    EXPECT_OK(done);
    return std::move(*done);
  }

  const SecretKey key_ = TestKey(1);
};

TEST_P(PackTest, BuilderListsBlobsContiguouslyFromTheSalt) {
  const auto blobs = SampleBlobs();
  FinishedPack pack = Build(blobs);
  EXPECT_EQ(pack.blobs, ExpectedBlobs(blobs, BlobType::kData));
  EXPECT_EQ(pack.id, PackId(ByteView(Sha256(pack.bytes))));
}

TEST_P(PackTest, StructureFollowsTheFormat) {
  const auto blobs = SampleBlobs();
  FinishedPack pack = Build(blobs);
  ByteView bytes(pack.bytes);
  EXPECT_EQ(AsChars(bytes.first(7)), "PXBPACK");
  EXPECT_EQ(bytes[7], std::byte{1});
  EXPECT_EQ(ToBytes(bytes.subspan(8, 32)), ToBytes(pack.salt));
  EXPECT_EQ(AsChars(bytes.last(4)), "PXBE");
  const uint32_t header_length = LoadLe32(bytes.data() + bytes.size() - 8);
  const size_t blob_end = pack.blobs.back().offset + pack.blobs.back().stored_length;
  // Header plaintext: version, count varint, 36+ bytes per blob, plus the tag.
  EXPECT_EQ(blob_end + header_length + 8, bytes.size());
  EXPECT_EQ(header_length, HeaderPlaintext(pack.blobs).size() + 16);
}

TEST_P(PackTest, BuilderOutputEqualsAPackBuiltFromTheFormat) {
  for (BlobType type : {BlobType::kData, BlobType::kTree}) {
    const auto blobs = SampleBlobs();
    FinishedPack pack = Build(blobs, type);
    Bytes expected = HandBuiltPack(alg(), key_, pack.salt, Payloads(blobs),
                                   HeaderPlaintext(ExpectedBlobs(blobs, type)));
    EXPECT_EQ(ToBytes(ByteView(pack.bytes)), expected) << BlobTypeName(type);
  }
}

TEST_P(PackTest, DecodesHeaderFromWholePackAndFromTail) {
  const auto blobs = SampleBlobs();
  FinishedPack pack = Build(blobs, BlobType::kTree);
  ByteView bytes(pack.bytes);
  auto salt = DecodePackPrefix(bytes.first(kPackPrefixSize));
  ASSERT_OK(salt);
  EXPECT_EQ(*salt, pack.salt);

  auto whole = DecodePackHeader(alg(), key_, *salt, bytes, bytes.size());
  ASSERT_OK(whole);
  EXPECT_EQ(*whole, pack.blobs);

  auto read_size = PackHeaderReadSize(bytes.last(kPackTrailerSize), bytes.size());
  ASSERT_OK(read_size);
  EXPECT_EQ(*read_size, LoadLe32(bytes.data() + bytes.size() - 8) + kPackTrailerSize);
  auto from_tail = DecodePackHeader(alg(), key_, *salt, bytes.last(*read_size), bytes.size());
  ASSERT_OK(from_tail);
  EXPECT_EQ(*from_tail, pack.blobs);
  // A longer tail works too; one byte short does not.
  auto longer = DecodePackHeader(alg(), key_, *salt, bytes.last(*read_size + 7), bytes.size());
  ASSERT_OK(longer);
  EXPECT_EQ(*longer, pack.blobs);
  EXPECT_EQ(CodeOf(DecodePackHeader(alg(), key_, *salt, bytes.last(*read_size - 1), bytes.size())),
            StatusCode::kDataLoss);
}

TEST_P(PackTest, OpensEveryBlobAtItsOffset) {
  const auto blobs = SampleBlobs();
  FinishedPack pack = Build(blobs);
  auto key = DeriveObjectKey(key_, pack.salt);
  ASSERT_OK(key);
  auto aead = Aead::Create(alg(), *key);
  ASSERT_OK(aead);
  ASSERT_EQ(pack.blobs.size(), blobs.size());
  for (size_t i = 0; i < blobs.size(); ++i) {
    const PackBlob& b = pack.blobs[i];
    Bytes payload(b.payload_length());
    ASSERT_OK(OpenBlob(**aead, b.offset, ByteView(pack.bytes).subspan(b.offset, b.stored_length),
                       payload));
    EXPECT_EQ(payload, blobs[i].payload);
    if (b.compressed) {
      auto raw = ZstdDecompressAll(payload, b.raw_length);
      ASSERT_OK(raw);
      EXPECT_EQ(ToString(*raw), blobs[i].raw);
    } else {
      EXPECT_EQ(ToString(payload), blobs[i].raw);
    }
  }
}

// A blob moved to another offset (inside the pack or into another pack at
// the same offset) does not authenticate: the offset is the nonce.
TEST_P(PackTest, BlobOpenedAtAnotherOffsetOrWithAnotherSaltIsDataLoss) {
  const auto blobs = SampleBlobs();
  FinishedPack pack = Build(blobs);
  FinishedPack other = Build(blobs);
  auto key = DeriveObjectKey(key_, pack.salt);
  ASSERT_OK(key);
  auto aead = Aead::Create(alg(), *key);
  ASSERT_OK(aead);
  const PackBlob& b = pack.blobs[1];
  ByteView stored = ByteView(pack.bytes).subspan(b.offset, b.stored_length);
  Bytes out(b.payload_length());
  EXPECT_EQ(OpenBlob(**aead, b.offset + 1, stored, out).code(), StatusCode::kDataLoss);
  EXPECT_EQ(OpenBlob(**aead, pack.blobs[0].offset, stored, out).code(), StatusCode::kDataLoss);
  auto other_key = DeriveObjectKey(key_, other.salt);
  ASSERT_OK(other_key);
  auto other_aead = Aead::Create(alg(), *other_key);
  ASSERT_OK(other_aead);
  EXPECT_EQ(OpenBlob(**other_aead, b.offset, stored, out).code(), StatusCode::kDataLoss);
}

TEST_P(PackTest, EveryFlippedByteIsDataLoss) {
  const auto blobs = SampleBlobs();
  FinishedPack pack = Build(blobs);
  ASSERT_OK(VerifyPack(alg(), key_, pack.bytes));
  for (size_t i = 0; i < pack.bytes.size(); ++i) {
    Bytes damaged = ToBytes(ByteView(pack.bytes));
    damaged[i] ^= std::byte{0x01};
    EXPECT_EQ(VerifyPack(alg(), key_, damaged).code(), StatusCode::kDataLoss) << "byte " << i;
  }
}

TEST_P(PackTest, DamageIsReportedByThePartThatHoldsIt) {
  const auto blobs = SampleBlobs();
  FinishedPack pack = Build(blobs);
  const PackBlob& last = pack.blobs.back();
  const size_t header_offset = last.offset + last.stored_length;
  for (size_t i = 0; i < pack.bytes.size(); ++i) {
    Bytes damaged = ToBytes(ByteView(pack.bytes));
    damaged[i] ^= std::byte{0x80};
    auto salt = DecodePackPrefix(damaged);
    if (i < 8) {
      EXPECT_EQ(CodeOf(salt), StatusCode::kDataLoss) << "byte " << i;
      continue;
    }
    ASSERT_OK(salt);
    auto header = DecodePackHeader(alg(), key_, *salt, damaged, damaged.size());
    if (i < 40 || i >= header_offset) {
      // The salt is the header's AAD and the object key's salt.
      EXPECT_EQ(CodeOf(header), StatusCode::kDataLoss) << "byte " << i;
    } else {
      // Blob bytes: the header is intact, the blob holding the byte is not.
      ASSERT_OK(header);
      EXPECT_EQ(VerifyPack(alg(), key_, damaged).code(), StatusCode::kDataLoss) << "byte " << i;
    }
  }
}

TEST_P(PackTest, EveryTruncationIsDataLoss) {
  FinishedPack pack = Build(SampleBlobs());
  for (size_t n = 0; n < pack.bytes.size(); ++n) {
    EXPECT_EQ(VerifyPack(alg(), key_, ByteView(pack.bytes).first(n)).code(), StatusCode::kDataLoss)
        << "length " << n;
  }
  // Cutting bytes off the front leaves a valid trailer but a wrong size.
  ByteView bytes(pack.bytes);
  for (size_t cut = 1; cut < 48; ++cut) {
    ByteView tail = bytes.subspan(cut);
    EXPECT_EQ(CodeOf(DecodePackHeader(alg(), key_, pack.salt, tail, tail.size())),
              StatusCode::kDataLoss);
  }
}

TEST_P(PackTest, WrongKeySaltOrCipherIsDataLoss) {
  FinishedPack pack = Build(SampleBlobs());
  ByteView bytes(pack.bytes);
  EXPECT_EQ(CodeOf(DecodePackHeader(alg(), TestKey(9), pack.salt, bytes, bytes.size())),
            StatusCode::kDataLoss);
  EXPECT_EQ(CodeOf(DecodePackHeader(alg(), key_, TestSalt(9), bytes, bytes.size())),
            StatusCode::kDataLoss);
  AeadAlgorithm other = alg() == AeadAlgorithm::kAes256Gcm ? AeadAlgorithm::kXChaCha20Poly1305
                                                           : AeadAlgorithm::kAes256Gcm;
  EXPECT_EQ(CodeOf(DecodePackHeader(other, key_, pack.salt, bytes, bytes.size())),
            StatusCode::kDataLoss);
  // A salt of the wrong size is refused, not read past.
  EXPECT_EQ(CodeOf(DecodePackHeader(alg(), key_, bytes.subspan(8, 16), bytes, bytes.size())),
            StatusCode::kDataLoss);
}

TEST_P(PackTest, EmptyPackRoundTrips) {
  FinishedPack pack = Build({});
  EXPECT_TRUE(pack.blobs.empty());
  EXPECT_OK(VerifyPack(alg(), key_, pack.bytes));
  auto blobs = DecodePackHeader(alg(), key_, pack.salt, pack.bytes, pack.bytes.size());
  ASSERT_OK(blobs);
  EXPECT_TRUE(blobs->empty());
}

// Headers that authenticate but do not describe the pack: a writer bug must
// not turn into out-of-range reads.
TEST_P(PackTest, AuthenticButInconsistentHeaderIsDataLoss) {
  const auto blobs = SampleBlobs();
  const Salt salt = TestSalt(1);
  const std::vector<PackBlob> good = ExpectedBlobs(blobs, BlobType::kData);
  auto decode = [&](const std::vector<PackBlob>& listed, uint8_t version = 1,
                    std::string_view extra = "") {
    Bytes header = HeaderPlaintext(listed, version);
    Append(header, AsBytes(extra));
    Bytes pack = HandBuiltPack(alg(), key_, salt, Payloads(blobs), header);
    return DecodePackHeader(alg(), key_, salt, pack, pack.size());
  };
  ASSERT_OK(decode(good));
  EXPECT_EQ(*decode(good), good);

  // Version 2 only with dictionaries, so that every header has one encoding.
  EXPECT_EQ(CodeOf(decode(good, /*version=*/2)), StatusCode::kDataLoss);
  EXPECT_EQ(CodeOf(decode(good, /*version=*/3)), StatusCode::kDataLoss);
  EXPECT_EQ(CodeOf(decode(good, 1, "x")), StatusCode::kDataLoss);  // trailing byte

  auto changed = [&](auto edit) {
    std::vector<PackBlob> listed = good;
    edit(listed);
    return decode(listed);
  };
  EXPECT_EQ(CodeOf(changed([](auto& l) { l[1].type = static_cast<BlobType>(3); })),
            StatusCode::kDataLoss);
  EXPECT_EQ(CodeOf(changed([](auto& l) { l[1].type = static_cast<BlobType>(0); })),
            StatusCode::kDataLoss);
  EXPECT_EQ(CodeOf(changed([](auto& l) { l.pop_back(); })), StatusCode::kDataLoss);  // gap
  EXPECT_EQ(CodeOf(changed([](auto& l) { l[0].stored_length += 1; })), StatusCode::kDataLoss);
  EXPECT_EQ(CodeOf(changed([](auto& l) { l[0].stored_length -= 1; })), StatusCode::kDataLoss);
  EXPECT_EQ(CodeOf(changed([](auto& l) { l.push_back(l.back()); })), StatusCode::kDataLoss);
  EXPECT_EQ(CodeOf(changed([](auto& l) { l[0].raw_length = kMaxBlobRawLength + 1; })),
            StatusCode::kDataLoss);
  // Blob 2 is empty: 16 bytes stored. Shorter than a tag is impossible.
  EXPECT_EQ(CodeOf(changed([](auto& l) {
              l[2].stored_length = 15;
              l[3].stored_length += 1;
            })),
            StatusCode::kDataLoss);

  // Unknown flag bits.
  Bytes header = HeaderPlaintext(good);
  header[2 + 1] = std::byte{0x02};  // version, count, then blob 0's type and flags
  Bytes pack = HandBuiltPack(alg(), key_, salt, Payloads(blobs), header);
  EXPECT_EQ(CodeOf(DecodePackHeader(alg(), key_, salt, pack, pack.size())), StatusCode::kDataLoss);

  // A count larger than the entries that follow.
  header = HeaderPlaintext(good);
  header[1] = std::byte{100};
  pack = HandBuiltPack(alg(), key_, salt, Payloads(blobs), header);
  EXPECT_EQ(CodeOf(DecodePackHeader(alg(), key_, salt, pack, pack.size())), StatusCode::kDataLoss);
}

// A pack with dictionaries: the dictionary is an entry of type 3 in pack
// order, and blobs name it by number in flag bits 1-2 of a version 2 header.
TEST_P(PackTest, DictionariesAreEntriesThatLaterBlobsName) {
  const std::string dictionary = "dictionary bytes, as zstd would train them";
  const auto blobs = SampleBlobs();
  auto builder = PackBuilder::Create(alg(), key_, BlobType::kData);
  ASSERT_OK(builder);
  ASSERT_OK((*builder)->Add(TestId(blobs[0].raw), 22, false, blobs[0].payload));
  auto number = (*builder)->AddDictionary(TestId(dictionary), AsBytes(dictionary));
  ASSERT_OK(number);
  EXPECT_EQ(*number, 1);
  ASSERT_OK((*builder)->Add(TestId(blobs[1].raw), static_cast<uint32_t>(blobs[1].raw.size()), true,
                            blobs[1].payload, /*dictionary=*/1));
  EXPECT_EQ((*builder)->Add(TestId("x"), 1, true, AsBytes("x"), 2).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ((*builder)->Add(TestId("x"), 1, false, AsBytes("x"), 1).code(),
            StatusCode::kInvalidArgument);
  auto done = (*builder)->Finish();
  ASSERT_OK(done);

  std::vector<PackBlob> expected;
  PackBlob first = ExpectedBlobs({blobs[0]}, BlobType::kData)[0];
  PackBlob entry;
  entry.type = BlobType::kDictionary;
  entry.offset = first.offset + first.stored_length;
  entry.stored_length = static_cast<uint32_t>(dictionary.size() + 16);
  entry.raw_length = static_cast<uint32_t>(dictionary.size());
  entry.id = TestId(dictionary);
  PackBlob second = ExpectedBlobs({blobs[1]}, BlobType::kData)[0];
  second.offset = entry.offset + entry.stored_length;
  second.dictionary = 1;
  expected = {first, entry, second};
  EXPECT_EQ(done->blobs, expected);
  Bytes hand = HandBuiltPack(alg(), key_, done->salt,
                             {blobs[0].payload, ToBytes(dictionary), blobs[1].payload},
                             HeaderPlaintext(expected, /*version=*/2));
  EXPECT_EQ(ToBytes(ByteView(done->bytes)), hand);
  std::vector<Bytes> payloads;
  ASSERT_OK(VerifyPack(alg(), key_, done->bytes, &payloads));
  EXPECT_EQ(payloads[1], ToBytes(dictionary));

  // What a reader must refuse, each sealed correctly.
  auto decode = [&](const std::vector<PackBlob>& listed, uint8_t version) {
    Bytes pack = HandBuiltPack(alg(), key_, done->salt,
                               {blobs[0].payload, ToBytes(dictionary), blobs[1].payload},
                               HeaderPlaintext(listed, version));
    return DecodePackHeader(alg(), key_, done->salt, pack, pack.size());
  };
  ASSERT_OK(decode(expected, 2));
  EXPECT_EQ(CodeOf(decode(expected, 1)), StatusCode::kDataLoss);
  auto changed = [&](auto edit) {
    std::vector<PackBlob> listed = expected;
    edit(listed);
    return CodeOf(decode(listed, 2));
  };
  EXPECT_EQ(changed([](auto& l) { l[2].dictionary = 2; }), StatusCode::kDataLoss);
  EXPECT_EQ(changed([](auto& l) { l[2].compressed = false; }), StatusCode::kDataLoss);
  EXPECT_EQ(changed([](auto& l) { l[0].dictionary = 1; }), StatusCode::kDataLoss);  // before it
  EXPECT_EQ(changed([](auto& l) {
              l[1].compressed = true;
              l[1].dictionary = 1;
            }),
            StatusCode::kDataLoss);  // a dictionary needs no dictionary
  EXPECT_EQ(changed([](auto& l) { l[1].raw_length -= 1; }), StatusCode::kDataLoss);
}

// A dictionary may be stored as a zstd frame of itself (compressed flag, no
// dictionary bits): its raw length is then the dictionary's, not the frame's.
TEST_P(PackTest, ADictionaryMayBeStoredCompressed) {
  const std::string dictionary(3000, 'd');
  const std::string frame = "a zstd frame of the dictionary";
  auto builder = PackBuilder::Create(alg(), key_, BlobType::kData);
  ASSERT_OK(builder);
  auto number = (*builder)->AddDictionary(TestId(dictionary), AsBytes(dictionary), AsBytes(frame));
  ASSERT_OK(number);
  EXPECT_EQ(*number, 1);
  auto done = (*builder)->Finish();
  ASSERT_OK(done);
  ASSERT_EQ(done->blobs.size(), 1u);
  const PackBlob& entry = done->blobs[0];
  EXPECT_EQ(entry.type, BlobType::kDictionary);
  EXPECT_TRUE(entry.compressed);
  EXPECT_EQ(entry.dictionary, 0);
  EXPECT_EQ(entry.raw_length, dictionary.size());
  EXPECT_EQ(entry.stored_length, frame.size() + 16);
  auto decoded = DecodePackHeader(alg(), key_, done->salt, done->bytes, done->bytes.size());
  ASSERT_OK(decoded);
  EXPECT_EQ(*decoded, done->blobs);
  std::vector<Bytes> payloads;
  ASSERT_OK(VerifyPack(alg(), key_, done->bytes, &payloads));
  EXPECT_EQ(payloads[0], ToBytes(frame));
}

TEST_P(PackTest, APackHoldsAtMostThreeDictionaries) {
  auto builder = PackBuilder::Create(alg(), key_, BlobType::kData);
  ASSERT_OK(builder);
  for (int i = 1; i <= kMaxPackDictionaries; ++i) {
    auto number = (*builder)->AddDictionary(TestId(std::to_string(i)), AsBytes("d"));
    ASSERT_OK(number);
    EXPECT_EQ(*number, i);
  }
  EXPECT_EQ((*builder)->AddDictionary(TestId("4"), AsBytes("d")).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ((*builder)->AddDictionary(TestId("empty"), {}).status().code(),
            StatusCode::kInvalidArgument);
  auto done = (*builder)->Finish();
  ASSERT_OK(done);
  auto decoded = DecodePackHeader(alg(), key_, done->salt, done->bytes, done->bytes.size());
  ASSERT_OK(decoded);
  EXPECT_EQ(decoded->size(), 3u);

  // A fourth entry in an authentic header.
  std::vector<PackBlob> listed = *decoded;
  PackBlob extra = listed.back();
  extra.offset += extra.stored_length;
  listed.push_back(extra);
  std::vector<Bytes> payloads(4, ToBytes(std::string("d")));
  Bytes pack = HandBuiltPack(alg(), key_, done->salt, payloads, HeaderPlaintext(listed, 2));
  EXPECT_EQ(CodeOf(DecodePackHeader(alg(), key_, done->salt, pack, pack.size())),
            StatusCode::kDataLoss);
}

TEST_P(PackTest, AddRefusesBlobsAboveTheLimit) {
  auto builder = PackBuilder::Create(alg(), key_, BlobType::kData);
  ASSERT_OK(builder);
  EXPECT_EQ((*builder)->Add(TestId("big"), kMaxBlobRawLength + 1, true, AsBytes("x")).code(),
            StatusCode::kInvalidArgument);
  EXPECT_TRUE((*builder)->empty());
  ASSERT_OK((*builder)->Add(TestId("ok"), kMaxBlobRawLength, true, AsBytes("x")));
  EXPECT_EQ((*builder)->blob_count(), 1u);
  EXPECT_EQ((*builder)->size(), 40u + 1 + 16);
}

TEST_P(PackTest, SlotsSealedOnOtherThreadsInAnyOrderGiveTheSamePack) {
  // Many blobs, reserved in order and sealed by three threads that take the
  // newest slot first, into a buffer far too small for them: the pack grows
  // while seals run.
  std::vector<TestBlob> blobs;
  for (int i = 0; i < 300; ++i) {
    blobs.push_back(
        MakeBlob(std::string(100 + i * 37, static_cast<char>('a' + i % 26)) + std::to_string(i),
                 i % 3 == 0));
  }
  auto builder = PackBuilder::Create(alg(), key_, BlobType::kData, /*expected_size=*/1024);
  ASSERT_OK(builder);
  PackBuilder& pack = **builder;
  std::mutex mu;
  std::condition_variable changed;
  std::vector<std::pair<PackBuilder::Slot, ByteView>> queue;
  bool reserved_all = false;
  std::atomic<int> failures{0};
  auto sealer = [&] {
    while (true) {
      std::unique_lock lock(mu);
      changed.wait(lock, [&] { return reserved_all || !queue.empty(); });
      if (queue.empty()) return;
      auto [slot, payload] = std::move(queue.back());
      queue.pop_back();
      lock.unlock();
      if (!pack.Seal(std::move(slot), payload).ok()) failures++;
    }
  };
  std::vector<std::thread> sealers;
  for (int i = 0; i < 3; ++i) sealers.emplace_back(sealer);
  for (const TestBlob& b : blobs) {
    auto slot = pack.Reserve(TestId(b.raw), static_cast<uint32_t>(b.raw.size()), b.compressed,
                             b.payload.size());
    if (!slot.ok()) {
      ADD_FAILURE() << slot.status().ToString();  // no early return: the sealers must be joined
      break;
    }
    if (&b == &blobs.back()) {
      // The last one is sealed well after Finish starts, which must wait for it.
      sealers.emplace_back([&pack, &failures, &b, slot = *std::move(slot)]() mutable {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        if (!pack.Seal(std::move(slot), b.payload).ok()) failures++;
      });
      break;
    }
    std::lock_guard lock(mu);
    queue.emplace_back(*std::move(slot), ByteView(b.payload));
    changed.notify_one();
  }
  {
    std::lock_guard lock(mu);
    reserved_all = true;
    changed.notify_all();
  }
  auto done = pack.Finish();
  for (std::thread& t : sealers) t.join();
  ASSERT_OK(done);
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(done->bytes.data()) % 4096, 0u);
  Bytes expected = HandBuiltPack(alg(), key_, done->salt, Payloads(blobs),
                                 HeaderPlaintext(ExpectedBlobs(blobs, BlobType::kData)));
  EXPECT_EQ(ToBytes(ByteView(done->bytes)), expected);
}

TEST_P(PackTest, AFailedSealSpoilsThePack) {
  auto builder = PackBuilder::Create(alg(), key_, BlobType::kData);
  ASSERT_OK(builder);
  ASSERT_OK((*builder)->Add(TestId("good"), 4, false, AsBytes("good")));
  auto slot = (*builder)->Reserve(TestId("bad"), 5, false, 5);
  ASSERT_OK(slot);
  // A payload of another length than reserved cannot be sealed, and a pack
  // with a hole where a blob should be must never be stored.
  EXPECT_EQ((*builder)->Seal(*std::move(slot), AsBytes("wrong length")).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(CodeOf((*builder)->Finish()), StatusCode::kInvalidArgument);
}

TEST_P(PackTest, ASlotDroppedUnsealedSpoilsThePackInsteadOfHangingIt) {
  auto builder = PackBuilder::Create(alg(), key_, BlobType::kData);
  ASSERT_OK(builder);
  ASSERT_OK((*builder)->Add(TestId("good"), 4, false, AsBytes("good")));
  {
    auto slot = (*builder)->Reserve(TestId("lost"), 4, false, 4);
    ASSERT_OK(slot);
  }  // dropped, as an exception between Reserve and Seal would
  EXPECT_EQ(CodeOf((*builder)->Finish()), StatusCode::kInternal);
}

// A StagedBytes in memory that records its writes, and fails them on demand.
class MemoryStaged final : public StagedBytes {
 public:
  Status WriteAt(uint64_t offset, ByteView bytes) override {
    std::lock_guard lock(mu_);
    if (fail_) return UnavailableError("the disk went away");
    if (bytes_.size() < offset + bytes.size()) bytes_.resize(offset + bytes.size());
    std::copy(bytes.begin(), bytes.end(), bytes_.begin() + static_cast<ptrdiff_t>(offset));
    writes_.emplace_back(offset, bytes.size());
    return Status::Ok();
  }
  void Fail() {
    std::lock_guard lock(mu_);
    fail_ = true;
  }
  Bytes bytes() {
    std::lock_guard lock(mu_);
    return bytes_;
  }
  std::vector<std::pair<uint64_t, size_t>> writes() {
    std::lock_guard lock(mu_);
    return writes_;
  }

 private:
  std::mutex mu_;
  Bytes bytes_;
  std::vector<std::pair<uint64_t, size_t>> writes_;
  bool fail_ = false;
};

// Blobs that fill a staged pack's ring several times over: small ones,
// ones that cross segments and wrap around the ring's end, one of the
// largest chunk size and one larger than the ring.
std::vector<TestBlob> RingBlobs() {
  std::mt19937_64 rng(5);
  auto noise = [&](size_t n) {
    std::string s(n, '\0');
    for (char& c : s) c = static_cast<char>(rng());
    return s;
  };
  std::vector<TestBlob> blobs;
  for (int i = 0; i < 24; ++i) {
    blobs.push_back(MakeBlob(noise(i % 4 == 0 ? 700 << 10 : 90'000 + i * 1'000), false));
    blobs.push_back(MakeBlob(std::string(20'000 + i, static_cast<char>('a' + i)), true));
  }
  blobs.push_back(MakeBlob(noise(4 << 20), false));
  blobs.push_back(MakeBlob(noise(PackBuilder::kRingSize + (300 << 10)), false));
  blobs.push_back(MakeBlob("last", false));
  return blobs;
}

TEST_P(PackTest, AStagedPackIsThePackTheFormatDescribes) {
  const auto blobs = RingBlobs();
  auto staged = std::make_unique<MemoryStaged>();
  MemoryStaged& out = *staged;
  const FinishedPack pack = Build(blobs, BlobType::kData, std::move(staged));
  const Bytes bytes = out.bytes();
  EXPECT_EQ(bytes, HandBuiltPack(alg(), key_, pack.salt, Payloads(blobs),
                                 HeaderPlaintext(ExpectedBlobs(blobs, BlobType::kData))));
  EXPECT_EQ(pack.size, bytes.size());
  EXPECT_EQ(pack.id, PackId(ByteView(Sha256(bytes))));
  EXPECT_EQ(pack.blobs, ExpectedBlobs(blobs, BlobType::kData));
  EXPECT_TRUE(pack.bytes.empty());
  EXPECT_EQ(pack.staged.get(), &out);
  // Whole aligned blocks but for the last write, which holds the header.
  const auto writes = out.writes();
  ASSERT_GE(writes.size(), 2u);
  for (size_t i = 0; i + 1 < writes.size(); ++i) {
    EXPECT_EQ(writes[i].first % StagedBytes::kDirectAlignment, 0u) << i;
    EXPECT_EQ(writes[i].second % StagedBytes::kDirectAlignment, 0u) << i;
  }
}

TEST_P(PackTest, AStagedPackSealedByAThreadPerBlobInReverseOrderIsTheSame) {
  // Every later blob waits for room in the ring until the ones before it
  // are sealed and written: each slot has a thread of its own, started
  // newest first.
  const auto blobs = RingBlobs();
  auto staged = std::make_unique<MemoryStaged>();
  MemoryStaged& out = *staged;
  auto builder = PackBuilder::Create(alg(), key_, BlobType::kData, 0, {}, std::move(staged));
  ASSERT_OK(builder);
  PackBuilder& pack = **builder;
  std::vector<PackBuilder::Slot> slots;
  for (const TestBlob& b : blobs) {
    auto slot = pack.Reserve(TestId(b.raw), static_cast<uint32_t>(b.raw.size()), b.compressed,
                             b.payload.size());
    ASSERT_OK(slot);
    slots.push_back(*std::move(slot));
  }
  std::atomic<int> failures{0};
  std::vector<std::thread> sealers;
  for (size_t i = slots.size(); i-- > 0;) {
    sealers.emplace_back([&, i, slot = std::move(slots[i])]() mutable {
      if (!pack.Seal(std::move(slot), blobs[i].payload).ok()) failures++;
    });
  }
  auto done = pack.Finish();
  for (std::thread& t : sealers) t.join();
  ASSERT_OK(done);
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(out.bytes(), HandBuiltPack(alg(), key_, done->salt, Payloads(blobs),
                                       HeaderPlaintext(ExpectedBlobs(blobs, BlobType::kData))));
}

TEST_P(PackTest, AStagedWriteThatFailsFailsThePackWithoutHangingIt) {
  const auto blobs = RingBlobs();
  auto staged = std::make_unique<MemoryStaged>();
  staged->Fail();
  auto builder = PackBuilder::Create(alg(), key_, BlobType::kData, 0, {}, std::move(staged));
  ASSERT_OK(builder);
  Status added;
  for (const TestBlob& b : blobs) {
    added = (*builder)->Add(TestId(b.raw), static_cast<uint32_t>(b.raw.size()), b.compressed,
                            b.payload);
    if (!added.ok()) break;
  }
  // Blobs fill the ring until the first segment's write fails; then no
  // more room comes.
  EXPECT_EQ(added.code(), StatusCode::kUnavailable);
  EXPECT_EQ(CodeOf((*builder)->Finish()), StatusCode::kUnavailable);
}

TEST_P(PackTest, AStagedSlotDroppedUnsealedFailsTheSlotsWaitingBehindIt) {
  // The dropped slot's segment never fills, so the later blob waiting for
  // that segment's room must give up instead of waiting forever.
  auto builder =
      PackBuilder::Create(alg(), key_, BlobType::kData, 0, {}, std::make_unique<MemoryStaged>());
  ASSERT_OK(builder);
  PackBuilder& pack = **builder;
  auto dropped = pack.Reserve(TestId("dropped"), 1000, false, 1000);
  ASSERT_OK(dropped);
  const TestBlob big = MakeBlob(std::string(PackBuilder::kRingSize, 'b'), false);
  auto waiting = pack.Reserve(TestId(big.raw), static_cast<uint32_t>(big.raw.size()), false,
                              big.payload.size());
  ASSERT_OK(waiting);
  std::atomic<int> result{-1};
  std::thread sealer([&, slot = *std::move(waiting)]() mutable {
    result = static_cast<int>(pack.Seal(std::move(slot), big.payload).code());
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  { auto gone = *std::move(dropped); }  // dropped, as an error path between Reserve and Seal would
  sealer.join();
  EXPECT_EQ(result.load(), static_cast<int>(StatusCode::kInternal));
  EXPECT_EQ(CodeOf(pack.Finish()), StatusCode::kInternal);
}

// The header plaintext of a version 3 pack, written field by field from
// section 5: a frame entry lists its member count instead of an id, and its
// members follow with type, the member flag, raw length and id only.
Bytes FramedHeaderPlaintext(const std::vector<PackBlob>& entries) {
  Bytes out;
  ByteWriter w(out);
  w.PutU8(3);
  w.PutVarint(entries.size());
  for (size_t i = 0; i < entries.size(); ++i) {
    const PackBlob& b = entries[i];
    w.PutU8(static_cast<uint8_t>(b.type));
    if (b.frame_raw_length != 0) {
      w.PutU8(0x08);
      w.PutVarint(b.raw_length);
      w.PutRaw(b.id.bytes());
      continue;
    }
    w.PutU8(static_cast<uint8_t>((b.compressed ? 1 : 0) | (b.dictionary << 1)));
    w.PutVarint(b.stored_length);
    w.PutVarint(b.raw_length);
    if (b.type != BlobType::kFrame) {
      w.PutRaw(b.id.bytes());
      continue;
    }
    size_t members = 0;
    while (i + 1 + members < entries.size() && entries[i + 1 + members].frame_raw_length != 0) {
      ++members;
    }
    w.PutVarint(members);
  }
  return out;
}

// A frame is one sealed, compressed payload that holds the plaintexts of
// its members one after the other; each member is a blob of the index with
// its own id, found at its frame's offset.
TEST_P(PackTest, AFrameHoldsItsMembersInOneSealedPayload) {
  const TestBlob before = MakeBlob("a blob of its own", false);
  const std::vector<std::string> pages = {std::string(8192, 'a'), std::string(8192, 'b'),
                                          std::string(100, 'c') + "page end"};
  std::string frame_plaintext;
  std::vector<FrameMember> members;
  for (const std::string& page : pages) {
    frame_plaintext += page;
    members.push_back(FrameMember{TestId(page), static_cast<uint32_t>(page.size())});
  }
  auto frame_payload = ZstdCompressAll(AsBytes(frame_plaintext), 3);
  ASSERT_OK(frame_payload);
  const TestBlob after = MakeBlob(std::string(500, 'q'), true);

  auto builder = PackBuilder::Create(alg(), key_, BlobType::kData);
  ASSERT_OK(builder);
  ASSERT_OK((*builder)->Add(TestId(before.raw), static_cast<uint32_t>(before.raw.size()), false,
                            before.payload));
  auto slot = (*builder)->ReserveFrame(members, true, frame_payload->size());
  ASSERT_OK(slot);
  ASSERT_OK((*builder)->Seal(*std::move(slot), *frame_payload));
  ASSERT_OK((*builder)->Add(TestId(after.raw), static_cast<uint32_t>(after.raw.size()), true,
                            after.payload));
  EXPECT_EQ((*builder)->blob_count(), 6u);
  // What a frame cannot be.
  EXPECT_EQ((*builder)->ReserveFrame({}, true, 10).status().code(), StatusCode::kInvalidArgument);
  const std::vector<FrameMember> too_many(kMaxFrameMembers + 1, FrameMember{TestId("m"), 1});
  EXPECT_EQ((*builder)->ReserveFrame(too_many, true, 10).status().code(),
            StatusCode::kInvalidArgument);
  const FrameMember empty{TestId(""), 0};
  EXPECT_EQ((*builder)->ReserveFrame({&empty, 1}, true, 10).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ((*builder)->ReserveFrame(members, false, 10).status().code(),
            StatusCode::kInvalidArgument);  // raw, yet not its members' length
  EXPECT_EQ((*builder)->ReserveFrame(members, true, 10, /*dictionary=*/1).status().code(),
            StatusCode::kInvalidArgument);
  auto done = (*builder)->Finish();
  ASSERT_OK(done);

  std::vector<PackBlob> expected;
  expected.push_back(ExpectedBlobs({before}, BlobType::kData)[0]);
  PackBlob frame;
  frame.type = BlobType::kFrame;
  frame.compressed = true;
  frame.offset = expected[0].offset + expected[0].stored_length;
  frame.stored_length = static_cast<uint32_t>(frame_payload->size() + 16);
  frame.raw_length = static_cast<uint32_t>(frame_plaintext.size());
  expected.push_back(frame);
  uint32_t member_offset = 0;
  for (const std::string& page : pages) {
    PackBlob member = frame;
    member.type = BlobType::kData;
    member.raw_length = static_cast<uint32_t>(page.size());
    member.id = TestId(page);
    member.member_offset = member_offset;
    member.frame_raw_length = frame.raw_length;
    member_offset += member.raw_length;
    expected.push_back(member);
  }
  PackBlob last = ExpectedBlobs({after}, BlobType::kData)[0];
  last.offset = frame.offset + frame.stored_length;
  expected.push_back(last);
  EXPECT_EQ(done->blobs, expected);

  const std::vector<Bytes> payloads = {before.payload, *frame_payload, after.payload};
  Bytes hand = HandBuiltPack(alg(), key_, done->salt, payloads, FramedHeaderPlaintext(expected));
  EXPECT_EQ(ToBytes(ByteView(done->bytes)), hand);
  auto decoded = DecodePackHeader(alg(), key_, done->salt, done->bytes, done->bytes.size());
  ASSERT_OK(decoded);
  EXPECT_EQ(*decoded, expected);
  // Each member's plaintext is its part of the frame's.
  std::vector<Bytes> opened;
  ASSERT_OK(VerifyPack(alg(), key_, done->bytes, &opened));
  auto plain = ZstdDecompressAll(opened[2], frame.raw_length);
  ASSERT_OK(plain);
  for (size_t m = 0; m < pages.size(); ++m) {
    const PackBlob& member = expected[2 + m];
    EXPECT_EQ(ToString(ByteView(*plain).subspan(member.member_offset, member.raw_length)),
              pages[m]);
  }

  // What a reader must refuse, each sealed correctly.
  auto decode = [&](const std::vector<PackBlob>& listed, std::string_view extra = "") {
    Bytes header = FramedHeaderPlaintext(listed);
    Append(header, AsBytes(extra));
    Bytes pack = HandBuiltPack(alg(), key_, done->salt, payloads, header);
    return DecodePackHeader(alg(), key_, done->salt, pack, pack.size());
  };
  ASSERT_OK(decode(expected));
  auto changed = [&](auto edit) {
    std::vector<PackBlob> listed = expected;
    edit(listed);
    return CodeOf(decode(listed));
  };
  // Members that do not fill their frame exactly.
  EXPECT_EQ(changed([](auto& l) { l[4].raw_length -= 1; }), StatusCode::kDataLoss);
  EXPECT_EQ(changed([](auto& l) { l[4].raw_length += 1; }), StatusCode::kDataLoss);
  EXPECT_EQ(changed([](auto& l) { l.erase(l.begin() + 4); }), StatusCode::kDataLoss);
  // A frame without members, a member without its frame.
  EXPECT_EQ(changed([](auto& l) { l.erase(l.begin() + 2, l.begin() + 5); }), StatusCode::kDataLoss);
  EXPECT_EQ(changed([](auto& l) { l.erase(l.begin() + 1); }), StatusCode::kDataLoss);
  // A member of the type a frame or a dictionary has.
  EXPECT_EQ(changed([](auto& l) { l[3].type = BlobType::kFrame; }), StatusCode::kDataLoss);
  EXPECT_EQ(changed([](auto& l) { l[3].type = BlobType::kDictionary; }), StatusCode::kDataLoss);
  // A frame naming a dictionary the pack does not hold.
  EXPECT_EQ(changed([](auto& l) { l[1].dictionary = 1; }), StatusCode::kDataLoss);
  // A raw frame must be as long as its members.
  EXPECT_EQ(changed([](auto& l) { l[1].compressed = false; }), StatusCode::kDataLoss);
  EXPECT_EQ(CodeOf(decode(expected, "x")), StatusCode::kDataLoss);
  // Frames only in version 3, and version 3 only with a frame.
  Bytes header = FramedHeaderPlaintext(expected);
  header[0] = std::byte{2};
  Bytes pack = HandBuiltPack(alg(), key_, done->salt, payloads, header);
  EXPECT_EQ(CodeOf(DecodePackHeader(alg(), key_, done->salt, pack, pack.size())),
            StatusCode::kDataLoss);
  const std::vector<PackBlob> plain_entries = ExpectedBlobs(SampleBlobs(), BlobType::kData);
  pack = HandBuiltPack(alg(), key_, done->salt, Payloads(SampleBlobs()),
                       FramedHeaderPlaintext(plain_entries));
  EXPECT_EQ(CodeOf(DecodePackHeader(alg(), key_, done->salt, pack, pack.size())),
            StatusCode::kDataLoss);
}

INSTANTIATE_TEST_SUITE_P(BothCiphers, PackTest,
                         testing::Values(AeadAlgorithm::kAes256Gcm,
                                         AeadAlgorithm::kXChaCha20Poly1305),
                         [](const testing::TestParamInfo<AeadAlgorithm>& info) {
                           return info.param == AeadAlgorithm::kAes256Gcm ? "Aes" : "XChaCha";
                         });

TEST(PackFormatTest, LayoutConstantsAreFrozen) {
  EXPECT_EQ(kPackMagic, "PXBPACK");
  EXPECT_EQ(kPackVersion, 1);
  EXPECT_EQ(kPackPrefixSize, 40u);
  EXPECT_EQ(kPackTrailerMagic, "PXBE");
  EXPECT_EQ(kPackTrailerSize, 8u);
  EXPECT_EQ(kPackHeaderVersion, 1);
  EXPECT_EQ(kMaxBlobsPerPack, 1u << 20);
  EXPECT_EQ(kMaxPackSize, uint64_t{1} << 32);
  EXPECT_EQ(kMaxBlobRawLength, 64u << 20);
  EXPECT_EQ(static_cast<int>(BlobType::kData), 1);
  EXPECT_EQ(static_cast<int>(BlobType::kTree), 2);
  EXPECT_EQ(static_cast<int>(BlobType::kDictionary), 3);
  EXPECT_EQ(static_cast<int>(BlobType::kFrame), 4);
  EXPECT_EQ(kBlobFlagCompressed, 1);
  EXPECT_EQ(kBlobFlagMember, 8);
  EXPECT_EQ(kPackHeaderVersionFrames, 3);
  EXPECT_EQ(kMaxFrameMembers, 256u);
  EXPECT_EQ(kNonceDomainBlob, 0u);
  EXPECT_EQ(kNonceDomainPackHeader, 1u);
  EXPECT_EQ(kNonceDomainEnvelope, 2u);
}

TEST(PackFormatTest, NonceLayoutIsDomainThenCounterThenZeros) {
  std::array<std::byte, 24> nonce;
  nonce.fill(std::byte{0xee});
  MakeNonce(0x04030201, 0x0c0b0a0908070605, nonce);
  for (size_t i = 0; i < 12; ++i) EXPECT_EQ(nonce[i], static_cast<std::byte>(i + 1)) << i;
  for (size_t i = 12; i < 24; ++i) EXPECT_EQ(nonce[i], std::byte{0}) << i;
  std::array<std::byte, 12> short_nonce;
  MakeNonce(1, 40, short_nonce);
  const std::array<uint8_t, 12> expected{1, 0, 0, 0, 40, 0, 0, 0, 0, 0, 0, 0};
  for (size_t i = 0; i < 12; ++i) EXPECT_EQ(short_nonce[i], std::byte{expected[i]}) << i;
}

// Freezes the whole construction (HKDF labels, nonces, AAD, ciphers, field
// layout): a pack built from the format description with a fixed key and
// salt must keep these bytes, and must stay readable by the decoder. The
// hashes agree with an independent implementation of section 5 (Python
// cryptography: HKDF, AES-GCM, HChaCha20 + ChaCha20-Poly1305).
TEST(PackFormatTest, GoldenPackDecodes) {
  ASSERT_OK(InitCrypto());
  const SecretKey data_key = TestKey(7);
  const Salt salt = TestSalt(7);
  std::vector<TestBlob> blobs;
  blobs.push_back(MakeBlob("hello", false));
  blobs.push_back(MakeBlob("world", false));
  const std::vector<PackBlob> listed = ExpectedBlobs(blobs, BlobType::kData);
  const std::pair<AeadAlgorithm, const char*> golden[] = {
      {AeadAlgorithm::kAes256Gcm,
       "4d6a5e4f351ec6821eb1de375b4336c1353d9a79561d7ea0a541784fc26baa6f"},
      {AeadAlgorithm::kXChaCha20Poly1305,
       "250639fe1a570aeb7d2ac6a7482491f4d8133c9e34a2e633d173558b842022c7"},
  };
  for (const auto& [alg, sha] : golden) {
    Bytes pack = HandBuiltPack(alg, data_key, salt, Payloads(blobs), HeaderPlaintext(listed));
    EXPECT_EQ(pack.size(), 40u + 21 + 21 + (2 + 2 * 36 + 16) + 8);
    EXPECT_EQ(ToHex(Sha256(pack)), sha) << AeadName(alg);
    auto decoded = DecodePackHeader(alg, data_key, salt, pack, pack.size());
    ASSERT_OK(decoded);
    EXPECT_EQ(*decoded, listed);
    std::vector<Bytes> payloads;
    ASSERT_OK(VerifyPack(alg, data_key, pack, &payloads));
    ASSERT_EQ(payloads.size(), 2u);
    EXPECT_EQ(ToString(payloads[0]), "hello");
    EXPECT_EQ(ToString(payloads[1]), "world");
  }
}

TEST(PackFormatTest, PrefixDecoding) {
  Bytes prefix = ToBytes("PXBPACK");
  prefix.push_back(std::byte{1});
  const Salt salt = TestSalt(4);
  Append(prefix, salt);
  auto decoded = DecodePackPrefix(prefix);
  ASSERT_OK(decoded);
  EXPECT_EQ(*decoded, salt);
  EXPECT_EQ(CodeOf(DecodePackPrefix(ByteView(prefix).first(39))), StatusCode::kDataLoss);
  Bytes wrong = prefix;
  wrong[7] = std::byte{2};
  EXPECT_EQ(CodeOf(DecodePackPrefix(wrong)), StatusCode::kDataLoss);
  wrong = prefix;
  wrong[0] = std::byte{'X'};
  EXPECT_EQ(CodeOf(DecodePackPrefix(wrong)), StatusCode::kDataLoss);
}

TEST(PackFormatTest, HeaderReadSizeChecksTheTrailer) {
  auto trailer = [](uint32_t length, std::string_view magic = "PXBE") {
    Bytes t;
    ByteWriter w(t);
    w.PutLe32(length);
    w.PutRaw(magic);
    return t;
  };
  auto size = PackHeaderReadSize(trailer(18), 40 + 18 + 8);
  ASSERT_OK(size);
  EXPECT_EQ(*size, 26u);
  EXPECT_EQ(CodeOf(PackHeaderReadSize(trailer(17), 1000)), StatusCode::kDataLoss);
  EXPECT_EQ(CodeOf(PackHeaderReadSize(trailer(18), 40 + 18 + 7)), StatusCode::kDataLoss);
  EXPECT_EQ(CodeOf(PackHeaderReadSize(trailer(UINT32_MAX), 1000)), StatusCode::kDataLoss);
  EXPECT_EQ(CodeOf(PackHeaderReadSize(trailer(18, "PXBF"), 1000)), StatusCode::kDataLoss);
  EXPECT_EQ(CodeOf(PackHeaderReadSize(ByteView(trailer(18)).first(7), 1000)),
            StatusCode::kDataLoss);
  EXPECT_EQ(CodeOf(PackHeaderReadSize(trailer(18), 47)), StatusCode::kDataLoss);
  // Above the format's pack size limit, offsets would not fit the index.
  EXPECT_EQ(CodeOf(PackHeaderReadSize(trailer(18), kMaxPackSize + 1)), StatusCode::kDataLoss);
}

TEST(PackFormatTest, BlobTypeNames) {
  EXPECT_EQ(BlobTypeName(BlobType::kData), "data");
  EXPECT_EQ(BlobTypeName(BlobType::kTree), "tree");
  EXPECT_EQ(BlobTypeName(BlobType::kDictionary), "dictionary");
  EXPECT_EQ(BlobTypeName(BlobType::kFrame), "frame");
}

}  // namespace
}  // namespace pxb
