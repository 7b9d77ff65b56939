// CRC-64/XZ (the ECMA-182 polynomial, reflected, initial value and final
// XOR all ones) through ISA-L, which folds with carry-less multiplication:
// several times the speed of SHA-256, for checksums that find accidental
// damage where nothing needs to resist a forger (shard checksums: an
// unkeyed hash stops no one who can rewrite the checksum too).
//
//   uint64_t crc = Crc64Xz(header);
//   crc = Crc64Xz(payload, crc);  // the same as Crc64Xz(header || payload)
//
// Thread-safety: a pure function.
#pragma once

#include <cstdint>

#include "pxb/bytes.h"

namespace pxb {

// The CRC-64/XZ of `data`, or, given the CRC of earlier bytes, of those bytes
// followed by `data`. The CRC of "123456789" is 0x995dc9bbdf1939fa.
uint64_t Crc64Xz(ByteView data, uint64_t crc_so_far = 0);

}  // namespace pxb
