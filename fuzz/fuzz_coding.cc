// Fuzzes ByteReader with sequences of reads the input itself chooses, and
// checks that every value read writes back (ByteWriter) to something that
// reads back the same, and that the reader never passes its input's end.
#include <algorithm>
#include <cstring>

#include "core/coding.h"
#include "fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace pxb;
  if (size < 1) return 0;
  // The first 16 bytes choose the reads, four bits each; the rest is read.
  ByteView ops = fuzz::AsView(data, std::min<size_t>(size, 16));
  ByteView input = fuzz::AsView(data, size).subspan(ops.size());
  ByteReader r(input);
  for (size_t step = 0; step < ops.size() * 2; ++step) {
    const size_t before = r.position();
    const uint8_t op = (static_cast<uint8_t>(ops[step / 2]) >> (4 * (step % 2))) & 0xf;
    Bytes echo;
    ByteWriter w(echo);
    bool ok = true;
    switch (op % 9) {
      case 0: {
        auto v = r.ReadU8();
        if ((ok = v.ok())) w.PutU8(*v);
        break;
      }
      case 1: {
        auto v = r.ReadLe32();
        if ((ok = v.ok())) w.PutLe32(*v);
        break;
      }
      case 2: {
        auto v = r.ReadLe64();
        if ((ok = v.ok())) w.PutLe64(*v);
        break;
      }
      case 3: {
        auto v = r.ReadVarint();
        if ((ok = v.ok())) {
          w.PutVarint(*v);
          ByteReader again(echo);
          auto back = again.ReadVarint();
          FUZZ_CHECK(back.ok() && *back == *v && again.done(), "varint does not round-trip");
          FUZZ_CHECK(echo.size() <= r.position() - before, "varint re-encodes longer");
          FUZZ_CHECK(echo.size() <= 10, "varint longer than 10 bytes");
        }
        break;
      }
      case 4: {
        auto v = r.ReadZigZag();
        if ((ok = v.ok())) {
          FUZZ_CHECK(ZigZagDecode(ZigZagEncode(*v)) == *v, "zigzag does not round-trip");
          w.PutZigZag(*v);
        }
        break;
      }
      case 5: {
        const uint64_t max = op * 1000;
        auto v = r.ReadBoundedVarint(max, "value");
        if ((ok = v.ok())) FUZZ_CHECK(*v <= max, "bounded varint above its bound");
        break;
      }
      case 6: {
        const size_t n = op * 3;
        auto v = r.ReadRaw(n);
        if ((ok = v.ok())) {
          FUZZ_CHECK(v->size() == n, "raw read of the wrong size");
          FUZZ_CHECK(v->data() >= input.data() && v->data() + n <= input.data() + input.size(),
                     "raw read outside the input");
        }
        break;
      }
      case 7: {
        auto v = r.ReadString(op * 16);
        if ((ok = v.ok())) {
          FUZZ_CHECK(v->size() <= size_t{op} * 16, "string above its limit");
          w.PutString(*v);
        }
        break;
      }
      case 8: {
        Status end = r.ExpectEnd("input");
        FUZZ_CHECK(end.ok() == r.done(), "ExpectEnd disagrees with done()");
        break;
      }
    }
    FUZZ_CHECK(r.position() <= input.size(), "reader past the end");
    FUZZ_CHECK(r.position() + r.remaining() == input.size(), "position and remaining disagree");
    if (!ok) {
      FUZZ_CHECK(r.position() <= input.size(), "failed read moved past the end");
    } else if (!echo.empty() && op % 9 != 3) {
      // Fixed-width fields, zigzag and strings read back to what was consumed
      // unless the varint inside was over-long.
      FUZZ_CHECK(echo.size() <= r.position() - before, "value re-encodes longer");
    }
  }
  return 0;
}
