// Writes a first corpus for every fuzz target: valid objects encoded by the
// library with the fixed keys of fuzz_common.h, so that fuzzing starts past
// the magic numbers and authentication.
//
//   write_seeds <corpus folder>    # makes <folder>/<target>/seed-<n>
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "core/coding.h"
#include "core/compress/zstd_codec.h"
#include "core/crypto/random.h"
#include "core/crypto/sha256.h"
#include "core/erasure/reed_solomon.h"
#include "format/config_format.h"
#include "format/envelope_format.h"
#include "format/index_format.h"
#include "format/keyslot_format.h"
#include "format/lifecycle_format.h"
#include "format/pack_format.h"
#include "format/shard_format.h"
#include "format/snapshot_format.h"
#include "format/target_list_format.h"
#include "format/tree_format.h"
#include "fuzz_common.h"

namespace pxb {
namespace {

BlobId IdOf(std::string_view text) { return BlobId(ByteView(Sha256(AsBytes(text)))); }

class SeedWriter {
 public:
  explicit SeedWriter(std::filesystem::path root) : root_(std::move(root)) {}

  void Write(const std::string& target, ByteView bytes) {
    std::filesystem::create_directories(root_ / target);
    const auto path = root_ / target / ("seed-" + std::to_string(counts_[target]++));
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(bytes.data()),
              static_cast<std::streamsize>(bytes.size()));
    if (!out) {
      std::fprintf(stderr, "cannot write %s\n", path.c_str());
      failed_ = true;
    }
  }
  // The mode byte, then the bytes.
  void Write(const std::string& target, uint8_t mode_byte, ByteView bytes) {
    Bytes with_mode{std::byte{mode_byte}};
    Append(with_mode, bytes);
    Write(target, with_mode);
  }
  bool failed() const { return failed_; }

 private:
  std::filesystem::path root_;
  std::map<std::string, int> counts_;
  bool failed_ = false;
};

Tree SampleTree() {
  Tree t;
  Node file;
  file.name = "file";
  file.type = NodeType::kFile;
  file.mode = 0644;
  file.uid = 1000;
  file.user = "user";
  file.mtime_ns = 1700000000000000000;
  file.size = 8192;
  file.xattrs = {{"user.a", "b"}};
  file.acl_access = "acl";
  file.extents = {{0, {IdOf("c1")}}, {8192, {IdOf("c2"), IdOf("c3")}}};
  Node dir;
  dir.name = "dir";
  dir.type = NodeType::kDirectory;
  dir.subtree = IdOf("subtree");
  Node link;
  link.name = "link";
  link.type = NodeType::kSymlink;
  link.link_target = "file";
  Node dev;
  dev.name = "z-dev";
  dev.type = NodeType::kCharDevice;
  dev.rdev = 259;
  t.nodes = {dir, file, link, dev};
  return t;
}

// With `dictionary`, the first entry is a dictionary the second names.
IndexFile SampleIndex(bool dictionary) {
  IndexFile file;
  file.superseded = {IndexId(IdOf("old").bytes())};
  IndexedPack pack;
  pack.id = PackId(IdOf("pack").bytes());
  pack.length = 4096;
  pack.salt = fuzz::PackSalt();
  for (uint32_t i = 0; i < 3; ++i) {
    PackBlob b;
    b.type = i == 2 ? BlobType::kTree : BlobType::kData;
    b.compressed = i == 1;
    b.offset = 40 + i * 100;
    b.stored_length = 100;
    b.raw_length = 84 + i;
    b.id = IdOf(std::to_string(i));
    if (dictionary && i == 0) {
      b.type = BlobType::kDictionary;
      b.raw_length = b.payload_length();
    }
    if (dictionary && i == 1) b.dictionary = 1;
    pack.blobs.push_back(b);
  }
  file.packs = {pack};
  return file;
}

// An index whose pack ends with a frame of two members.
IndexFile FramedIndex() {
  IndexFile file = SampleIndex(true);
  PackBlob frame;
  frame.type = BlobType::kFrame;
  frame.compressed = true;
  frame.dictionary = 1;
  frame.offset = 340;
  frame.stored_length = 200;
  frame.raw_length = 300;
  file.packs[0].blobs.push_back(frame);
  for (uint32_t m = 0; m < 2; ++m) {
    PackBlob member = frame;
    member.type = BlobType::kData;
    member.raw_length = 150;
    member.id = IdOf("member " + std::to_string(m));
    member.member_offset = m * 150;
    member.frame_raw_length = 300;
    file.packs[0].blobs.push_back(member);
  }
  return file;
}

Snapshot SampleSnapshot() {
  Snapshot s;
  s.time_ns = 1764001800123456789;
  s.host = "host";
  s.user = "user";
  s.paths = {"/home", "/etc"};
  s.tags = {"daily"};
  s.type = BackupType::kFull;
  s.tree = IdOf("tree");
  s.parent = SnapshotId(IdOf("parent").bytes());
  s.source = SourceHash(s.host, s.paths);
  s.summary.files_new = 3;
  s.summary.duration_ns = 12345;
  s.program = "plexibackup";
  return s;
}

// Every shard of a 4+2 coded object, replicas, an empty object's shard, and
// header fields for the encoder.
// Target lists and shard names, as listings of targets return them.
void WriteLifecycleSeeds(SeedWriter& out) {
  constexpr int64_t kTime = 1764001800123456789;
  const std::string session(32, 'a');
  out.Write("fuzz_lifecycle", 0,
            EncodeSessionPayload({session, "host", "backup", 42, kTime, kTime, kTime + 600}));
  ForgetRecord record{kTime, {{SnapshotId(), ObjectHash(), kTime, SnapshotId()}}};
  record.snapshots.push_back({SnapshotId(), ObjectHash(), kTime - 1, std::nullopt});
  out.Write("fuzz_lifecycle", 1, EncodeForgetRecordPayload(record));
  out.Write("fuzz_lifecycle", 2,
            EncodeHoldPayload({SnapshotId(), HoldKind::kLock, kTime, "audit", kTime, "h", "u"}));
  out.Write("fuzz_lifecycle", 2,
            EncodeHoldPayload({SnapshotId(), HoldKind::kLegalHold, 0, "", kTime, "h", "u"}));
  out.Write("fuzz_lifecycle", 3,
            EncodeDeletionPlanPayload({kTime, "host", {PackId(), PackId()}, true, {session}}));
}

void WriteTargetListSeeds(SeedWriter& out) {
  TargetList list;
  const char* regions[] = {"eu", "us", "ap"};
  for (int i = 0; i < 6; ++i) {
    TargetSpec t;
    t.name = "t" + std::to_string(i);
    t.url = i % 2 ? "s3:http://127.0.0.1:9000/bucket" : "file:///srv/target" + std::to_string(i);
    t.region = regions[i / 2];
    t.zone = i % 2 ? "b" : "a";
    t.weight = 1.0 + i;
    t.capacity = i == 3 ? 1ull << 40 : 0;
    t.state = i == 5 ? TargetState::kDraining : TargetState::kActive;
    list.targets.push_back(t);
  }
  out.Write("fuzz_target_list", EncodeTargetList(list));
  for (const char* name : {"data/ab/abcdef.e4-2.3.16777312", "snapshots/00ff.r1-2.0.1840",
                           "config.r1-2.2.300", "index/77.e10-4.13.0"}) {
    out.Write("fuzz_target_list", AsBytes(name));
  }
}

bool WriteShardSeeds(SeedWriter& out) {
  const uint8_t raw = fuzz::ModeByte(fuzz::kShardModeRaw, AeadAlgorithm::kAes256Gcm);
  const uint8_t fields = fuzz::ModeByte(fuzz::kShardModeFields, AeadAlgorithm::kAes256Gcm);
  const ObjectNameHash id = HashObjectName("data/ab/" + IdOf("object").Hex());
  auto rs = ReedSolomon::Create(4, 2);
  if (!rs.ok()) return false;
  Bytes object(101);
  for (size_t i = 0; i < object.size(); ++i) object[i] = static_cast<std::byte>(i * 37);
  const size_t len = ShardLength(object.size(), 4);
  std::vector<Bytes> pieces(6, Bytes(len));  // data shards zero-padded
  for (int j = 0; j < 4; ++j) {
    const size_t begin = std::min(object.size(), j * len);
    const size_t end = std::min(object.size(), (j + 1) * len);
    std::copy(object.begin() + begin, object.begin() + end, pieces[j].begin());
  }
  const std::vector<const std::byte*> data = {pieces[0].data(), pieces[1].data(), pieces[2].data(),
                                              pieces[3].data()};
  const std::vector<std::byte*> parity = {pieces[4].data(), pieces[5].data()};
  rs->Encode(data, parity, len);
  for (int i = 0; i < 6; ++i) {
    auto header = ShardHeader::ForReedSolomon(id, object.size(), 4, 2, i);
    if (!header.ok()) return false;
    auto shard = EncodeShard(*header, pieces[i]);
    if (!shard.ok()) return false;
    out.Write("fuzz_shard", raw, *shard);
  }
  for (int copy = 0; copy < 2; ++copy) {
    auto header = ShardHeader::ForReplica(id, object.size(), 1, copy);
    if (!header.ok()) return false;
    auto shard = EncodeShard(*header, object);
    if (!shard.ok()) return false;
    out.Write("fuzz_shard", raw, *shard);
  }
  auto empty = ShardHeader::ForReedSolomon(HashObjectName("config"), 0, 10, 4, 13);
  if (!empty.ok()) return false;
  auto empty_shard = EncodeShard(*empty, {});
  if (!empty_shard.ok()) return false;
  out.Write("fuzz_shard", raw, *empty_shard);

  // Fields: scheme, index, k, m, object length u64 LE, then the payload.
  auto with_fields = [](uint8_t scheme, uint8_t index, uint8_t k, uint8_t m, uint64_t object_length,
                        ByteView payload) {
    Bytes input;
    ByteWriter w(input);
    w.PutU8(scheme);
    w.PutU8(index);
    w.PutU8(k);
    w.PutU8(m);
    w.PutLe64(object_length);
    w.PutRaw(payload);
    return input;
  };
  out.Write("fuzz_shard", fields, with_fields(1, 5, 4, 2, object.size(), pieces[5]));
  out.Write("fuzz_shard", fields, with_fields(2, 1, 1, 2, object.size(), object));
  out.Write("fuzz_shard", fields, with_fields(1, 0, 200, 55, 0, {}));
  return true;
}

int Run(const std::filesystem::path& root) {
  if (!InitCrypto().ok()) return 1;
  SeedWriter out(root);
  const SecretKey key = fuzz::DataKey();
  const AeadAlgorithm ciphers[] = {AeadAlgorithm::kAes256Gcm, AeadAlgorithm::kXChaCha20Poly1305};

  auto tree = EncodeTree(SampleTree());
  auto empty_tree = EncodeTree(Tree{});
  if (!tree.ok() || !empty_tree.ok()) return 1;
  out.Write("fuzz_tree", *tree);
  out.Write("fuzz_tree", *empty_tree);

  const Bytes index = EncodeIndexPayload(SampleIndex(false));
  out.Write("fuzz_index", index);
  out.Write("fuzz_index", EncodeIndexPayload(SampleIndex(true)));
  out.Write("fuzz_index", EncodeIndexPayload(FramedIndex()));
  out.Write("fuzz_index", EncodeIndexPayload(IndexFile{}));

  for (const auto& [alg, dictionary] :
       {std::pair{ciphers[0], false}, std::pair{ciphers[1], false}, std::pair{ciphers[0], true}}) {
    // A whole pack of two blobs (one naming a dictionary entry before it,
    // and a frame, in a version 3 pack), and a header plaintext with its
    // blob area.
    auto builder = PackBuilder::Create(alg, key, BlobType::kData);
    if (!builder.ok()) return 1;
    if (!(*builder)->Add(IdOf("a"), 5, false, AsBytes("hello")).ok()) return 1;
    if (dictionary && !(*builder)->AddDictionary(IdOf("dict"), AsBytes("dictionary")).ok()) {
      return 1;
    }
    auto frame = ZstdCompressAll(AsBytes(std::string(1000, 'x')), 3);
    if (!frame.ok() || !(*builder)->Add(IdOf("b"), 1000, true, *frame, dictionary ? 1 : 0).ok()) {
      return 1;
    }
    if (dictionary) {
      // And a frame of two members (version 3).
      const FrameMember members[] = {{IdOf("m0"), 600}, {IdOf("m1"), 400}};
      auto slot = (*builder)->ReserveFrame(members, true, frame->size(), 1);
      if (!slot.ok() || !(*builder)->Seal(*std::move(slot), *frame).ok()) return 1;
    }
    auto pack = (*builder)->Finish();
    if (!pack.ok()) return 1;
    out.Write("fuzz_pack_header", fuzz::ModeByte(fuzz::kPackModeRaw, alg), pack->bytes);
    Bytes plain;
    ByteWriter w(plain);
    uint32_t area = 0;
    for (const PackBlob& b : pack->blobs) area += b.member() ? 0 : b.stored_length;
    w.PutU8(static_cast<uint8_t>(area));
    w.PutU8(static_cast<uint8_t>(area >> 8));
    w.PutU8(static_cast<uint8_t>(area >> 16));
    w.PutU8(PackEntriesVersion(pack->blobs));
    w.PutVarint(pack->blobs.size());
    EncodePackEntries(pack->blobs, /*with_offset=*/false, w);
    out.Write("fuzz_pack_header", fuzz::ModeByte(fuzz::kPackModePlaintext, alg), plain);

    // Sealed objects of every kind, a zstd frame, and a payload to round-trip.
    const std::pair<EnvelopeKind, Bytes> payloads[] = {
        {EnvelopeKind::kIndex, index},
        {EnvelopeKind::kSnapshot, EncodeSnapshotPayload(SampleSnapshot())},
        {EnvelopeKind::kConfig, ToBytes("{\"version\":1}")},
    };
    for (const auto& [kind, payload] : payloads) {
      auto sealed = SealEnvelope(kind, alg, key, payload);
      if (!sealed.ok()) return 1;
      Bytes input{std::byte{static_cast<uint8_t>(kind)}};
      Append(input, *sealed);
      out.Write("fuzz_envelope", fuzz::ModeByte(fuzz::kEnvelopeModeOpen, alg), input);
    }
    auto zstd = ZstdCompressAll(index, 3);
    if (!zstd.ok()) return 1;
    Bytes zstd_input{std::byte{0}};
    Append(zstd_input, *zstd);
    out.Write("fuzz_envelope", fuzz::ModeByte(fuzz::kEnvelopeModeZstd, alg), zstd_input);
    Bytes round_trip{std::byte{2}};
    Append(round_trip, AsBytes("payload"));
    out.Write("fuzz_envelope", fuzz::ModeByte(fuzz::kEnvelopeModeSealOpen, alg), round_trip);

    // A whole config, and the JSON body the config target seals itself.
    RepositoryConfig config;
    config.id = fuzz::ConfigId();
    config.created_ns = 1764001800000000000;
    config.cipher = alg;
    auto object = EncodeConfig(config, key);
    if (!object.ok()) return 1;
    out.Write("fuzz_config", fuzz::ModeByte(fuzz::kConfigModeRaw, alg), *object);
    auto body =
        OpenEnvelope(EnvelopeKind::kConfig, alg, key, ByteView(*object).subspan(kConfigHeaderSize));
    if (!body.ok()) return 1;
    out.Write("fuzz_config", fuzz::ModeByte(fuzz::kConfigModeBody, alg), *body);
  }

  out.Write("fuzz_snapshot", EncodeSnapshotPayload(SampleSnapshot()));
  Snapshot bare = SampleSnapshot();
  bare.parent.reset();
  bare.tags.clear();
  out.Write("fuzz_snapshot", EncodeSnapshotPayload(bare));
  WriteLifecycleSeeds(out);

  KeySlot slot;
  slot.kind = std::string(kPassphraseSlotKind);
  slot.repository = fuzz::ConfigId();
  slot.created_ns = 1764001800000000000;
  slot.host = "host";
  slot.user = "user";
  slot.label = "label";
  slot.kdf = kDefaultArgon2idParams;
  slot.kdf_salt = Bytes(16, std::byte{1});
  slot.wrap_nonce = Bytes(24, std::byte{2});
  slot.wrapped = Bytes(48, std::byte{3});
  out.Write("fuzz_keyslot", EncodeKeySlot(slot));
  slot.kind = "mlkem768-x25519";
  out.Write("fuzz_keyslot", EncodeKeySlot(slot));

  // Reads chosen by the first 16 bytes, over an index payload.
  Bytes coding(16, std::byte{0x43});
  Append(coding, index);
  out.Write("fuzz_coding", coding);
  Bytes strings(16, std::byte{0x77});
  Append(strings, *tree);
  out.Write("fuzz_coding", strings);

  if (!WriteShardSeeds(out)) return 1;
  WriteTargetListSeeds(out);

  return out.failed() ? 1 : 0;
}

}  // namespace
}  // namespace pxb

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <corpus folder>\n", argv[0]);
    return 2;
  }
  return pxb::Run(argv[1]);
}
