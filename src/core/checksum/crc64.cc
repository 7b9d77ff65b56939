#include "core/checksum/crc64.h"

#include <isa-l/crc64.h>

namespace pxb {

uint64_t Crc64Xz(ByteView data, uint64_t crc_so_far) {
  // ISA-L's "ecma_refl" inverts on the way in and out, as CRC-64/XZ does.
  return crc64_ecma_refl(crc_so_far, reinterpret_cast<const unsigned char*>(data.data()),
                         data.size());
}

}  // namespace pxb
