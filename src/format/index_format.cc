#include "format/index_format.h"

#include <algorithm>
#include <cstring>

#include "core/coding.h"

namespace pxb {

// An index lists a pack's entries as its header does, and shares the
// header's decoder: the versions must mean the same.
static_assert(kIndexVersion == kPackHeaderVersion &&
              kIndexVersionDictionaries == kPackHeaderVersionDictionaries &&
              kIndexVersionFrames == kPackHeaderVersionFrames);

Bytes EncodeIndexPayload(const IndexFile& file) {
  Bytes out;
  ByteWriter w(out);
  uint8_t version = kIndexVersion;
  for (const IndexedPack& pack : file.packs) {
    version = std::max(version, PackEntriesVersion(pack.blobs));
  }
  w.PutU8(version);
  w.PutVarint(file.superseded.size());
  for (const IndexId& id : file.superseded) w.PutRaw(id.bytes());
  w.PutVarint(file.packs.size());
  for (const IndexedPack& pack : file.packs) {
    w.PutRaw(pack.id.bytes());
    w.PutVarint(pack.length);
    w.PutRaw(pack.salt);
    w.PutVarint(pack.blobs.size());
    EncodePackEntries(pack.blobs, /*with_offset=*/true, w);
  }
  return out;
}

StatusOr<IndexFile> DecodeIndexPayload(ByteView payload) {
  ByteReader r(payload);
  PXB_ASSIGN_OR_RETURN(uint8_t version, r.ReadU8());
  if (version < kIndexVersion || version > kIndexVersionFrames) {
    return DataLossError("index version " + std::to_string(version) + " is not supported");
  }
  bool any_dictionaries = false, any_frames = false;
  IndexFile file;
  PXB_ASSIGN_OR_RETURN(uint64_t superseded,
                       r.ReadBoundedVarint(r.remaining() / 32, "superseded index count"));
  for (uint64_t i = 0; i < superseded; ++i) {
    PXB_ASSIGN_OR_RETURN(ByteView id, r.ReadRaw(32));
    file.superseded.emplace_back(id);
  }
  // Each pack takes at least 66 bytes, each entry at least 20 (a frame with
  // one member takes 41): bound the counts by the input so a corrupt count
  // cannot force a huge allocation.
  PXB_ASSIGN_OR_RETURN(uint64_t packs, r.ReadBoundedVarint(r.remaining() / 66, "pack count"));
  file.packs.reserve(packs);
  for (uint64_t p = 0; p < packs; ++p) {
    IndexedPack pack;
    PXB_ASSIGN_OR_RETURN(ByteView id, r.ReadRaw(32));
    pack.id = PackId(id);
    PXB_ASSIGN_OR_RETURN(pack.length, r.ReadBoundedVarint(kMaxPackSize, "pack length"));
    PXB_ASSIGN_OR_RETURN(ByteView salt, r.ReadRaw(kSaltSize));
    std::memcpy(pack.salt.data(), salt.data(), kSaltSize);
    PXB_ASSIGN_OR_RETURN(uint64_t blobs, r.ReadBoundedVarint(std::min<uint64_t>(kMaxBlobsPerPack,
                                                                                r.remaining() / 20),
                                                             "blob count"));
    pack.blobs.reserve(blobs);
    PackEntryDecoder decoder(version, kPackPrefixSize);
    while (pack.blobs.size() < blobs) {
      if (Status read = decoder.Read(r, /*with_offset=*/true, pack.length, pack.blobs);
          !read.ok()) {
        return read.WithContext("index: pack " + pack.id.ShortHex() + " entry " +
                                std::to_string(pack.blobs.size()));
      }
    }
    if (pack.blobs.size() != blobs) {
      return DataLossError("index: pack " + pack.id.ShortHex() +
                           " lists more entries than it counts");
    }
    any_dictionaries |= decoder.dictionaries() > 0;
    any_frames |= decoder.frames();
    file.packs.push_back(std::move(pack));
  }
  PXB_RETURN_IF_ERROR(r.ExpectEnd("index"));
  // One encoding per index: version 2 only with dictionaries and no frames,
  // version 3 only with frames.
  if (version == kIndexVersionDictionaries && !any_dictionaries) {
    return DataLossError("index version 2 lists no dictionary");
  }
  if (version == kIndexVersionFrames && !any_frames) {
    return DataLossError("index version 3 lists no frame");
  }
  return file;
}

}  // namespace pxb
