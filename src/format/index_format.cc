#include "format/index_format.h"

#include "core/coding.h"

namespace pxb {

Bytes EncodeIndexPayload(const IndexFile& file) {
  Bytes out;
  ByteWriter w(out);
  w.PutU8(kIndexVersion);
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
      w.PutU8(b.compressed ? kBlobFlagCompressed : 0);
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
  if (version != kIndexVersion) {
    return DataLossError("index version " + std::to_string(version) + " is not supported");
  }
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
    for (uint64_t i = 0; i < blobs; ++i) {
      PackBlob b;
      PXB_ASSIGN_OR_RETURN(uint8_t type, r.ReadU8());
      if (type != static_cast<uint8_t>(BlobType::kData) &&
          type != static_cast<uint8_t>(BlobType::kTree)) {
        return DataLossError("index: pack " + pack.id.ShortHex() + " blob " + std::to_string(i) +
                             " has unknown type " + std::to_string(type));
      }
      b.type = static_cast<BlobType>(type);
      PXB_ASSIGN_OR_RETURN(uint8_t flags, r.ReadU8());
      if ((flags & ~kBlobFlagCompressed) != 0) return DataLossError("index: unknown blob flags");
      b.compressed = (flags & kBlobFlagCompressed) != 0;
      PXB_ASSIGN_OR_RETURN(uint64_t offset, r.ReadBoundedVarint(pack.length, "blob offset"));
      PXB_ASSIGN_OR_RETURN(uint64_t stored, r.ReadBoundedVarint(pack.length, "blob length"));
      PXB_ASSIGN_OR_RETURN(uint64_t raw, r.ReadBoundedVarint(kMaxBlobRawLength, "blob raw length"));
      if (stored < Aead::kTagSize || offset < previous_end || offset + stored > pack.length) {
        return DataLossError("index: pack " + pack.id.ShortHex() + " blob " + std::to_string(i) +
                             " has an impossible range");
      }
      previous_end = offset + stored;
      b.offset = static_cast<uint32_t>(offset);
      b.stored_length = static_cast<uint32_t>(stored);
      b.raw_length = static_cast<uint32_t>(raw);
      PXB_ASSIGN_OR_RETURN(ByteView blob_id, r.ReadRaw(32));
      b.id = BlobId(blob_id);
      pack.blobs.push_back(b);
    }
    file.packs.push_back(std::move(pack));
  }
  PXB_RETURN_IF_ERROR(r.ExpectEnd("index"));
  return file;
}

}  // namespace pxb
