#include "format/target_list_format.h"

#include <charconv>
#include <nlohmann/json.hpp>
#include <set>

#include "core/crypto/sha256.h"
#include "format/json_fields.h"

namespace pxb {
namespace {

constexpr uint64_t kTargetListFormat = 1;

bool ParseInt(std::string_view text, int& out) {
  if (text.empty()) return false;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size();
}

}  // namespace

std::string_view TargetStateName(TargetState state) {
  return state == TargetState::kDraining ? "draining" : "active";
}

Status ParseErasureSetting(std::string_view text, int& k, int& m) {
  const size_t plus = text.find('+');
  if (plus == std::string_view::npos || !ParseInt(text.substr(0, plus), k) ||
      !ParseInt(text.substr(plus + 1), m) || k < 1 || m < 0 || k + m > 255) {
    return InvalidArgumentError("erasure setting \"" + std::string(text) +
                                "\": expected \"k+m\" with k >= 1, m >= 0 and k + m <= 255, "
                                "e.g. \"4+2\"");
  }
  return Status::Ok();
}

Status ValidateTargetName(std::string_view name) {
  if (name.empty() || name.size() > 64) {
    return InvalidArgumentError("target name \"" + std::string(name) +
                                "\": must be 1 to 64 characters");
  }
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-')) {
      return InvalidArgumentError("target name \"" + std::string(name) +
                                  "\": use only lowercase letters, digits, '_' and '-'");
    }
  }
  return Status::Ok();
}

Status ValidateTargetList(const TargetList& list) {
  const int k = list.data_shards;
  const int m = list.parity_shards;
  if (k < 1 || m < 0 || k + m > 255) {
    return InvalidArgumentError("erasure " + std::to_string(k) + "+" + std::to_string(m) +
                                ": need k >= 1, m >= 0 and k + m <= 255");
  }
  if (list.min_shards < k || list.min_shards > k + m) {
    return InvalidArgumentError("min_shards " + std::to_string(list.min_shards) +
                                ": must be between k = " + std::to_string(k) +
                                " and k + m = " + std::to_string(k + m));
  }
  std::set<std::string> names;
  size_t active = 0;
  for (const TargetSpec& t : list.targets) {
    PXB_RETURN_IF_ERROR(ValidateTargetName(t.name));
    if (!names.insert(t.name).second) {
      return InvalidArgumentError("target \"" + t.name + "\" is named twice");
    }
    if (!(t.weight > 0) || t.weight > 1e6) {
      return InvalidArgumentError("target \"" + t.name + "\": weight must be above 0");
    }
    if (!t.url.starts_with("file://") && !t.url.starts_with("s3:") && !t.url.starts_with("mem:") &&
        !t.url.starts_with("/")) {
      return InvalidArgumentError("target \"" + t.name + "\": url \"" + t.url +
                                  "\" is neither file:///path nor s3:http(s)://host/bucket");
    }
    if (t.state == TargetState::kActive) active++;
  }
  if (active == 0) return InvalidArgumentError("the target list has no active target");
  return Status::Ok();
}

Bytes EncodeTargetList(const TargetList& list) {
  nlohmann::json targets = nlohmann::json::array();
  for (const TargetSpec& t : list.targets) {
    targets.push_back({{"name", t.name},
                       {"url", t.url},
                       {"region", t.region},
                       {"zone", t.zone},
                       {"weight", t.weight},
                       {"capacity", t.capacity},
                       {"state", std::string(TargetStateName(t.state))}});
  }
  nlohmann::json j = {{"format", kTargetListFormat},
                      {"version", list.version},
                      {"data_shards", list.data_shards},
                      {"parity_shards", list.parity_shards},
                      {"min_shards", list.min_shards},
                      {"replica_threshold", list.replica_threshold},
                      {"targets", targets}};
  const std::string text = j.dump();
  return Bytes(reinterpret_cast<const std::byte*>(text.data()),
               reinterpret_cast<const std::byte*>(text.data()) + text.size());
}

StatusOr<TargetList> DecodeTargetList(ByteView bytes) {
  TargetList list;
  try {
    const auto j =
        nlohmann::json::parse(reinterpret_cast<const char*>(bytes.data()),
                              reinterpret_cast<const char*>(bytes.data()) + bytes.size());
    if (!j.is_object()) return DataLossError("target list: not a JSON object");
    const uint64_t format = UnsignedField(j, "format", UINT32_MAX);
    if (format == 0) return DataLossError("target list: format 0 does not exist");
    if (format != kTargetListFormat) {
      return FailedPreconditionError("target list: format " + std::to_string(format) +
                                     " is newer than this program knows (1)");
    }
    list.version = UnsignedField(j, "version", UINT64_MAX);
    list.data_shards = static_cast<int>(UnsignedField(j, "data_shards", 255));
    list.parity_shards = static_cast<int>(UnsignedField(j, "parity_shards", 255));
    list.min_shards = static_cast<int>(UnsignedField(j, "min_shards", 255));
    list.replica_threshold = UnsignedField(j, "replica_threshold", UINT64_MAX);
    for (const auto& t : j.at("targets")) {
      TargetSpec spec;
      spec.name = t.at("name").get<std::string>();
      spec.url = t.at("url").get<std::string>();
      spec.region = t.at("region").get<std::string>();
      spec.zone = t.at("zone").get<std::string>();
      if (!t.at("weight").is_number()) return DataLossError("target list: weight is not a number");
      spec.weight = t.at("weight").get<double>();
      spec.capacity = UnsignedField(t, "capacity", UINT64_MAX);
      const std::string state = t.at("state").get<std::string>();
      if (state == "active") {
        spec.state = TargetState::kActive;
      } else if (state == "draining") {
        spec.state = TargetState::kDraining;
      } else {
        return DataLossError("target list: unknown target state \"" + state + "\"");
      }
      list.targets.push_back(std::move(spec));
    }
  } catch (const nlohmann::json::exception& e) {
    return DataLossError(std::string("target list: ") + e.what());
  }
  Status valid = ValidateTargetList(list);
  if (!valid.ok()) return DataLossError("target list: " + std::string(valid.message()));
  return list;
}

std::string TargetListObjectName(ByteView encoded) {
  return std::string(kTargetListPrefix) + ToHex(Sha256(encoded));
}

}  // namespace pxb
