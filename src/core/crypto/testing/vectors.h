// Helpers for tests that read the external vectors in PXB_VECTORS_DIR
// (Wycheproof, Argon2 KATs). Test code only.
#pragma once

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "pxb/bytes.h"

namespace pxb {

// Parses PXB_VECTORS_DIR/relative_path; a missing or malformed file fails the
// calling test and gives a null json.
inline nlohmann::json LoadVectorFile(const std::string& relative_path) {
  const std::string path = std::string(PXB_VECTORS_DIR) + "/" + relative_path;
  std::ifstream in(path);
  if (!in) {
    ADD_FAILURE() << "cannot open vector file " << path;
    return nullptr;
  }
  nlohmann::json j = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    ADD_FAILURE() << "malformed JSON in " << path;
    return nullptr;
  }
  return j;
}

// Decodes hex that a vector file holds; malformed hex fails the calling test.
inline Bytes HexBytes(std::string_view hex) {
  Bytes out;
  if (!FromHex(hex, out)) {
    ADD_FAILURE() << "bad hex in vector: " << hex;
    out.clear();
  }
  return out;
}

// Counts the entries of every testGroups[].tests[] of a Wycheproof file.
inline size_t CountWycheproofTests(const nlohmann::json& file) {
  size_t n = 0;
  for (const auto& group : file.at("testGroups")) n += group.at("tests").size();
  return n;
}

}  // namespace pxb
