#include "format/object_names.h"

#include <gtest/gtest.h>

#include <cctype>
#include <string>
#include <vector>

#include "format/testing/format_testing.h"
#include "storage/testing/status_testing.h"

namespace pxb {
namespace {

TEST(ObjectNamesTest, NamesFollowTheFormat) {
  const std::string hex = TestId<PackId>("x").Hex();
  EXPECT_EQ(PackObjectName(TestId<PackId>("x")), "data/" + hex.substr(0, 2) + "/" + hex);
  EXPECT_EQ(IndexObjectName(TestId<IndexId>("x")), "index/" + hex);
  EXPECT_EQ(SnapshotObjectName(TestId<SnapshotId>("x")), "snapshots/" + hex);
  EXPECT_EQ(KeySlotObjectName(TestId<KeySlotId>("x")), "keys/" + hex);
  // Backends accept lower-case names only.
  EXPECT_EQ(PackObjectName(TestId<PackId>("x"))
                .find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789/"),
            std::string::npos);
}

TEST(ObjectNamesTest, IdFromObjectNameInvertsTheNames) {
  for (const char* seed : {"a", "b", "c", "d"}) {
    const PackId pack = TestId<PackId>(seed);
    const IndexId index = TestId<IndexId>(seed);
    const SnapshotId snapshot = TestId<SnapshotId>(seed);
    const KeySlotId key = TestId<KeySlotId>(seed);
    EXPECT_EQ(IdFromObjectName<PackId>(PackObjectName(pack), kDataPrefix), pack);
    EXPECT_EQ(IdFromObjectName<IndexId>(IndexObjectName(index), kIndexPrefix), index);
    EXPECT_EQ(IdFromObjectName<SnapshotId>(SnapshotObjectName(snapshot), kSnapshotsPrefix),
              snapshot);
    EXPECT_EQ(IdFromObjectName<KeySlotId>(KeySlotObjectName(key), kKeysPrefix), key);
  }
}

TEST(ObjectNamesTest, IdFromObjectNameRefusesOtherNames) {
  const std::string hex = TestId<SnapshotId>("x").Hex();
  const std::string folder = hex.substr(0, 2);
  const std::string other_folder = folder == "00" ? "01" : "00";
  const std::string upper = [&] {
    std::string u = hex;
    for (char& c : u) c = static_cast<char>(std::toupper(c));
    return u;
  }();
  for (const std::string& name : std::vector<std::string>{
           "snapshots/" + hex.substr(1), "snapshots/" + hex + "0", "snapshots/" + upper,
           "snapshots/" + folder + "/" + hex, "snapshots/", "snapshot/" + hex, "index/" + hex,
           "snapshots/" + hex.substr(0, 63) + "g", "snapshots/x/" + hex}) {
    EXPECT_FALSE(IdFromObjectName<SnapshotId>(name, kSnapshotsPrefix).has_value()) << name;
  }
  for (const std::string& name :
       std::vector<std::string>{"data/" + hex, "data/" + other_folder + "/" + hex,
                                "data/" + folder + hex, "data/" + folder + "/",
                                "data/" + folder + "/" + hex + "/", "data/x/" + folder + "/" + hex,
                                "data/" + folder + "/" + upper, "index/" + folder + "/" + hex}) {
    EXPECT_FALSE(IdFromObjectName<PackId>(name, kDataPrefix).has_value()) << name;
  }
  EXPECT_TRUE(IdFromObjectName<PackId>("data/" + folder + "/" + hex, kDataPrefix).has_value());
}

}  // namespace
}  // namespace pxb
