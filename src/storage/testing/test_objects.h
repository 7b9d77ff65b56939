// Helpers for storage tests: deterministic object bytes, content-addressed
// names like a repository's, and listing into a sorted vector.
//
//   Bytes pack = TestBytes(1 << 20, /*seed=*/7);
//   ASSERT_TRUE(backend.Put(PackName(pack), pack).ok());
//
// Thread-safety: pure functions, except that ListObjects calls the backend.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "pxb/bytes.h"
#include "pxb/status.h"
#include "storage/backend.h"

namespace pxb {

// `size` pseudo-random bytes, the same for the same seed.
Bytes TestBytes(size_t size, uint64_t seed);

// Lower-case hex SHA-256 of data.
std::string Sha256Hex(ByteView data);

// "data/<first two hex digits>/<sha256 hex>", as repository_format.md section 1.
std::string PackName(ByteView data);

// Every object under prefix, sorted by name; duplicates are kept so that a
// test can see them.
StatusOr<std::vector<ObjectInfo>> ListObjects(Backend& backend, std::string_view prefix);

// Names of ListObjects, in the same order.
StatusOr<std::vector<std::string>> ListNames(Backend& backend, std::string_view prefix);

}  // namespace pxb
