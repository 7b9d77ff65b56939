#include "format/index_format.h"

#include "core/coding.h"

namespace pxb {

Bytes EncodeIndexPayload(const IndexFile& file) {
  Bytes out;
  ByteWriter w(out);
  bool dictionaries = false;
  for (const IndexedPack& pack : file.packs) {
    for (const PackBlob& b : pack.blobs) dictionaries |= b.type == BlobType::kDictionary;
  }
  w.PutU8(dictionaries ? kIndexVersionDictionaries : kIndexVersion);
  w.PutVarint(file.superseded.size());
  for (const IndexId& id : file.superseded) w.PutRaw(id.bytes());
  w.PutVarint(file.packs.size());
  for (const IndexedPack& pack : file.packs) {
    w.PutRaw(pack.id.bytes());
    w.PutVarint(pack.length);
    w.PutRaw(pack.salt);
    w.PutVarint(pack.blobs.size());
    for (const PackBlob& b : pack.blobs) {
      w.PutU8(static_cast<uint8_t>(b.type));
      w.PutU8(PackEntryFlags(b));
      w.PutVarint(b.offset);
      w.PutVarint(b.stored_length);
      w.PutVarint(b.raw_length);
      w.PutRaw(b.id.bytes());
    }
  }
  return out;
}

StatusOr<IndexFile> DecodeIndexPayload(ByteView payload) {
  ByteReader r(payload);
  PXB_ASSIGN_OR_RETURN(uint8_t version, r.ReadU8());
  if (version != kIndexVersion && version != kIndexVersionDictionaries) {
    return DataLossError("index version " + std::to_string(version) + " is not supported");
  }
  const bool dictionaries_allowed = version == kIndexVersionDictionaries;
  bool any_dictionaries = false;
  IndexFile file;
  PXB_ASSIGN_OR_RETURN(uint64_t superseded,
                       r.ReadBoundedVarint(r.remaining() / 32, "superseded index count"));
  for (uint64_t i = 0; i < superseded; ++i) {
    PXB_ASSIGN_OR_RETURN(ByteView id, r.ReadRaw(32));
    file.superseded.emplace_back(id);
  }
  // Each pack takes at least 66 bytes, each blob at least 38: bound the
  // counts by the input so a corrupt count cannot force a huge allocation.
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
                                                                                r.remaining() / 38),
                                                             "blob count"));
    pack.blobs.reserve(blobs);
    uint64_t previous_end = kPackPrefixSize;
    size_t dictionaries = 0;
    for (uint64_t i = 0; i < blobs; ++i) {
      PackBlob b;
      PXB_ASSIGN_OR_RETURN(uint8_t type, r.ReadU8());
      PXB_ASSIGN_OR_RETURN(uint8_t flags, r.ReadU8());
      auto where = [&] {
        return "index: pack " + pack.id.ShortHex() + " blob " + std::to_string(i);
      };
      if (Status kind = DecodePackEntryKind(type, flags, dictionaries_allowed, dictionaries, b);
          !kind.ok()) {
        return kind.WithContext(where());
      }
      PXB_ASSIGN_OR_RETURN(uint64_t offset, r.ReadBoundedVarint(pack.length, "blob offset"));
      PXB_ASSIGN_OR_RETURN(uint64_t stored, r.ReadBoundedVarint(pack.length, "blob length"));
      PXB_ASSIGN_OR_RETURN(uint64_t raw, r.ReadBoundedVarint(kMaxBlobRawLength, "blob raw length"));
      if (stored < Aead::kTagSize || offset < previous_end || offset + stored > pack.length) {
        return DataLossError(where() + " has an impossible range");
      }
      previous_end = offset + stored;
      b.offset = static_cast<uint32_t>(offset);
      b.stored_length = static_cast<uint32_t>(stored);
      b.raw_length = static_cast<uint32_t>(raw);
      if (Status counted = CountDictionaryEntry(b, dictionaries); !counted.ok()) {
        return counted.WithContext(where());
      }
      PXB_ASSIGN_OR_RETURN(ByteView blob_id, r.ReadRaw(32));
      b.id = BlobId(blob_id);
      pack.blobs.push_back(b);
    }
    any_dictionaries |= dictionaries > 0;
    file.packs.push_back(std::move(pack));
  }
  PXB_RETURN_IF_ERROR(r.ExpectEnd("index"));
  // One encoding per index: version 2 only with dictionaries.
  if (dictionaries_allowed && !any_dictionaries) {
    return DataLossError("index version 2 lists no dictionary");
  }
  return file;
}

}  // namespace pxb
