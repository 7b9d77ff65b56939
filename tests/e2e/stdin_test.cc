// Backups of standard input and of a command's output.
#include "testing/e2e.h"

namespace pxb::e2e {
namespace {

TEST(StdinTest, BacksUpStandardInput) {
  TempDir dir;
  Pxb pxb(dir.Path("repo"));
  pxb.Init();
  RunOptions options;
  options.stdin_data = "data\n";
  RunResult r = pxb.Run({"--json", "backup", "--stdin", "--stdin-filename", "db.sql"}, options);
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  nlohmann::json summary = JsonOfType(r.out, "summary");
  EXPECT_EQ(summary["summary"]["bytes_read"], 5);
  EXPECT_EQ(summary["summary"]["bytes_total"], 5);
  RunResult dump = pxb.Run({"dump", "latest", "/db.sql"});
  ASSERT_EQ(dump.exit_code, 0) << dump.Describe();
  EXPECT_EQ(dump.out, "data\n");

  // Several MiB through the pipe, cut into several chunks.
  std::mt19937_64 rng(3);
  options.stdin_data = RandomData(rng, 6 * 1024 * 1024 + 7);
  r = pxb.Run({"backup", "--stdin", "--stdin-filename", "big.bin"}, options);
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  dump = pxb.Run({"dump", "latest", "/big.bin"});
  ASSERT_EQ(dump.exit_code, 0) << dump.Describe();
  EXPECT_TRUE(dump.out == options.stdin_data) << "dump returned " << dump.out.size() << " bytes";
}

TEST(StdinTest, BacksUpCommandOutput) {
  TempDir dir;
  Pxb pxb(dir.Path("repo"));
  pxb.Init();
  RunResult r = pxb.Run({"backup", "--stdin-from-command", "printf abc", "--stdin-filename", "x"});
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  RunResult dump = pxb.Run({"dump", "latest", "/x"});
  ASSERT_EQ(dump.exit_code, 0) << dump.Describe();
  EXPECT_EQ(dump.out, "abc");
  ASSERT_EQ(pxb.SnapshotIds().size(), 1u);
}

TEST(StdinTest, FailingCommandStoresNoSnapshot) {
  TempDir dir;
  Pxb pxb(dir.Path("repo"));
  pxb.Init();
  for (const char* command : {"exit 3", "printf partial; exit 3"}) {
    RunResult r = pxb.Run({"backup", "--stdin-from-command", command, "--stdin-filename", "x"});
    EXPECT_NE(r.exit_code, 0) << command << ": " << r.Describe();
    EXPECT_EQ(r.signal, 0);
    EXPECT_NE(r.err.find("status 3"), std::string::npos) << r.err;
    EXPECT_TRUE(pxb.SnapshotIds().empty()) << command;
  }
  RunResult killed =
      pxb.Run({"backup", "--stdin-from-command", "kill -9 $$", "--stdin-filename", "y"});
  EXPECT_NE(killed.exit_code, 0) << killed.Describe();
  EXPECT_TRUE(pxb.SnapshotIds().empty());
  RunResult check = pxb.Run({"check", "--read-data"});
  EXPECT_EQ(check.exit_code, 0) << check.Describe();
}

}  // namespace
}  // namespace pxb::e2e
