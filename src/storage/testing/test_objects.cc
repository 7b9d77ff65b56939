#include "storage/testing/test_objects.h"

#include <openssl/evp.h>

#include <algorithm>
#include <random>

namespace pxb {

Bytes TestBytes(size_t size, uint64_t seed) {
  std::mt19937_64 rng(seed);
  Bytes out(size);
  for (size_t i = 0; i < size; i += 8) {
    uint64_t v = rng();
    for (size_t j = 0; j < 8 && i + j < size; ++j)
      out[i + j] = static_cast<std::byte>(v >> (8 * j));
  }
  return out;
}

std::string Sha256Hex(ByteView data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(data.data(), data.size(), digest, &length, EVP_sha256(), nullptr);
  return ToHex(ByteView(reinterpret_cast<const std::byte*>(digest), length));
}

std::string PackName(ByteView data) {
  std::string hex = Sha256Hex(data);
  return "data/" + hex.substr(0, 2) + "/" + hex;
}

StatusOr<std::vector<ObjectInfo>> ListObjects(Backend& backend, std::string_view prefix) {
  std::vector<ObjectInfo> out;
  PXB_RETURN_IF_ERROR(backend.List(prefix, [&](const ObjectInfo& info) {
    out.push_back(info);
    return Status::Ok();
  }));
  std::sort(out.begin(), out.end(),
            [](const ObjectInfo& a, const ObjectInfo& b) { return a.name < b.name; });
  return out;
}

StatusOr<std::vector<std::string>> ListNames(Backend& backend, std::string_view prefix) {
  PXB_ASSIGN_OR_RETURN(std::vector<ObjectInfo> objects, ListObjects(backend, prefix));
  std::vector<std::string> names;
  for (const ObjectInfo& info : objects) names.push_back(info.name);
  return names;
}

}  // namespace pxb
