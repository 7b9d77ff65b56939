// Restoring into a folder that already holds files, and killed restores.
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <thread>

#include "testing/e2e.h"

namespace pxb::e2e {
namespace {

TEST(RestoreTest, ResumeKeepsCorrectFilesAndReplacesWrongOnes) {
  TempDir dir;
  const std::string src = dir.Path("src");
  MakeDirs(src + "/sub");
  std::mt19937_64 rng(4);
  constexpr int kFiles = 10;
  for (int i = 0; i < kFiles; ++i) {
    WriteFile(src + (i % 2 ? "/sub/f" : "/f") + std::to_string(i), RandomData(rng, 20000 * i + 1));
  }
  Pxb pxb(dir.Path("repo"));
  pxb.Init();
  pxb.Backup({src});

  const std::string dst = dir.Path("dst");
  RunResult first = pxb.Run({"--json", "restore", "latest:" + src, "--target", dst});
  ASSERT_EQ(first.exit_code, 0) << first.Describe();
  EXPECT_EQ(JsonOfType(first.out, "summary")["files_restored"], kFiles);

  // Four wrong files: other bytes of the same size, shorter, missing, and a
  // file with the right content but other metadata (which counts as right).
  std::string same_size = ReadFile(dst + "/f4");
  same_size[same_size.size() / 2] ^= 1;
  WriteFile(dst + "/f4", same_size);
  WriteFile(dst + "/sub/f5", "short");
  ASSERT_EQ(::unlink((dst + "/f6").c_str()), 0);
  WriteFile(dst + "/f8", RandomData(rng, 160001));
  ASSERT_EQ(::chmod((dst + "/f2").c_str(), 0600), 0);
  ASSERT_EQ(::truncate((dst + "/sub/f7").c_str(), 0), 0);

  RunResult second = pxb.Run({"--json", "restore", "latest:" + src, "--target", dst});
  ASSERT_EQ(second.exit_code, 0) << second.Describe();
  nlohmann::json summary = JsonOfType(second.out, "summary");
  EXPECT_EQ(summary["files_unchanged"], kFiles - 5) << second.out;
  EXPECT_EQ(summary["files_restored"], 5) << second.out;
  EXPECT_EQ(TreeManifest(dst), TreeManifest(src))
      << ManifestDiff(TreeManifest(src), TreeManifest(dst));
  struct stat st;
  ASSERT_EQ(::stat((dst + "/f2").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0644u) << "metadata of an unchanged file is applied again";
  EXPECT_TRUE(FindFilesWithPrefix(dst, ".pxb-restore.").empty());
}

// A restore killed at any moment leaves each file either as it was before or
// complete, never truncated under its real name; the next run finishes and
// leaves no temporary files behind.
TEST(RestoreTest, KilledRestoreNeverLeavesTruncatedFile) {
  TempDir dir;
  const std::string src = dir.Path("src");
  MakeDirs(src);
  std::mt19937_64 rng(TestSeed(5));
  const std::string big = RandomData(rng, 48 << 20);
  WriteFile(src + "/big", big);
  for (int i = 0; i < 20; ++i) WriteFile(src + "/small" + std::to_string(i), RandomData(rng, 3000));
  Pxb pxb(dir.Path("repo"));
  pxb.Init();
  pxb.Backup({src});

  const std::string dst = dir.Path("dst");
  const std::string old_big = "an older version of big";
  const std::vector<std::string> argv =
      pxb.Argv({"-q", "restore", "latest:" + src, "--target", dst});
  const auto start = std::chrono::steady_clock::now();
  RunResult timed = RunProgram(argv, pxb.Options());
  ASSERT_EQ(timed.exit_code, 0) << timed.Describe();
  const auto duration = std::chrono::steady_clock::now() - start;

  int interrupted = 0;
  for (int run = 0; run < 8; ++run) {
    WriteFile(dst + "/big", old_big);
    const auto delay = duration * (run + 1) / 8;
    BackgroundProcess restore(argv, pxb.Options());
    std::this_thread::sleep_for(delay);
    if (!restore.Poll()) interrupted++;
    restore.KillAndWait();
    const std::string now = ReadFile(dst + "/big");
    EXPECT_TRUE(now == old_big || now == big)
        << "run " << run << ": big has " << now.size() << " bytes, neither old nor complete";
  }
  std::printf("restores interrupted: %d of 8\n", interrupted);
  EXPECT_GT(interrupted, 0);

  RunResult finish = pxb.Run({"--json", "restore", "latest:" + src, "--target", dst});
  ASSERT_EQ(finish.exit_code, 0) << finish.Describe();
  EXPECT_EQ(TreeManifest(dst), TreeManifest(src));
  EXPECT_TRUE(FindFilesWithPrefix(dst, ".pxb-restore.").empty());
}

// Many small files, killed at any moment: every file under its real name is
// either the version that was there before or the complete new one, also
// when files are renamed in batches after one sync; the next run finishes.
TEST(RestoreTest, KilledRestoreOfManySmallFilesLeavesOnlyCompleteFiles) {
  TempDir dir;
  const std::string src = dir.Path("src");
  std::mt19937_64 rng(TestSeed(6));
  std::map<std::string, std::string> content;
  for (int i = 0; i < 600; ++i) {
    const std::string name = "/d" + std::to_string(i % 6) + "/f" + std::to_string(i);
    content[name] = RandomData(rng, 1 + rng() % 30000);
  }
  content["/big1"] = RandomData(rng, 12 << 20);
  content["/big2"] = RandomData(rng, 9 << 20);
  for (const auto& [name, data] : content) {
    MakeDirs(src + name.substr(0, name.rfind('/')));
    WriteFile(src + name, data);
  }
  Pxb pxb(dir.Path("repo"));
  pxb.Init();
  pxb.Backup({src});

  const std::string dst = dir.Path("dst");
  const std::vector<std::string> argv =
      pxb.Argv({"-q", "restore", "latest:" + src, "--target", dst});
  const auto start = std::chrono::steady_clock::now();
  RunResult timed = RunProgram(argv, pxb.Options());
  ASSERT_EQ(timed.exit_code, 0) << timed.Describe();
  const auto duration = std::chrono::steady_clock::now() - start;

  // Older versions of some files, put back before every run.
  std::map<std::string, std::string> old;
  for (const auto& [name, data] : content) {
    if (old.size() < 40 && rng() % 8 == 0) old[name] = "older " + name;
  }
  old["/big1"] = "older big1";
  int interrupted = 0;
  for (int run = 0; run < 8; ++run) {
    // Each run starts from scratch, so that it takes as long as the timed one.
    std::filesystem::remove_all(dst);
    for (const auto& [name, data] : old) {
      MakeDirs(dst + name.substr(0, name.rfind('/')));
      WriteFile(dst + name, data);
    }
    BackgroundProcess restore(argv, pxb.Options());
    std::this_thread::sleep_for(duration * (run + 1) / 8);
    if (!restore.Poll()) interrupted++;
    restore.KillAndWait();
    for (const auto& [name, data] : content) {
      if (!Exists(dst + name)) continue;
      const std::string now = ReadFile(dst + name);
      const bool was_old = old.contains(name) && now == old[name];
      EXPECT_TRUE(now == data || was_old)
          << "run " << run << ": " << name << " has " << now.size() << " bytes, expected "
          << data.size() << (old.contains(name) ? " or the older version" : "");
    }
  }
  std::printf("restores interrupted: %d of 8\n", interrupted);
  EXPECT_GT(interrupted, 0);

  RunResult finish = pxb.Run({"--json", "restore", "latest:" + src, "--target", dst});
  ASSERT_EQ(finish.exit_code, 0) << finish.Describe();
  EXPECT_EQ(TreeManifest(dst), TreeManifest(src))
      << ManifestDiff(TreeManifest(src), TreeManifest(dst));
  EXPECT_TRUE(FindFilesWithPrefix(dst, ".pxb-restore.").empty());
}

TEST(RestoreTest, EveryDurabilityRestoresTheSameTree) {
  TempDir dir;
  const std::string src = dir.Path("src");
  MakeDirs(src + "/sub");
  std::mt19937_64 rng(7);
  for (int i = 0; i < 50; ++i) {
    WriteFile(src + (i % 3 ? "/sub/f" : "/f") + std::to_string(i), RandomData(rng, 7000 * i + 1));
  }
  Pxb pxb(dir.Path("repo"));
  pxb.Init();
  pxb.Backup({src});
  for (const char* durability : {"batched", "per-file", "none"}) {
    const std::string dst = dir.Path(std::string("dst-") + durability);
    RunResult r = pxb.Run(
        {"--json", "restore", "latest:" + src, "--target", dst, "--durability", durability});
    ASSERT_EQ(r.exit_code, 0) << durability << ": " << r.Describe();
    EXPECT_EQ(JsonOfType(r.out, "summary")["files_restored"], 50) << durability;
    EXPECT_EQ(TreeManifest(dst), TreeManifest(src)) << durability;
    EXPECT_TRUE(FindFilesWithPrefix(dst, ".pxb-restore.").empty()) << durability;
  }
  RunResult bad =
      pxb.Run({"restore", "latest:" + src, "--target", dir.Path("x"), "--durability", "fsync"});
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.err.find("durability"), std::string::npos) << bad.Describe();
  EXPECT_FALSE(Exists(dir.Path("x")));
}

}  // namespace
}  // namespace pxb::e2e
