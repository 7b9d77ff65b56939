// A repository erasure-coded 4+2 over six S3 servers (s3rver on loopback,
// one per target, three regions x two zones), one of them killed in the
// middle of a backup; after it returns, scrub heals every stripe.
#include <chrono>
#include <thread>

#include "storage/s3/testing/s3_server.h"
#include "testing/e2e.h"

namespace pxb::e2e {
namespace {

TEST(S3TargetsTest, BackupSurvivesATargetKilledMidwayAndScrubHeals) {
  std::vector<std::unique_ptr<S3Server>> servers;
  for (int i = 0; i < 6; ++i) {
    auto server = S3Server::Start();
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    servers.push_back(std::move(*server));
  }
  TempDir dir;
  std::string config = "[repository]\nerasure = \"4+2\"\n";
  const char* regions[] = {"eu", "us", "ap"};
  for (int i = 0; i < 6; ++i) {
    config += "\n[[target]]\nname = \"s" + std::to_string(i) + "\"\nurl = \"" +
              servers[i]->Url("backups/repo") + "\"\nregion = \"" + regions[i / 2] +
              "\"\nzone = \"" + (i % 2 ? "b" : "a") + "\"\naccess_key_id = \"" +
              std::string(S3Server::kAccessKeyId) + "\"\nsecret_access_key = \"" +
              std::string(S3Server::kSecretAccessKey) + "\"\n";
  }
  WriteFile(dir.Path("plexibackup.toml"), config);
  const std::string src = dir.Path("src");
  MakeDirs(src);
  std::mt19937_64 rng(TestSeed(21));
  for (int i = 0; i < 40; ++i) {
    WriteFile(src + "/f" + std::to_string(i), RandomData(rng, 1 << 20));
  }
  Pxb pxb = Pxb::WithConfig(dir.Path("plexibackup.toml"));
  // Credentials come from the config file's [[target]] tables; none in the
  // environment.
  RunOptions s3_env;
  s3_env.env = {{"AWS_ACCESS_KEY_ID", ""}, {"AWS_SECRET_ACCESS_KEY", ""}};
  RunResult init =
      pxb.Run({"init", "--kdf-memory", "8", "--kdf-iterations", "1", "--pack-size", "1"}, s3_env);
  ASSERT_EQ(init.exit_code, 0) << init.Describe();

  // Kill target s3 once the backup has written some packs.
  BackgroundProcess backup(pxb.Argv({"backup", src}), pxb.Options(s3_env));
  std::this_thread::sleep_for(std::chrono::milliseconds(700));
  const bool running_at_kill = !backup.Poll();
  servers[3]->Stop();
  backup.Wait();
  ASSERT_TRUE(WIFEXITED(backup.status())) << "killed by a signal";
  EXPECT_EQ(WEXITSTATUS(backup.status()), 0);
  EXPECT_TRUE(running_at_kill) << "the backup ended before the target was killed; make it longer";

  RunResult status = pxb.Run({"--json", "target", "status"}, s3_env);
  EXPECT_EQ(status.exit_code, 0) << status.Describe();
  nlohmann::json targets = JsonOfType(status.out, "target_status")["targets"];
  ASSERT_EQ(targets.size(), 6u) << status.out;
  EXPECT_FALSE(targets[3]["up"].get<bool>()) << status.out;
  RunResult restored = pxb.Run({"restore", "latest", "--target", dir.Path("out")}, s3_env);
  ASSERT_EQ(restored.exit_code, 0) << restored.Describe();
  EXPECT_EQ(TreeManifest(src), TreeManifest(dir.Path("out") + src));

  // The target returns: scrub rebuilds what it missed; check then finds
  // every object at full redundancy.
  ASSERT_TRUE(servers[3]->Restart().ok());
  RunResult scrub = pxb.Run({"--json", "scrub"}, s3_env);
  ASSERT_EQ(scrub.exit_code, 0) << scrub.Describe();
  nlohmann::json report = JsonOfType(scrub.out, "scrub");
  EXPECT_GT(report["shards_rebuilt"].get<int>() + report["shards_moved"].get<int>(), 0)
      << scrub.out;
  RunResult check = pxb.Run({"--json", "check", "--read-data"}, s3_env);
  ASSERT_EQ(check.exit_code, 0) << check.Describe();
  nlohmann::json checked = JsonOfType(check.out, "check");
  // Every object scrub saw, and the session object of check itself.
  EXPECT_GE(checked["redundancy"]["full"].get<int>(), report["objects"].get<int>());
  EXPECT_EQ(checked["redundancy"]["degraded"].get<int>(), 0) << check.out;
  EXPECT_EQ(checked["redundancy"]["at_risk"].get<int>(), 0) << check.out;
  EXPECT_EQ(checked["redundancy"]["lost"].get<int>(), 0) << check.out;
}

}  // namespace
}  // namespace pxb::e2e
