// Reading typed fields of the JSON objects in the repository (config body,
// key slots, snapshots). The decoders call these inside a try block and turn
// nlohmann::json exceptions into kDataLoss.
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

namespace pxb {

// An integer field that must be a JSON integer in [0, max]: converting a
// fractional or out-of-range number to an integer type is undefined, so
// anything else throws nlohmann::json::other_error.
inline uint64_t UnsignedField(const nlohmann::json& j, const char* name, uint64_t max) {
  const nlohmann::json& v = j.at(name);
  if (!v.is_number_unsigned() || v.get<uint64_t>() > max) {
    throw nlohmann::json::other_error::create(
        501, std::string("field ") + name + " is not an integer in range", &j);
  }
  return v.get<uint64_t>();
}

}  // namespace pxb
