// A backup that cannot read some files still saves a snapshot and exits 3.
#include <sys/stat.h>
#include <unistd.h>

#include "testing/e2e.h"

namespace pxb::e2e {
namespace {

constexpr uid_t kNobody = 65534;

TEST(PartialBackupTest, UnreadableFileGivesExitCode3) {
  if (RunProgram({"setpriv", "--version"}).exit_code != 0)
    GTEST_SKIP() << "setpriv is not installed";
  TempDir dir;
  ASSERT_EQ(::chmod(dir.path().c_str(), 0755), 0);
  const std::string src = dir.Path("src");
  MakeDirs(src + "/sub");
  ASSERT_EQ(::chmod(src.c_str(), 0755), 0);
  ASSERT_EQ(::chmod((src + "/sub").c_str(), 0755), 0);
  WriteFile(src + "/a", "readable a", 0644);
  WriteFile(src + "/sub/b", "readable b", 0644);
  WriteFile(src + "/sub/locked", "secret", 0644);
  ASSERT_EQ(::chmod((src + "/sub/locked").c_str(), 0), 0);
  MakeDirs(src + "/closed");
  WriteFile(src + "/closed/c", "inside a closed folder");
  ASSERT_EQ(::chmod((src + "/closed").c_str(), 0700), 0);

  Pxb pxb(dir.Path("repo"));
  pxb.Init();
  RunResult chown = RunProgram({"chown", "-R", "65534:65534", pxb.repo()});
  ASSERT_EQ(chown.exit_code, 0) << chown.Describe();

  std::vector<std::string> argv{"setpriv", "--reuid=" + std::to_string(kNobody),
                                "--regid=" + std::to_string(kNobody), "--clear-groups"};
  for (const std::string& a : pxb.Argv({"--json", "backup", src})) argv.push_back(a);
  RunResult r = RunProgram(argv, pxb.Options());
  ASSERT_EQ(r.exit_code, 3) << r.Describe();
  nlohmann::json summary = JsonOfType(r.out, "summary");
  EXPECT_EQ(summary["partial"], true);
  EXPECT_EQ(summary["summary"]["errors"], 2);  // the file and the folder
  EXPECT_NE(r.out.find("/sub/locked"), std::string::npos) << r.out;

  RunResult list = pxb.Run({"--json", "snapshots"});
  ASSERT_EQ(list.exit_code, 0) << list.Describe();
  nlohmann::json snapshots = JsonLines(list.out).at(0);
  ASSERT_EQ(snapshots.size(), 1u);
  EXPECT_EQ(snapshots[0]["partial"], true);
  EXPECT_EQ(snapshots[0]["id"], summary["id"]);

  const std::string dst = dir.Path("dst");
  RunResult restore = pxb.Run({"restore", "latest:" + src, "--target", dst});
  ASSERT_EQ(restore.exit_code, 0) << restore.Describe();
  EXPECT_EQ(ReadFile(dst + "/a"), "readable a");
  EXPECT_EQ(ReadFile(dst + "/sub/b"), "readable b");
  EXPECT_FALSE(Exists(dst + "/sub/locked"));
  EXPECT_FALSE(Exists(dst + "/closed/c"));

  RunResult check = pxb.Run({"check", "--read-data"});
  EXPECT_EQ(check.exit_code, 0) << check.Describe();
}

}  // namespace
}  // namespace pxb::e2e
