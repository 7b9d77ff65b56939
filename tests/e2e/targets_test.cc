// A repository erasure-coded 4+2 over six local targets in three regions:
// backups and restores while targets are away, opening the whole repository
// from any one target, and targets added and drained while the shards
// rebalance in the background.
#include <signal.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "testing/e2e.h"

namespace pxb::e2e {
namespace {

namespace fs = std::filesystem;

class TargetsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string config = "[repository]\nerasure = \"4+2\"\n";
    const char* regions[] = {"eu", "us", "ap"};
    for (int i = 0; i < 6; ++i) {
      targets_.push_back(dir_.Path("target" + std::to_string(i)));
      config += "\n[[target]]\nname = \"t" + std::to_string(i) + "\"\nurl = \"file://" +
                targets_.back() + "\"\nregion = \"" + regions[i / 2] + "\"\nzone = \"" +
                (i % 2 ? "b" : "a") + "\"\n";
    }
    WriteFile(dir_.Path("plexibackup.toml"), config);
    std::mt19937_64 rng(TestSeed(11));
    src_ = dir_.Path("src");
    for (int d = 0; d < 3; ++d) MakeDirs(src_ + "/d" + std::to_string(d));
    for (int i = 0; i < 12; ++i) {
      WriteFile(src_ + "/d" + std::to_string(i % 3) + "/f" + std::to_string(i),
                RandomData(rng, 5000 + 90000 * static_cast<size_t>(i)));
    }
    WriteFile(src_ + "/small.txt", "hello");
    // The state a rebalance keeps on this host goes here, not into $HOME.
    if (const char* old = std::getenv("XDG_DATA_HOME")) saved_data_home_ = old;
    ::setenv("XDG_DATA_HOME", dir_.Path("state").c_str(), 1);
  }

  void TearDown() override {
    // Background rebalances end by themselves; one that a failed test left
    // running is stopped here.
    for (pid_t pid : rebalances_) {
      if (!Alive(pid)) continue;
      ::kill(pid, SIGKILL);
      for (int i = 0; i < 500 && Alive(pid); ++i) usleep(10000);
    }
    if (saved_data_home_) {
      ::setenv("XDG_DATA_HOME", saved_data_home_->c_str(), 1);
    } else {
      ::unsetenv("XDG_DATA_HOME");
    }
  }

  // Running, and not a zombie waiting for its parent.
  static bool Alive(pid_t pid) {
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    if (!std::getline(stat, line)) return false;
    const size_t paren = line.rfind(')');
    return paren != std::string::npos && paren + 2 < line.size() && line[paren + 2] != 'Z';
  }

  // Runs `target add` or `drain` (with --json) and records the rebalance it
  // starts in the background.
  nlohmann::json StartTargetChange(const std::vector<std::string>& args) {
    std::vector<std::string> full{"--json", "target"};
    full.insert(full.end(), args.begin(), args.end());
    RunResult r = pxb_.Run(full);
    EXPECT_EQ(r.exit_code, 0) << r.Describe();
    nlohmann::json started = JsonOfType(r.out, "rebalance_started");
    EXPECT_FALSE(started.is_null()) << r.Describe();
    if (!started.is_null()) rebalances_.push_back(started["pid"].get<pid_t>());
    return started;
  }

  uint64_t TargetListVersion() {
    RunResult list = pxb_.Run({"--json", "target", "list"});
    EXPECT_EQ(list.exit_code, 0) << list.Describe();
    return JsonOfType(list.out, "targets")["version"].get<uint64_t>();
  }

  // Polls `target status --json` until the rebalance with target list
  // `version` is done; returns the last status.
  nlohmann::json WaitForRebalance(uint64_t version) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(180);
    nlohmann::json status;
    while (std::chrono::steady_clock::now() < deadline) {
      RunResult r = pxb_.Run({"--json", "target", "status"});
      status = JsonOfType(r.out, "target_status");
      const nlohmann::json& rebalance = status.is_null() ? status : status["rebalance"];
      if (rebalance.is_object()) {
        const std::string state = rebalance["state"];
        EXPECT_TRUE(state == "running" || state == "done") << r.Describe();
        if (state != "running" && state != "done") return status;
        if (state == "done" && rebalance["target_list_version"] == version) return status;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ADD_FAILURE() << "the rebalance did not finish in time: " << status.dump();
    return status;
  }

  nlohmann::json CurrentStatus() {
    RunResult r = pxb_.Run({"--json", "target", "status"});
    EXPECT_EQ(r.exit_code, 0) << r.Describe();
    return JsonOfType(r.out, "target_status");
  }

  // Full redundancy of every object, from `target status --json`.
  void ExpectFullRedundancy(const nlohmann::json& status) {
    ASSERT_FALSE(status.is_null());
    EXPECT_GT(status["objects"].get<int>(), 0);
    EXPECT_EQ(status["full"], status["objects"]) << status.dump();
    EXPECT_EQ(status["lost"], 0);
  }

  // check --read-data passes and finds every object with all its shards.
  void ExpectCheckFindsFullRedundancy() {
    RunResult check = pxb_.Run({"--json", "check", "--read-data"});
    ASSERT_EQ(check.exit_code, 0) << check.Describe();
    nlohmann::json checked = JsonOfType(check.out, "check");
    EXPECT_EQ(checked["redundancy"]["degraded"], 0);
    EXPECT_EQ(checked["redundancy"]["at_risk"], 0);
    EXPECT_EQ(checked["redundancy"]["lost"], 0);
  }

  void ExpectRestoresIdentically(const std::string& out) {
    RunResult restored = pxb_.Run({"restore", "latest", "--target", dir_.Path(out)});
    ASSERT_EQ(restored.exit_code, 0) << restored.Describe();
    const Manifest expected = TreeManifest(src_);
    const Manifest got = TreeManifest(dir_.Path(out) + src_);
    EXPECT_EQ(expected, got) << ManifestDiff(expected, got);
  }

  // Takes a target away: its folder is replaced by a file, so every call
  // on it fails, as with a dead disk.
  void TakeAway(int i) {
    fs::rename(targets_[i], targets_[i] + ".away");
    WriteFile(targets_[i], "gone");
  }
  void BringBack(int i) {
    fs::remove(targets_[i]);
    fs::rename(targets_[i] + ".away", targets_[i]);
  }
  size_t ShardCount(int i) { return ShardCountIn(targets_[i]); }
  static size_t ShardCountIn(const std::string& target) {
    size_t n = 0;
    if (!fs::is_directory(target + "/data")) return 0;
    for (const auto& e : fs::recursive_directory_iterator(target + "/data")) {
      n += e.is_regular_file();
    }
    return n;
  }

  TempDir dir_;
  std::vector<std::string> targets_;
  std::string src_;
  std::optional<std::string> saved_data_home_;
  std::vector<pid_t> rebalances_;
  Pxb pxb_ = Pxb::WithConfig(dir_.Path("plexibackup.toml"));
};

TEST_F(TargetsTest, BackupAndRestoreWithTwoTargetsAway) {
  ASSERT_EQ(pxb_.Init({"--pack-size", "1"}).exit_code, 0);
  pxb_.Backup({src_});
  for (int i = 0; i < 6; ++i) EXPECT_GT(ShardCount(i), 0u) << "target " << i;

  // Any two targets away (here one whole region): the backup still
  // succeeds and everything restores.
  TakeAway(2);
  TakeAway(3);
  WriteFile(src_ + "/d0/new", std::string(300000, 'x') + "tail");
  nlohmann::json summary = pxb_.Backup({src_});
  EXPECT_EQ(summary["summary"]["files_new"], 1);
  RunResult restored = pxb_.Run({"restore", "latest", "--target", dir_.Path("out1")});
  ASSERT_EQ(restored.exit_code, 0) << restored.Describe();
  EXPECT_EQ(TreeManifest(src_), TreeManifest(dir_.Path("out1") + src_));

  // Back, and scrubbed: shards that doubled up on the other targets move
  // back, so any two targets can go away again.
  BringBack(2);
  BringBack(3);
  RunResult scrub = pxb_.Run({"scrub"});
  ASSERT_EQ(scrub.exit_code, 0) << scrub.Describe();
  TakeAway(0);
  TakeAway(5);
  RunResult again = pxb_.Run({"restore", "latest", "--target", dir_.Path("out2")});
  ASSERT_EQ(again.exit_code, 0) << again.Describe();
  EXPECT_EQ(TreeManifest(src_), TreeManifest(dir_.Path("out2") + src_));
  RunResult check = pxb_.Run({"check", "--read-data"});
  EXPECT_EQ(check.exit_code, 0) << check.Describe();

  // Three away is beyond m = 2 for some objects: check names damage, and
  // nothing crashes.
  TakeAway(1);
  RunResult damaged = pxb_.Run({"--json", "check"});
  EXPECT_EQ(damaged.exit_code, 14) << damaged.Describe();
  EXPECT_EQ(damaged.signal, 0);
  nlohmann::json problems = JsonOfType(damaged.out, "check")["problems"];
  ASSERT_FALSE(problems.empty()) << damaged.out;
  bool names_snapshot_and_file = false;
  for (const auto& p : problems) {
    names_snapshot_and_file |= !p["snapshots"].empty() && !p["files"].empty();
  }
  EXPECT_TRUE(names_snapshot_and_file) << damaged.out;
  RunResult read_data = pxb_.Run({"check", "--read-data"});
  EXPECT_EQ(read_data.exit_code, 14) << read_data.Describe();
}

TEST_F(TargetsTest, ScrubHealsAfterTargetsReturnAndFromDamage) {
  ASSERT_EQ(pxb_.Init({"--pack-size", "1"}).exit_code, 0);
  TakeAway(0);
  TakeAway(1);
  pxb_.Backup({src_});
  BringBack(0);
  BringBack(1);
  // Shards that doubled up while two targets were away move back.
  RunResult scrub = pxb_.Run({"--json", "scrub"});
  ASSERT_EQ(scrub.exit_code, 0) << scrub.Describe();
  nlohmann::json report = JsonOfType(scrub.out, "scrub");
  EXPECT_GT(report["shards_moved"].get<int>(), 0) << scrub.out;
  EXPECT_EQ(report["lost"], 0);

  // Damage: delete or corrupt two shards of every pack, on random targets.
  std::mt19937_64 rng(TestSeed(3));
  std::map<std::string, int> damaged;
  std::set<std::string> damaged_files;
  size_t damage = 0;
  for (int round = 0; round < 2; ++round) {
    for (int t = 0; t < 6; ++t) {
      for (const auto& e : fs::recursive_directory_iterator(targets_[t] + "/data")) {
        if (!e.is_regular_file()) continue;
        const std::string name = e.path().filename().string();
        const std::string object = name.substr(0, name.find('.'));
        if (damaged[object] >= 2 || damaged_files.count(e.path()) || rng() % 3 != 0) continue;
        damaged_files.insert(e.path());
        damaged[object]++;
        damage++;
        if (rng() % 2) {
          fs::remove(e.path());
        } else {
          std::string bytes = ReadFile(e.path().string());
          bytes[bytes.size() - 1] ^= 0x20;
          WriteFile(e.path().string(), bytes);
        }
      }
    }
  }
  ASSERT_GT(damage, 0u);
  RunResult status = pxb_.Run({"--json", "target", "status"});
  EXPECT_EQ(status.exit_code, 0) << status.Describe();
  RunResult heal = pxb_.Run({"--json", "scrub"});
  ASSERT_EQ(heal.exit_code, 0) << heal.Describe();
  nlohmann::json healed = JsonOfType(heal.out, "scrub");
  EXPECT_EQ(healed["shards_rebuilt"].get<size_t>(), damage) << heal.out;
  ExpectCheckFindsFullRedundancy();
  RunResult restored = pxb_.Run({"restore", "latest", "--target", dir_.Path("out")});
  ASSERT_EQ(restored.exit_code, 0) << restored.Describe();
  EXPECT_EQ(TreeManifest(src_), TreeManifest(dir_.Path("out") + src_));
}

TEST_F(TargetsTest, DrainAndRemoveATarget) {
  ASSERT_EQ(pxb_.Init({"--pack-size", "1"}).exit_code, 0);
  pxb_.Backup({src_});
  const std::string extra = dir_.Path("target6");
  RunResult add = pxb_.Run({"target", "add", "t6", "file://" + extra, "--region", "ap", "--zone",
                            "c", "--no-rebalance"});
  ASSERT_EQ(add.exit_code, 0) << add.Describe();
  RunResult refused = pxb_.Run({"target", "remove", "t2"});
  EXPECT_NE(refused.exit_code, 0) << refused.Describe();
  // Here scrub does the moving.
  ASSERT_EQ(pxb_.Run({"target", "drain", "t2", "--no-rebalance"}).exit_code, 0);
  RunResult scrub = pxb_.Run({"scrub"});
  ASSERT_EQ(scrub.exit_code, 0) << scrub.Describe();
  EXPECT_EQ(ShardCount(2), 0u);
  RunResult removed = pxb_.Run({"target", "remove", "t2"});
  ASSERT_EQ(removed.exit_code, 0) << removed.Describe();
  RunResult list = pxb_.Run({"--json", "target", "list"});
  ASSERT_EQ(list.exit_code, 0) << list.Describe();
  nlohmann::json targets = JsonOfType(list.out, "targets")["targets"];
  ASSERT_EQ(targets.size(), 6u);
  for (const auto& t : targets) EXPECT_NE(t["name"], "t2");
  fs::remove_all(targets_[2]);
  RunResult restored = pxb_.Run({"restore", "latest", "--target", dir_.Path("out")});
  ASSERT_EQ(restored.exit_code, 0) << restored.Describe();
  EXPECT_EQ(TreeManifest(src_), TreeManifest(dir_.Path("out") + src_));
}

TEST_F(TargetsTest, AddedTargetReceivesShardsInTheBackground) {
  ASSERT_EQ(pxb_.Init({"--pack-size", "1"}).exit_code, 0);
  pxb_.Backup({src_});
  const std::string extra = dir_.Path("target6");
  nlohmann::json started =
      StartTargetChange({"add", "t6", "file://" + extra, "--region", "sa", "--zone", "a"});
  ASSERT_FALSE(started.is_null());
  nlohmann::json status = WaitForRebalance(TargetListVersion());
  ExpectFullRedundancy(status);
  EXPECT_GT(status["rebalance"]["shards_moved"].get<int>(), 0) << status.dump();
  EXPECT_GT(ShardCountIn(extra), 0u);
  // Every target ends within the rebalance's tolerance of its balanced
  // holdings: 2 % of them or a shard (packs of 1 MiB in 4 + 2: 256 KiB).
  status = CurrentStatus();
  ASSERT_EQ(status["targets"].size(), 7u);
  for (const nlohmann::json& t : status["targets"]) {
    const auto bytes = t["bytes"].get<double>();
    const auto balanced = t["balanced_bytes"].get<double>();
    EXPECT_GT(balanced, 0) << t.dump();
    EXPECT_NEAR(bytes, balanced, 2 * (300e3 + balanced / 50)) << t.dump();
  }
  // The log tells how it ended.
  const std::string log = ReadFile(started["log"].get<std::string>());
  EXPECT_NE(log.find("rebalanced"), std::string::npos) << log;
  ExpectCheckFindsFullRedundancy();
  ExpectRestoresIdentically("out");
  // Nothing is left to move.
  RunResult again = pxb_.Run({"--json", "target", "rebalance"});
  ASSERT_EQ(again.exit_code, 0) << again.Describe();
  EXPECT_EQ(JsonOfType(again.out, "rebalance")["shards_moved"], 0) << again.out;
}

TEST_F(TargetsTest, DrainedTargetIsEmptiedInTheBackgroundAndRemoved) {
  ASSERT_EQ(pxb_.Init({"--pack-size", "1"}).exit_code, 0);
  pxb_.Backup({src_});
  // A seventh target first, rebalanced in the foreground, so that six
  // remain for six shards.
  RunResult add = pxb_.Run({"target", "add", "t6", "file://" + dir_.Path("target6"), "--region",
                            "sa", "--zone", "a", "--wait"});
  ASSERT_EQ(add.exit_code, 0) << add.Describe();
  EXPECT_NE(add.out.find("rebalanced"), std::string::npos) << add.Describe();
  ASSERT_GT(ShardCount(2), 0u);
  RunResult refused = pxb_.Run({"target", "remove", "t2"});
  EXPECT_NE(refused.exit_code, 0) << refused.Describe();
  ASSERT_FALSE(StartTargetChange({"drain", "t2"}).is_null());
  nlohmann::json status = WaitForRebalance(TargetListVersion());
  ExpectFullRedundancy(status);
  EXPECT_EQ(ShardCount(2), 0u);
  RunResult removed = pxb_.Run({"target", "remove", "t2"});
  ASSERT_EQ(removed.exit_code, 0) << removed.Describe();
  fs::remove_all(targets_[2]);
  ExpectFullRedundancy(CurrentStatus());
  ExpectRestoresIdentically("out");
}

TEST_F(TargetsTest, BackupWhileTheShardsRebalance) {
  ASSERT_EQ(pxb_.Init({"--pack-size", "1"}).exit_code, 0);
  pxb_.Backup({src_});
  const Manifest first = TreeManifest(src_);
  std::mt19937_64 rng(TestSeed(41));
  for (int i = 0; i < 48; ++i) {
    WriteFile(src_ + "/d1/big" + std::to_string(i), RandomData(rng, 1 << 20));
  }
  BackgroundProcess backup(pxb_.Argv({"backup", src_}), pxb_.Options());
  // Once the backup has stored some shards, a target is added.
  const size_t before = ShardCount(0);
  for (int i = 0; i < 5000 && ShardCount(0) < before + 6; ++i) usleep(1000);
  ASSERT_FALSE(StartTargetChange(
                   {"add", "t6", "file://" + dir_.Path("target6"), "--region", "sa", "--zone", "a"})
                   .is_null());
  const bool concurrent = !backup.Poll();
  backup.Wait();
  ASSERT_TRUE(WIFEXITED(backup.status()));
  EXPECT_EQ(WEXITSTATUS(backup.status()), 0);
  EXPECT_TRUE(concurrent) << "the backup ended before the rebalance started; make it longer";
  ExpectFullRedundancy(WaitForRebalance(TargetListVersion()));
  ExpectCheckFindsFullRedundancy();
  ExpectRestoresIdentically("out");
  std::vector<std::string> ids = pxb_.SnapshotIds();
  ASSERT_EQ(ids.size(), 2u);
  RunResult older = pxb_.Run({"restore", ids[0], "--target", dir_.Path("older")});
  ASSERT_EQ(older.exit_code, 0) << older.Describe();
  EXPECT_EQ(first, TreeManifest(dir_.Path("older") + src_));
}

TEST_F(TargetsTest, OneRebalanceAtATimeAndAnInterruptedOneResumes) {
  ASSERT_EQ(pxb_.Init({"--pack-size", "1"}).exit_code, 0);
  pxb_.Backup({src_});
  RunResult first = pxb_.Run({"--json", "target", "rebalance"});
  ASSERT_EQ(first.exit_code, 0) << first.Describe();
  const uint64_t objects = JsonOfType(first.out, "rebalance")["objects_total"];
  const std::vector<std::string> locks = FindFilesWithPrefix(dir_.Path("state"), "repo-");
  std::string lock_path;
  for (const std::string& f : locks) {
    if (f.ends_with("-rebalance.lock")) lock_path = f;
  }
  ASSERT_FALSE(lock_path.empty());
  const std::string state_path =
      lock_path.substr(0, lock_path.size() - std::string(".lock").size()) + ".json";
  nlohmann::json state = nlohmann::json::parse(ReadFile(state_path));
  EXPECT_EQ(state["state"], "done");

  // This test holds the lock, as a rebalance that has gone through two
  // packs does.
  const int lock = ::open(lock_path.c_str(), O_RDWR | O_CLOEXEC);
  ASSERT_GE(lock, 0);
  ASSERT_EQ(::flock(lock, LOCK_EX | LOCK_NB), 0);
  std::vector<std::string> names;
  for (const std::string& f : FindFilesWithPrefix(targets_[0] + "/data", "")) {
    const std::string name = fs::path(f).filename().string();
    if (name.find('.') == std::string::npos) continue;  // a folder
    names.push_back("data/" + name.substr(0, 2) + "/" + name.substr(0, name.find('.')));
  }
  std::sort(names.begin(), names.end());
  ASSERT_GE(names.size(), 3u);
  state["state"] = "running";
  state["pid"] = ::getpid();
  state["cursor"] = names[1];
  WriteFile(state_path, state.dump());
  RunResult second = pxb_.Run({"--json", "target", "rebalance"});
  EXPECT_EQ(second.exit_code, 0) << second.Describe();
  EXPECT_FALSE(JsonOfType(second.out, "rebalance_running").is_null()) << second.Describe();
  RunResult running = pxb_.Run({"target", "status"});
  EXPECT_NE(running.out.find("rebalance: running"), std::string::npos) << running.Describe();
  RunResult drain = pxb_.Run({"--json", "target", "drain", "t5"});
  EXPECT_EQ(drain.exit_code, 0) << drain.Describe();
  EXPECT_FALSE(JsonOfType(drain.out, "rebalance_running").is_null()) << drain.Describe();
  EXPECT_TRUE(JsonOfType(drain.out, "rebalance_started").is_null()) << drain.Describe();

  // Killed: the lock is free again, and the state still says running.
  ::close(lock);
  RunResult interrupted = pxb_.Run({"target", "status"});
  EXPECT_NE(interrupted.out.find("rebalance: interrupted"), std::string::npos)
      << interrupted.Describe();
  // Had it run with the newest target list, the next run resumes after
  // its cursor (with an older list it starts from the beginning).
  state["target_list_version"] = TargetListVersion();
  WriteFile(state_path, state.dump());
  RunResult resumed = pxb_.Run({"--json", "target", "rebalance"});
  ASSERT_EQ(resumed.exit_code, 0) << resumed.Describe();
  EXPECT_NE(resumed.err.find("resuming the interrupted rebalance after " +
                             state["cursor"].get<std::string>()),
            std::string::npos)
      << resumed.Describe();
  nlohmann::json done = JsonOfType(resumed.out, "rebalance");
  EXPECT_EQ(done["state"], "done");
  EXPECT_EQ(done["objects_total"], objects);
  // The objects before the cursor were not gone through again, so t5
  // still holds shards of some; a rebalance from the start empties it.
  EXPECT_GT(ShardCount(5), 0u);
  RunResult full = pxb_.Run({"target", "rebalance"});
  ASSERT_EQ(full.exit_code, 0) << full.Describe();
  EXPECT_EQ(ShardCount(5), 0u);
  ExpectFullRedundancy(CurrentStatus());
}

TEST_F(TargetsTest, TwoTargetsLostDuringABackup) {
  ASSERT_EQ(pxb_.Init({"--pack-size", "1"}).exit_code, 0);
  std::mt19937_64 rng(TestSeed(31));
  for (int i = 0; i < 48; ++i) {
    WriteFile(src_ + "/big" + std::to_string(i), RandomData(rng, 1 << 20));
  }
  BackgroundProcess backup(pxb_.Argv({"backup", src_}), pxb_.Options());
  // Wait until the backup has stored some shards, then take a whole region.
  for (int i = 0; i < 2000 && ShardCount(4) < 6; ++i) usleep(1000);
  const bool running = !backup.Poll();
  TakeAway(4);
  TakeAway(5);
  backup.Wait();
  ASSERT_TRUE(WIFEXITED(backup.status()));
  EXPECT_EQ(WEXITSTATUS(backup.status()), 0);
  EXPECT_TRUE(running) << "the backup ended before the targets went away; make it longer";
  RunResult restored = pxb_.Run({"restore", "latest", "--target", dir_.Path("out")});
  ASSERT_EQ(restored.exit_code, 0) << restored.Describe();
  EXPECT_EQ(TreeManifest(src_), TreeManifest(dir_.Path("out") + src_));
  BringBack(4);
  BringBack(5);
  ASSERT_EQ(pxb_.Run({"scrub"}).exit_code, 0);
  ExpectCheckFindsFullRedundancy();
}

TEST_F(TargetsTest, BeyondMLostShardsNameTheFilesAndTheRestRestores) {
  ASSERT_EQ(pxb_.Init({"--pack-size", "1"}).exit_code, 0);
  pxb_.Backup({src_});
  // Three of the six shards of one pack gone: more than m = 2.
  std::string victim;
  int removed = 0;
  for (int t = 0; t < 6 && removed < 3; ++t) {
    for (const auto& e : fs::recursive_directory_iterator(targets_[t] + "/data")) {
      if (!e.is_regular_file()) continue;
      const std::string name = e.path().filename().string();
      const std::string object = name.substr(0, name.find('.'));
      if (victim.empty() && std::stoull(name.substr(name.rfind('.') + 1)) > 500000) {
        victim = object;
      }
      if (object == victim) {
        fs::remove(e.path());
        removed++;
        break;
      }
    }
  }
  ASSERT_EQ(removed, 3);
  RunResult check = pxb_.Run({"--json", "check"});
  EXPECT_EQ(check.exit_code, 14) << check.Describe();
  std::set<std::string> affected;
  const nlohmann::json report = JsonOfType(check.out, "check");
  for (const auto& p : report["problems"]) {
    if (p["object"].get<std::string>() != "pack " + victim.substr(0, 8)) continue;
    EXPECT_EQ(p["snapshots"].size(), 1u) << check.out;
    for (const auto& f : p["files"]) affected.insert(f.get<std::string>());
  }
  ASSERT_FALSE(affected.empty()) << "pack " << victim << ": " << check.out;
  // Restore writes every file the lost pack does not hold, and never a
  // wrong one.
  RunResult restored = pxb_.Run({"restore", "latest", "--target", dir_.Path("out")});
  EXPECT_EQ(restored.exit_code, 14) << restored.Describe();
  Manifest expected = TreeManifest(src_);
  Manifest got = TreeManifest(dir_.Path("out") + src_);
  size_t intact = 0;
  for (const auto& [path, entry] : expected) {
    if (entry.rfind("file", 0) != 0) continue;
    const bool hit = std::any_of(affected.begin(), affected.end(), [&](const std::string& f) {
      return f.size() >= path.size() && f.compare(f.size() - path.size(), path.size(), path) == 0;
    });
    if (hit) {
      // Range reads may still find its chunks in the surviving data shards;
      // what is written must then be right.
      if (got.count(path)) {
        EXPECT_EQ(got[path], entry) << path;
      }
    } else {
      EXPECT_EQ(got[path], entry) << path;
      intact++;
    }
  }
  EXPECT_GT(intact, 5u);
}

TEST_F(TargetsTest, AnyOneTargetOpensTheRepository) {
  ASSERT_EQ(pxb_.Init().exit_code, 0);
  pxb_.Backup({src_});
  Pxb from_one_target("file://" + targets_[4]);
  std::vector<std::string> ids = from_one_target.SnapshotIds();
  ASSERT_EQ(ids.size(), 1u);
  RunResult restored = from_one_target.Run({"restore", "latest", "--target", dir_.Path("out")});
  ASSERT_EQ(restored.exit_code, 0) << restored.Describe();
  EXPECT_EQ(TreeManifest(src_), TreeManifest(dir_.Path("out") + src_));
}

TEST_F(TargetsTest, InitRefusesAnExistingRepository) {
  ASSERT_EQ(pxb_.Init().exit_code, 0);
  RunResult second = pxb_.Run({"init", "--kdf-memory", "8", "--kdf-iterations", "1"});
  EXPECT_NE(second.exit_code, 0);
}

}  // namespace
}  // namespace pxb::e2e
