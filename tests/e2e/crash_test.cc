// Crash safety: backups of a changing tree are killed with SIGKILL at random
// moments. After each kill the repository must check clean at once (there is
// no lock to remove), every snapshot saved so far must restore exactly what
// it held, and the next backup must succeed.
//
// Every snapshot is checked against a manifest of the tree it was taken of:
// after each kill the newest one through `restore` and two random older ones
// through `dump` (check --read-data has verified every pack by then), and at
// the end all of them through `dump`.
//
// The test runs on /dev/shm when there is one: a killed process loses nothing
// of the page cache, so a disk adds only fsync time.
//
// PXB_E2E_SEED and PXB_E2E_CRASH_RUNS override the seed and the run count.
#include <sys/wait.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <set>
#include <thread>

#include "testing/e2e.h"

namespace pxb::e2e {
namespace {

using Clock = std::chrono::steady_clock;

class ChangingTree {
 public:
  ChangingTree(std::string root, std::mt19937_64& rng) : root_(std::move(root)), rng_(rng) {
    for (int d = 0; d < 8; ++d) {
      MakeDirs(Dir(d));
      for (int f = 0; f < 30; ++f) WriteSmall(Dir(d) + "/f" + std::to_string(f));
    }
    MakeDirs(root_ + "/big");
    for (int b = 0; b < kBigFiles; ++b) WriteFile(Big(b), RandomData(rng_, kBigSize));
  }

  // About 3 MiB of new content (several packs): three big files rewritten,
  // some small files rewritten, created and deleted, now and then a new folder.
  void Mutate(int run) {
    for (int i = 0; i < 3; ++i) {
      WriteFile(Big(Pick(kBigFiles)), RandomData(rng_, kBigSize - 4096 + Pick(8192)));
    }
    std::vector<std::string> small = SmallFiles();
    for (int i = 0; i < 8 && !small.empty(); ++i) WriteSmall(small[Pick(small.size())]);
    for (int i = 0; i < 2; ++i) {
      WriteSmall(Dir(Pick(8)) + "/n" + std::to_string(run) + "_" + std::to_string(i));
    }
    if (!small.empty()) std::filesystem::remove(small[Pick(small.size())]);
    if (run % 10 == 9) {
      const std::string folder = root_ + "/new" + std::to_string(run);
      MakeDirs(folder);
      for (int i = 0; i < 5; ++i) WriteSmall(folder + "/g" + std::to_string(i));
    }
  }

  size_t Pick(size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng_); }

 private:
  static constexpr int kBigFiles = 6;
  static constexpr size_t kBigSize = 1024 * 1024;

  std::string Dir(int d) const { return root_ + "/d" + std::to_string(d); }
  std::string Big(size_t b) const { return root_ + "/big/b" + std::to_string(b); }

  void WriteSmall(const std::string& path) {
    size_t size = Pick(24 * 1024);
    if (Pick(4) == 0) {
      std::string text;
      while (text.size() < size) text += "line " + std::to_string(text.size()) + " of text\n";
      WriteFile(path, text);
    } else {
      WriteFile(path, RandomData(rng_, size));
    }
  }

  std::vector<std::string> SmallFiles() const {
    std::vector<std::string> files;
    for (const auto& e : std::filesystem::recursive_directory_iterator(root_)) {
      if (e.is_regular_file() && e.path().parent_path().filename() != "big") {
        files.push_back(e.path().string());
      }
    }
    std::sort(files.begin(), files.end());  // independent of directory order
    return files;
  }

  std::string root_;
  std::mt19937_64& rng_;
};

TEST(CrashSafetyTest, KilledBackupsLoseNothingCommitted) {
  const uint64_t seed = TestSeed(20241124);
  const int runs = EnvInt("PXB_E2E_CRASH_RUNS", 50);
  std::printf("seed %llu (set PXB_E2E_SEED to repeat), %d runs\n",
              static_cast<unsigned long long>(seed), runs);
  std::mt19937_64 rng(seed);
  TempDir dir(MemoryTempBase());
  const std::string src = dir.Path("src");
  ChangingTree tree(src, rng);
  Pxb pxb(dir.Path("repo"));
  pxb.Init({"--pack-size", "1", "--chunk-size", "64"});

  std::map<std::string, Manifest> expected;  // snapshot id -> tree it holds
  std::vector<std::string> order;            // snapshot ids, oldest first
  auto record = [&](const std::string& id, const Manifest& m) {
    expected[id] = m;
    order.push_back(id);
  };
  record(pxb.Backup({src})["id"].get<std::string>(), TreeManifest(src));

  // Uninterrupted backups of one change each set the range of kill delays.
  std::vector<int64_t> durations_us;
  for (int i = 0; i < 3; ++i) {
    tree.Mutate(-1 - i);
    const auto timed_start = Clock::now();
    nlohmann::json timed = pxb.Backup({src});
    durations_us.push_back(
        std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - timed_start).count());
    record(timed["id"].get<std::string>(), TreeManifest(src));
  }
  ASSERT_FALSE(HasFailure());
  std::sort(durations_us.begin(), durations_us.end());
  const int64_t max_delay_us = durations_us[1];
  std::printf("kill delays: 0 to %lld us\n", static_cast<long long>(max_delay_us));

  auto dump_matches = [&](const std::string& id) {
    RunResult dump = pxb.Run({"dump", id, src});
    EXPECT_EQ(dump.exit_code, 0) << "dump " << id << ": " << dump.Describe();
    Manifest got = TarManifest(dump.out, src.substr(1));
    EXPECT_EQ(got, expected[id]) << "snapshot " << id << " differs:\n"
                                 << ManifestDiff(expected[id], got);
  };

  const std::vector<std::string> backup_argv = pxb.Argv({"-q", "backup", src});
  int killed_before_snapshot = 0, finished_anyway = 0, left_unindexed = 0, left_partial = 0;
  auto count_temporary = [&] {
    std::error_code ec;
    auto it = std::filesystem::directory_iterator(pxb.repo() + "/tmp", ec);
    return ec ? 0 : std::distance(it, std::filesystem::directory_iterator());
  };
  std::set<std::string> unindexed_notes;
  std::map<std::string, Clock::duration> spent;  // per phase, printed at the end
  auto phase_start = Clock::now();
  auto phase = [&](const char* name) {
    const auto t = Clock::now();
    spent[name] += t - phase_start;
    phase_start = t;
  };
  for (int run = 0; run < runs && !HasFailure(); ++run) {
    SCOPED_TRACE("run " + std::to_string(run) + ", seed " + std::to_string(seed));
    tree.Mutate(run);
    const Manifest state = TreeManifest(src);
    const std::set<std::string> before(order.begin(), order.end());
    phase("mutate");

    const auto delay =
        std::chrono::microseconds(std::uniform_int_distribution<int64_t>(0, max_delay_us)(rng));
    {
      const auto temporary_before = count_temporary();
      BackgroundProcess backup(backup_argv, pxb.Options());
      std::this_thread::sleep_for(delay);
      if (backup.Poll()) {
        ASSERT_TRUE(WIFEXITED(backup.status()) && WEXITSTATUS(backup.status()) == 0)
            << "the backup failed on its own, status " << backup.status();
      }
      backup.KillAndWait();
      if (count_temporary() > temporary_before) left_partial++;
    }
    std::vector<std::string> now = pxb.SnapshotIds();
    std::vector<std::string> added;
    for (const std::string& id : now) {
      if (!before.contains(id)) added.push_back(id);
    }
    ASSERT_LE(added.size(), 1u);
    ASSERT_EQ(now.size(), before.size() + added.size()) << "a snapshot disappeared";
    if (added.empty()) {
      killed_before_snapshot++;
    } else {
      finished_anyway++;
      record(added[0], state);
    }

    phase("killed backup");
    RunResult check = pxb.Run({"--json", "check", "--read-data"});
    ASSERT_EQ(check.exit_code, 0) << "check after a kill at " << delay.count()
                                  << " us: " << check.Describe();
    nlohmann::json report = JsonOfType(check.out, "check");
    ASSERT_EQ(report["ok"], true) << check.out;
    bool new_unindexed = false;
    for (const auto& note : report["notes"]) {
      const std::string text = note.get<std::string>();
      if (text.find("not in any index") != std::string::npos) {
        new_unindexed |= unindexed_notes.insert(text).second;
      }
    }
    if (new_unindexed) left_unindexed++;

    phase("check");
    // The newest snapshot through restore, two older ones through dump.
    const std::string& newest = order.back();
    const std::string target = dir.Path("restored");
    RunResult restore = pxb.Run({"-q", "restore", newest + ":" + src, "--target", target});
    ASSERT_EQ(restore.exit_code, 0) << restore.Describe();
    Manifest restored = TreeManifest(target);
    ASSERT_EQ(restored, expected[newest]) << ManifestDiff(expected[newest], restored);
    std::filesystem::remove_all(target);
    for (int i = 0; i < 2; ++i) dump_matches(order[tree.Pick(order.size())]);

    phase("verify");
    // The next backup succeeds.
    nlohmann::json next = pxb.Backup({src});
    phase("next backup");
    ASSERT_FALSE(HasFailure());
    const std::string next_id = next["id"].get<std::string>();
    if (!expected.contains(next_id)) record(next_id, state);
  }
  std::printf(
      "kills: %d before the snapshot was saved, %d after; %d left a partly written object, "
      "%d left unindexed packs\n",
      killed_before_snapshot, finished_anyway, left_partial, left_unindexed);
  for (const auto& [name, d] : spent) {
    std::printf(
        "  %-14s %6lld ms\n", name.c_str(),
        static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(d).count()));
  }
  EXPECT_GT(killed_before_snapshot, 0) << "no kill interrupted a backup";

  for (const std::string& id : order) dump_matches(id);
  RunResult final_check = pxb.Run({"check", "--read-data"});
  EXPECT_EQ(final_check.exit_code, 0) << final_check.Describe();
}

}  // namespace
}  // namespace pxb::e2e
