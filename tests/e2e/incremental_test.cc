// Change detection of incremental backups, full backups, diff and --at.
#include "testing/e2e.h"

namespace pxb::e2e {
namespace {

TEST(IncrementalTest, ReadsOnlyWhatChanged) {
  TempDir dir;
  const std::string src = dir.Path("src");
  std::mt19937_64 rng(2);
  uint64_t total = 0;
  constexpr int kFiles = 24;
  for (int i = 0; i < kFiles; ++i) {
    const std::string folder = src + "/d" + std::to_string(i % 4);
    MakeDirs(folder);
    const size_t size = 1000 + 37000 * static_cast<size_t>(i);
    WriteFile(folder + "/f" + std::to_string(i), RandomData(rng, size));
    total += size;
  }
  Pxb pxb(dir.Path("repo"));
  pxb.Init();

  nlohmann::json first = pxb.Backup({"--time", "2020-01-01T00:00:00Z", src})["summary"];
  EXPECT_EQ(first["files_new"], kFiles);
  EXPECT_EQ(first["bytes_read"], total);

  nlohmann::json same = pxb.Backup({"--time", "2020-01-02T00:00:00Z", src})["summary"];
  EXPECT_EQ(same["bytes_read"], 0);
  EXPECT_EQ(same["files_unmodified"], kFiles);
  EXPECT_EQ(same["files_new"], 0);
  EXPECT_EQ(same["files_changed"], 0);
  // Only trees may be new: listing a folder can change its atime.
  EXPECT_LT(same["bytes_added"], 16 * 1024);

  const std::string changed = src + "/d1/f5";
  const std::string old_content = ReadFile(changed);
  const std::string new_content = RandomData(rng, 54321);
  WriteFile(changed, new_content);
  nlohmann::json one = pxb.Backup({"--time", "2020-01-03T00:00:00Z", src})["summary"];
  EXPECT_EQ(one["bytes_read"], new_content.size());
  EXPECT_EQ(one["files_changed"], 1);
  EXPECT_EQ(one["files_unmodified"], kFiles - 1);

  const uint64_t new_total = total - old_content.size() + new_content.size();
  nlohmann::json full =
      pxb.Backup({"--type", "full", "--time", "2020-01-04T00:00:00Z", src})["summary"];
  EXPECT_EQ(full["bytes_read"], new_total);
  EXPECT_EQ(full["files_unmodified"], 0);
  EXPECT_LT(full["bytes_added"], 16 * 1024) << "a full backup of known data adds only trees";

  const std::vector<std::string> ids = pxb.SnapshotIds();
  ASSERT_EQ(ids.size(), 4u);

  // diff between the 2nd and 3rd snapshot: exactly the one file. The
  // folders above the source (/tmp) are in the snapshot too, and tests
  // running beside this one change their times: only the source counts.
  RunResult diff = pxb.Run({"--json", "diff", ids[1], ids[2]});
  ASSERT_EQ(diff.exit_code, 0) << diff.Describe();
  std::vector<nlohmann::json> changes;
  for (const nlohmann::json& j : JsonLines(diff.out)) {
    if (j.value("type", "") == "change" && j.value("path", "").starts_with(src)) {
      changes.push_back(j);
    }
  }
  ASSERT_EQ(changes.size(), 1u) << diff.out;
  EXPECT_EQ(changes[0]["change"], "modified");
  EXPECT_EQ(changes[0]["path"], changed);
  EXPECT_EQ(JsonOfType(diff.out, "summary")["modified"], 1);
  RunResult text_diff = pxb.Run({"diff", ids[1], ids[2]});
  EXPECT_NE(text_diff.out.find("M    " + changed), std::string::npos) << text_diff.out;
  RunResult no_diff = pxb.Run({"--json", "diff", ids[0], ids[1]});
  EXPECT_EQ(JsonOfType(no_diff.out, "summary")["modified"], 0) << no_diff.out;

  // --at picks the newest snapshot at or before the time.
  struct AtCase {
    std::string at;
    size_t snapshot;
    const std::string* content;
  };
  for (const AtCase& c : {AtCase{"2020-01-02T12:00:00Z", 1, &old_content},
                          AtCase{"2020-01-03T00:00:00Z", 2, &new_content},
                          AtCase{"2020-01-01T00:00:01Z", 0, &old_content}}) {
    const std::string target = dir.Path("at-" + std::to_string(c.snapshot));
    RunResult r = pxb.Run({"--json", "restore", "--at", c.at, "--target", target});
    ASSERT_EQ(r.exit_code, 0) << r.Describe();
    EXPECT_EQ(JsonOfType(r.out, "summary")["snapshot"], ids[c.snapshot]) << c.at;
    EXPECT_EQ(ReadFile(target + changed), *c.content) << c.at;
  }
  RunResult too_early = pxb.Run({"restore", "--at", "2019-12-31", "--target", dir.Path("none")});
  EXPECT_NE(too_early.exit_code, 0) << too_early.Describe();
  EXPECT_EQ(too_early.signal, 0);
}

}  // namespace
}  // namespace pxb::e2e
