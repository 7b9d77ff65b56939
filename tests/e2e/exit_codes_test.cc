// The documented exit codes (src/cli/exit_codes.h).
#include <fcntl.h>
#include <unistd.h>

#include <filesystem>

#include "testing/e2e.h"

namespace pxb::e2e {
namespace {

class ExitCodesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    src_ = dir_.Path("src");
    MakeDirs(src_);
    WriteFile(src_ + "/file", "content");
    pxb_.Init();
    pxb_.Backup({src_});
  }

  TempDir dir_;
  std::string src_;
  Pxb pxb_{dir_.Path("repo")};
};

TEST_F(ExitCodesTest, SuccessIsZero) {
  for (const std::vector<std::string>& args : {std::vector<std::string>{"snapshots"},
                                               {"ls", "latest"},
                                               {"check", "--read-data"},
                                               {"restore", "latest", "--target", dir_.Path("out")},
                                               {"dump", "latest", src_ + "/file"},
                                               {"key", "list"},
                                               {"--version"}}) {
    RunResult r = pxb_.Run(args);
    EXPECT_EQ(r.exit_code, 0) << args[0] << ": " << r.Describe();
  }
}

TEST_F(ExitCodesTest, MissingRepositoryIs10) {
  Pxb missing(dir_.Path("no-such-repo"));
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"snapshots"},
        {"backup", src_},
        {"check"},
        {"restore", "latest", "--target", dir_.Path("out")}}) {
    RunResult r = missing.Run(args);
    EXPECT_EQ(r.exit_code, 10) << args[0] << ": " << r.Describe();
    EXPECT_NE(r.err.find("no repository"), std::string::npos) << r.err;
  }
  EXPECT_FALSE(Exists(missing.repo())) << "a failed command created the repository folder";
}

TEST_F(ExitCodesTest, WrongPassphraseIs12) {
  Pxb wrong(pxb_.repo(), "not-the-passphrase");
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"snapshots"}, {"backup", src_}, {"check"}}) {
    RunResult r = wrong.Run(args);
    EXPECT_EQ(r.exit_code, 12) << args[0] << ": " << r.Describe();
  }
  EXPECT_EQ(pxb_.SnapshotIds().size(), 1u);
}

TEST_F(ExitCodesTest, BadCommandLineIs2) {
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"snapshots", "--no-such-flag"},
        {"no-such-command"},
        {"backup", "--type", "sideways", src_},
        {"restore", "latest"},
        {"init", "--kdf-memory", "1"},
        {"backup", dir_.Path("does-not-exist")},
        {"restore", "not-hex!", "--target", dir_.Path("out")}}) {
    RunResult r = pxb_.Run(args);
    EXPECT_EQ(r.exit_code, 2) << args[0] << " " << args[1] << ": " << r.Describe();
  }
}

TEST_F(ExitCodesTest, DamagedRepositoryIs14) {
  std::vector<std::string> packs;
  for (const auto& e : std::filesystem::recursive_directory_iterator(pxb_.repo() + "/data")) {
    if (e.is_regular_file()) packs.push_back(e.path().string());
  }
  ASSERT_FALSE(packs.empty());
  for (const std::string& pack : packs) {
    int fd = ::open(pack.c_str(), O_RDWR | O_CLOEXEC);
    ASSERT_GE(fd, 0);
    char c;
    ASSERT_EQ(::pread(fd, &c, 1, 60), 1);
    c ^= 0x40;
    ASSERT_EQ(::pwrite(fd, &c, 1, 60), 1);
    ::close(fd);
  }
  RunResult check = pxb_.Run({"check", "--read-data"});
  EXPECT_EQ(check.exit_code, 14) << check.Describe();
  RunResult restore = pxb_.Run({"restore", "latest", "--target", dir_.Path("out")});
  EXPECT_EQ(restore.exit_code, 14) << restore.Describe();
}

}  // namespace
}  // namespace pxb::e2e
