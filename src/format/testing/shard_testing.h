// Printing of shard headers in GoogleTest assertions, for the tests of the
// shard format and of the storage layer that spreads objects over targets.
//
//   EXPECT_EQ(*VerifyShard(shard), expected_header);  // prints both on failure
//
// Thread-safety: pure functions.
#pragma once

#include <ostream>

#include "format/shard_format.h"

namespace pxb {

inline void PrintTo(const ShardHeader& h, std::ostream* os) {
  *os << "{" << ShardSchemeName(h.scheme) << " shard " << int{h.index} << " of "
      << int{h.data_shards} << "+" << int{h.parity_shards} << ", object " << h.object.ShortHex()
      << " " << h.object_length << " B, payload " << h.payload_length << " B}";
}

}  // namespace pxb
