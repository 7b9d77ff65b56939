// Fuzzes DecodeTree, and checks that what it accepts re-encodes: EncodeTree
// must take every decoded tree, produce bytes no longer than the input (only
// over-long varints can make the input longer) and identical when as long,
// and the re-encoding must decode to the same tree.
#include <cstring>

#include "format/testing/format_testing.h"
#include "format/tree_format.h"
#include "fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace pxb;
  ByteView input = fuzz::AsView(data, size);
  auto tree = DecodeTree(input);
  if (!tree.ok()) {
    FUZZ_CHECK(tree.status().code() == StatusCode::kDataLoss, "decode error is not data loss");
    return 0;
  }
  auto again = EncodeTree(*tree);
  FUZZ_CHECK(again.ok(), "EncodeTree refused a tree DecodeTree accepted");
  FUZZ_CHECK(again->size() <= size, "re-encoding is longer than the input");
  if (again->size() == size) {
    FUZZ_CHECK(std::memcmp(again->data(), data, size) == 0, "re-encoding differs");
  }
  auto back = DecodeTree(*again);
  FUZZ_CHECK(back.ok(), "re-encoded tree does not decode");
  FUZZ_CHECK(*back == *tree, "re-encoded tree decodes differently");
  return 0;
}
