// Fuzzes what a storage target tells about an erasure-coded repository
// without authentication (doc/repository_format.md sections 10 and 11): the
// target list JSON and shard object names from listings. A decoded list
// must be valid and re-encode to a list that decodes to the same value; a
// parsed shard name must be the name ShardObjectName makes from its fields.
#include <string>

#include "format/shard_format.h"
#include "format/target_list_format.h"
#include "fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace pxb;
  const ByteView bytes = fuzz::AsView(data, size);
  auto list = DecodeTargetList(bytes);
  if (list.ok()) {
    FUZZ_CHECK(ValidateTargetList(*list).ok(), "an invalid target list was accepted");
    auto again = DecodeTargetList(EncodeTargetList(*list));
    FUZZ_CHECK(again.ok(), "a re-encoded target list does not decode");
    FUZZ_CHECK(*again == *list, "a re-encoded target list decodes differently");
  } else {
    const StatusCode code = list.status().code();
    FUZZ_CHECK(code == StatusCode::kDataLoss || code == StatusCode::kFailedPrecondition,
               "target list error is neither data loss nor a newer format");
  }

  const std::string name(reinterpret_cast<const char*>(data), size);
  auto parsed = ParseShardObjectName(name);
  if (parsed.ok()) {
    auto header =
        parsed->scheme == ShardScheme::kReplica
            ? ShardHeader::ForReplica(HashObjectName(parsed->object), parsed->object_length,
                                      parsed->parity_shards, parsed->index)
            : ShardHeader::ForReedSolomon(HashObjectName(parsed->object), parsed->object_length,
                                          parsed->data_shards, parsed->parity_shards,
                                          parsed->index);
    FUZZ_CHECK(header.ok(), "a parsed shard name has fields no header can have");
    FUZZ_CHECK(ShardObjectName(parsed->object, *header) == name,
               "a parsed shard name is not the name of its fields");
  }
  return 0;
}
