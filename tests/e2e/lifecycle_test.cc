// Lifecycle end to end: forget with retention and holds, prune's space
// reclamation, and many writers backing up while prune runs and processes
// are killed at random (doc/design.md section 15).
//
// PXB_E2E_SEED overrides the seed of the stress test.
#include <algorithm>
#include <atomic>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "testing/e2e.h"
#include "testing/live_sqlite.h"

namespace pxb::e2e {
namespace {

using Manifest = std::map<std::string, std::string>;  // relative path -> SHA-256

Manifest FolderManifest(const std::string& root) {
  Manifest m;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(root)) {
    if (!entry.is_regular_file()) continue;
    m[std::filesystem::relative(entry.path(), root).string()] =
        Sha256Hex(ReadFile(entry.path().string()));
  }
  return m;
}

uint64_t FolderBytes(const std::string& root) {
  uint64_t total = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(root)) {
    if (entry.is_regular_file()) total += entry.file_size();
  }
  return total;
}

uint64_t Seed() {
  const char* text = std::getenv("PXB_E2E_SEED");
  return text ? std::stoull(text) : 20261124;
}

TEST(LifecycleTest, ForgetAllButTheLastAndPruneLeavesAFreshBackupsSize) {
  TempDir dir;
  const std::string src = dir.Path("src");
  MakeDirs(src);
  std::mt19937_64 rng(Seed());
  Pxb pxb(dir.Path("repo"));
  ASSERT_EQ(pxb.Init({"--pack-size", "1"}).exit_code, 0);
  // Five versions: most of the data changes between them.
  for (int version = 0; version < 5; ++version) {
    for (int f = 0; f < 6; ++f) {
      if (version == 0 || f % 2 == version % 2) {
        WriteFile(src + "/file" + std::to_string(f), RandomData(rng, 700 * 1024 + f * 1000));
      }
    }
    WriteFile(src + "/v" + std::to_string(version), RandomData(rng, 300 * 1024));
    pxb.Backup({src});
  }
  const uint64_t before = FolderBytes(dir.Path("repo/data"));

  RunResult dry = pxb.Run({"--json", "forget", "--keep-last", "1", "--dry-run"});
  ASSERT_EQ(dry.exit_code, 0) << dry.Describe();
  EXPECT_EQ(JsonOfType(dry.out, "forget")["removed"].size(), 4u);
  EXPECT_EQ(pxb.SnapshotIds().size(), 5u);

  RunResult forget = pxb.Run({"--json", "forget", "--keep-last", "1", "--prune", "--grace", "0",
                              "--repack-threshold", "5%"});
  ASSERT_EQ(forget.exit_code, 0) << forget.Describe();
  nlohmann::json prune = JsonOfType(forget.out, "prune");
  EXPECT_GT(prune["packs_deleted"].get<uint64_t>(), 0u);
  EXPECT_TRUE(prune["waiting"].empty()) << prune.dump();
  ASSERT_EQ(pxb.SnapshotIds().size(), 1u);

  RunResult check = pxb.Run({"check", "--read-data"});
  EXPECT_EQ(check.exit_code, 0) << check.Describe();
  const std::string restored = dir.Path("restored");
  ASSERT_EQ(pxb.Run({"restore", "latest", "--target", restored}).exit_code, 0);
  EXPECT_EQ(FolderManifest(restored + src), FolderManifest(src));

  // No larger than a fresh backup of the same data plus the 5 % repack slack.
  Pxb fresh(dir.Path("fresh"));
  ASSERT_EQ(fresh.Init({"--pack-size", "1"}).exit_code, 0);
  fresh.Backup({src});
  const uint64_t after = FolderBytes(dir.Path("repo/data"));
  const uint64_t fresh_bytes = FolderBytes(dir.Path("fresh/data"));
  EXPECT_LT(after, before / 2);
  EXPECT_LE(after, fresh_bytes + fresh_bytes / 19) << "fresh " << fresh_bytes;

  // A second prune finds nothing to do.
  RunResult again = pxb.Run({"--json", "prune", "--grace", "0", "--repack-threshold", "5%"});
  ASSERT_EQ(again.exit_code, 0) << again.Describe();
  EXPECT_EQ(JsonOfType(again.out, "prune")["packs_condemned"], 0);
}

TEST(LifecycleTest, HoldsProtectSnapshotsAndTheirData) {
  TempDir dir;
  const std::string src = dir.Path("src");
  MakeDirs(src);
  std::mt19937_64 rng(Seed() + 1);
  Pxb pxb(dir.Path("repo"));
  ASSERT_EQ(pxb.Init().exit_code, 0);
  WriteFile(src + "/evidence", RandomData(rng, 400 * 1024));
  const std::string held = pxb.Backup({src})["id"];
  WriteFile(src + "/evidence", RandomData(rng, 400 * 1024));
  const std::string locked = pxb.Backup({src})["id"];
  WriteFile(src + "/evidence", RandomData(rng, 400 * 1024));
  pxb.Backup({src});

  ASSERT_EQ(pxb.Run({"protect", held, "--legal-hold", "--reason", "case 7"}).exit_code, 0);
  ASSERT_EQ(pxb.Run({"protect", locked, "--until", "2099-01-01"}).exit_code, 0);
  EXPECT_NE(pxb.Run({"protect", locked, "--until", "2001-01-01"}).exit_code, 0);

  RunResult refused = pxb.Run({"forget", held});
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_NE(refused.err.find("legal hold"), std::string::npos) << refused.Describe();

  RunResult forget = pxb.Run({"--json", "forget", "--keep-last", "1", "--prune", "--grace", "0"});
  ASSERT_EQ(forget.exit_code, 0) << forget.Describe();
  EXPECT_TRUE(JsonOfType(forget.out, "forget")["removed"].empty());
  EXPECT_EQ(pxb.SnapshotIds().size(), 3u);
  EXPECT_EQ(pxb.Run({"check", "--read-data"}).exit_code, 0);

  EXPECT_NE(pxb.Run({"unprotect", locked}).exit_code, 0);  // the lock runs until 2099
  EXPECT_NE(pxb.Run({"unprotect", held}).exit_code, 0);    // legal holds need the flag
  ASSERT_EQ(pxb.Run({"unprotect", held, "--release-legal-hold"}).exit_code, 0);
  ASSERT_EQ(pxb.Run({"forget", held, "--prune", "--grace", "0"}).exit_code, 0);
  EXPECT_EQ(pxb.SnapshotIds().size(), 2u);
  RunResult check = pxb.Run({"check", "--read-data"});
  EXPECT_EQ(check.exit_code, 0) << check.Describe();
}

TEST(LifecycleTest, ASnapshotDeletedWithoutAForgetRecordBreaksTheChain) {
  TempDir dir;
  const std::string src = dir.Path("src");
  MakeDirs(src);
  Pxb pxb(dir.Path("repo"));
  ASSERT_EQ(pxb.Init().exit_code, 0);
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) {
    WriteFile(src + "/f", "version " + std::to_string(i));
    ids.push_back(pxb.Backup({src})["id"]);
  }
  ASSERT_EQ(pxb.Run({"forget", ids[0]}).exit_code, 0);
  EXPECT_EQ(pxb.Run({"check"}).exit_code, 0);
  std::filesystem::remove(dir.Path("repo/snapshots/" + ids[1]));
  RunResult check = pxb.Run({"check"});
  EXPECT_EQ(check.exit_code, 14) << check.Describe();
  EXPECT_NE(check.err.find("without a forget record"), std::string::npos) << check.Describe();
}

// Repeatable flags take one value each, so paths may follow them.
TEST(LifecycleTest, TagsTakeOneValueAndKeepTagKeepsTaggedSnapshots) {
  TempDir dir;
  const std::string src = dir.Path("src");
  MakeDirs(src);
  Pxb pxb(dir.Path("repo"));
  ASSERT_EQ(pxb.Init().exit_code, 0);
  WriteFile(src + "/f", "audited");
  const std::string audited = pxb.Backup({"--tag", "audit", "--tag", "q4", src})["id"];
  for (int i = 0; i < 3; ++i) {
    WriteFile(src + "/f", "version " + std::to_string(i));
    pxb.Backup({src});
  }
  RunResult listed = pxb.Run({"--json", "snapshots", "--tag", "audit"});
  ASSERT_EQ(listed.exit_code, 0) << listed.Describe();
  const nlohmann::json snapshots = nlohmann::json::parse(listed.out);
  ASSERT_EQ(snapshots.size(), 1u) << listed.out;
  EXPECT_EQ(snapshots[0]["id"], audited);
  EXPECT_EQ(snapshots[0]["tags"], nlohmann::json({"audit", "q4"}));
  EXPECT_EQ(snapshots[0]["paths"].size(), 1u) << listed.out;

  ASSERT_EQ(pxb.Run({"forget", "--keep-last", "1", "--keep-tag", "audit"}).exit_code, 0);
  const std::vector<std::string> kept = pxb.SnapshotIds();
  ASSERT_EQ(kept.size(), 2u);
  EXPECT_EQ(kept[0], audited);
}

// Three writers back up changing trees, one of them with a live SQLite
// database, while prune and forget run, and any of them may be killed at any
// moment. Afterwards check --read-data passes and every snapshot reported
// saved restores byte-identical, unless a forget that reported success
// removed it; each restored database passes integrity_check and holds
// exactly the transactions committed before its snapshot moment.
TEST(LifecycleTest, WritersAndPruneKilledAtRandomLeaveAConsistentRepository) {
  TempDir dir(MemoryTempBase());
  Pxb pxb(dir.Path("repo"));
  ASSERT_EQ(pxb.Init({"--pack-size", "1"}).exit_code, 0);
  const std::string binary = BinaryPath();
  RunOptions options = pxb.Options();
  options.env.emplace_back("PLEXIBACKUP_SESSION_LEASE", "5s");

  const std::string database = dir.Path("live.db");
  {
    Db setup(database);
    CreateLog(setup, "WAL", 2000);
  }
  Writer database_writer(database, "WAL");

  std::mutex mu;
  std::map<std::string, std::pair<std::string, Manifest>> saved;  // id -> (source, manifest)
  std::map<std::string, int64_t> database_moments;                // id -> snapshot moment
  std::set<std::string> forgotten;
  std::atomic<bool> stop{false};
  std::atomic<int> kills{0}, backups{0}, prunes{0};

  auto writer = [&](int w) {
    std::mt19937_64 rng(Seed() * 31 + w);
    const std::string src = dir.Path("src" + std::to_string(w));
    MakeDirs(src);
    for (int round = 0; round < 12; ++round) {
      for (int f = 0; f < 5; ++f) {
        if (round == 0 || rng() % 3 == 0) {
          WriteFile(src + "/f" + std::to_string(f), RandomData(rng, 100 * 1024 + rng() % 300000));
        }
      }
      const Manifest manifest = FolderManifest(src);
      // Killed after 5 to 205 ms in half the rounds.
      std::vector<std::string> argv;
      if (rng() % 2 == 0) {
        argv = {"timeout", "-s", "KILL", std::to_string(0.005 + (rng() % 200) / 1000.0)};
      }
      std::vector<std::string> args = {"--json", "backup", src, "--host",
                                       "writer" + std::to_string(w)};
      if (w == 2) {
        args.push_back("--sqlite");
        args.push_back(database);
      }
      for (const std::string& a : pxb.Argv(args)) argv.push_back(a);
      RunResult r = RunProgram(argv, options);
      if (r.exit_code == 0) {
        const nlohmann::json summary = JsonOfType(r.out, "summary");
        std::lock_guard lock(mu);
        saved[summary["id"]] = {src, manifest};
        if (w == 2) database_moments[summary["id"]] = summary["databases"][0]["snapshot_time_ns"];
        backups++;
      } else {
        ASSERT_TRUE(r.exit_code == 137 || r.signal == SIGKILL) << r.Describe();
        kills++;
      }
    }
  };
  auto pruner = [&] {
    std::mt19937_64 rng(Seed() * 7);
    while (!stop) {
      const int w = static_cast<int>(rng() % 3);
      RunResult f = RunProgram(pxb.Argv({"--json", "forget", "--keep-last", "2", "--host",
                                         "writer" + std::to_string(w)}),
                               options);
      ASSERT_EQ(f.exit_code, 0) << f.Describe();
      const nlohmann::json result = JsonOfType(f.out, "forget");
      {
        std::lock_guard lock(mu);
        for (const auto& id : result["removed"]) forgotten.insert(id);
      }
      std::vector<std::string> argv;
      if (rng() % 2 == 0) {
        argv = {"timeout", "-s", "KILL", std::to_string(0.005 + (rng() % 200) / 1000.0)};
      }
      for (const std::string& a :
           pxb.Argv({"prune", "--grace", "0", "--repack-threshold", "20%"})) {
        argv.push_back(a);
      }
      RunResult p = RunProgram(argv, options);
      if (p.exit_code == 0) {
        prunes++;
      } else {
        ASSERT_TRUE(p.exit_code == 137 || p.signal == SIGKILL) << p.Describe();
        kills++;
      }
    }
  };
  std::thread prune_thread(pruner);
  std::vector<std::thread> writers;
  for (int w = 0; w < 3; ++w) writers.emplace_back(writer, w);
  for (std::thread& t : writers) t.join();
  stop = true;
  prune_thread.join();
  database_writer.Stop();
  ASSERT_FALSE(database_writer.failed());

  // Expired sessions of killed processes end by themselves: one more prune
  // after their lease completes every plan.
  std::this_thread::sleep_for(std::chrono::seconds(6));
  RunResult last = RunProgram(pxb.Argv({"--json", "prune", "--grace", "0"}), options);
  ASSERT_EQ(last.exit_code, 0) << last.Describe();
  EXPECT_TRUE(JsonOfType(last.out, "prune")["waiting"].empty()) << last.out;

  RunResult check = pxb.Run({"check", "--read-data"});
  EXPECT_EQ(check.exit_code, 0) << check.Describe();
  const std::vector<std::string> remaining = pxb.SnapshotIds();
  const std::set<std::string> present(remaining.begin(), remaining.end());
  int restored = 0, databases_restored = 0;
  for (const auto& [id, entry] : saved) {
    if (!present.contains(id)) {
      EXPECT_TRUE(forgotten.contains(id))
          << "snapshot " << id << " vanished without a forget; forgotten: " << forgotten.size()
          << " present: " << present.size() << " first present: " << *present.begin();
      continue;
    }
    const std::string target = dir.Path("restore-" + id.substr(0, 8));
    RunResult r = pxb.Run({"restore", id, "--target", target});
    ASSERT_EQ(r.exit_code, 0) << r.Describe();
    EXPECT_EQ(FolderManifest(target + entry.first), entry.second) << "snapshot " << id;
    if (auto moment = database_moments.find(id); moment != database_moments.end()) {
      Db copy(target + database);
      EXPECT_EQ(copy.Text("PRAGMA integrity_check"), "ok") << "snapshot " << id;
      EXPECT_EQ(copy.Int("SELECT count(*) FROM t"), database_writer.CommitsBefore(moment->second))
          << "snapshot " << id;
      databases_restored++;
    }
    restored++;
  }
  EXPECT_GT(backups.load(), 3);
  EXPECT_GT(prunes.load(), 0);
  EXPECT_GT(kills.load(), 0);
  EXPECT_GT(restored, 0);
  EXPECT_GT(databases_restored, 0);
  std::printf(
      "backups saved %d, prunes completed %d, kills %d, snapshots restored %d (%d with the "
      "database)\n",
      backups.load(), prunes.load(), kills.load(), restored, databases_restored);
}

}  // namespace
}  // namespace pxb::e2e
