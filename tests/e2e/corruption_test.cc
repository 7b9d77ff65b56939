// Damaged repositories: for each kind of object, a flipped byte, a truncated
// object and a deleted object, each on a fresh copy of one repository.
// `check --read-data` must find and name the damage, nothing may crash, and
// what does not depend on the damaged object must still restore exactly.
//
// The repository holds three snapshots of a folder that grows by one file of
// 1.5 MiB random bytes per backup (a, then b, then c), with --pack-size 1: each
// backup writes its own packs, so the data packs of one backup hold only the
// new file's chunks.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <set>

#include "testing/e2e.h"

namespace pxb::e2e {
namespace {

namespace fs = std::filesystem;

enum class Kind { kPack, kIndex, kSnapshot, kKeySlot, kConfig };
enum class Damage { kFlip, kTruncate, kDelete };

void PrintTo(Kind kind, std::ostream* os) {
  const char* names[] = {"Pack", "Index", "Snapshot", "KeySlot", "Config"};
  *os << names[static_cast<int>(kind)];
}

void PrintTo(Damage damage, std::ostream* os) {
  const char* names[] = {"Flip", "Truncate", "Delete"};
  *os << names[static_cast<int>(damage)];
}

const std::set<int> kDocumentedExitCodes{0, 1, 2, 3, 10, 11, 12, 14, 130};

std::set<std::string> ObjectsUnder(const std::string& folder) {
  std::set<std::string> out;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(folder, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (it->is_regular_file()) out.insert(it->path().string());
  }
  return out;
}

std::string Short(const std::string& path_or_id) {
  return fs::path(path_or_id).filename().string().substr(0, 8);
}

void Corrupt(const std::string& path, Damage damage, off_t flip_at = -1) {
  const off_t size = static_cast<off_t>(fs::file_size(path));
  switch (damage) {
    case Damage::kFlip: {
      int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
      ASSERT_GE(fd, 0) << path;
      const off_t at = flip_at >= 0 ? flip_at : size / 2;
      char c;
      ASSERT_EQ(::pread(fd, &c, 1, at), 1);
      c = static_cast<char>(c ^ 0x55);
      ASSERT_EQ(::pwrite(fd, &c, 1, at), 1);
      ::close(fd);
      break;
    }
    case Damage::kTruncate:
      ASSERT_EQ(::truncate(path.c_str(), size / 2), 0) << path;
      break;
    case Damage::kDelete:
      ASSERT_TRUE(fs::remove(path)) << path;
      break;
  }
}

class CorruptionTest : public ::testing::TestWithParam<std::tuple<Kind, Damage>> {
 protected:
  static constexpr char kSecondPassphrase[] = "second-passphrase";

  void SetUp() override {
    src_ = dir_.Path("src");
    MakeDirs(src_);
    base_.Init({"--pack-size", "1"});
    std::mt19937_64 rng(7);
    const char* names[] = {"a", "b", "c"};
    for (int i = 0; i < 3; ++i) {
      content_[names[i]] = RandomData(rng, 1536 * 1024);
      WriteFile(src_ + "/" + names[i], content_[names[i]]);
      const std::set<std::string> packs_before = ObjectsUnder(base_.repo() + "/data");
      const std::set<std::string> index_before = ObjectsUnder(base_.repo() + "/index");
      snapshots_.push_back(base_.Backup({src_})["id"].get<std::string>());
      for (const std::string& p : ObjectsUnder(base_.repo() + "/data")) {
        // Tree packs are small; data packs hold at least one 256 KiB chunk.
        if (!packs_before.contains(p) && fs::file_size(p) > 200 * 1024) {
          data_packs_[i].push_back(p);
        }
        if (!packs_before.contains(p)) new_packs_[i].push_back(p);
      }
      for (const std::string& x : ObjectsUnder(base_.repo() + "/index")) {
        if (!index_before.contains(x)) indexes_[i].push_back(x);
      }
      ASSERT_FALSE(data_packs_[i].empty());
      ASSERT_EQ(indexes_[i].size(), 1u);
    }
    first_slot_ = *ObjectsUnder(base_.repo() + "/keys").begin();
    RunOptions add;
    add.env.emplace_back("PLEXIBACKUP_NEW_PASSWORD", kSecondPassphrase);
    RunResult key = base_.Run({"key", "add", "--kdf-memory", "8", "--kdf-iterations", "1"}, add);
    ASSERT_EQ(key.exit_code, 0) << key.Describe();
    ASSERT_EQ(ObjectsUnder(base_.repo() + "/keys").size(), 2u);
    RunResult copy = RunProgram({"cp", "-a", base_.repo(), work_.repo()});
    ASSERT_EQ(copy.exit_code, 0) << copy.Describe();
  }

  // The path of `path` inside the work copy.
  std::string InWork(const std::string& path) const {
    return work_.repo() + path.substr(base_.repo().size());
  }

  nlohmann::json CheckReport(const Pxb& pxb, int expected_exit) {
    RunResult r = pxb.Run({"--json", "check", "--read-data"});
    EXPECT_EQ(r.exit_code, expected_exit) << r.Describe();
    return JsonOfType(r.out, "check");
  }

  // Restores one file of a snapshot into a fresh folder and compares it.
  void ExpectFileRestores(const Pxb& pxb, int snapshot, const std::string& name) {
    const std::string target = dir_.Path("ok-" + std::to_string(snapshot) + name);
    RunResult r =
        pxb.Run({"restore", snapshots_[snapshot] + ":" + src_ + "/" + name, "--target", target});
    ASSERT_EQ(r.exit_code, 0) << "restore " << name << " of snapshot " << snapshot << ": "
                              << r.Describe();
    EXPECT_TRUE(ReadFile(target + "/" + name) == content_[name]) << name << " differs";
  }

  // Restoring an affected file fails with 14, leaves no temporary file and
  // does not touch the file already at the destination.
  void ExpectFileRestoreFails(const Pxb& pxb, int snapshot, const std::string& name) {
    const std::string target = dir_.Path("bad-" + std::to_string(snapshot) + name);
    MakeDirs(target);
    const std::string existing = "an older good version of " + name;
    WriteFile(target + "/" + name, existing);
    RunResult r =
        pxb.Run({"restore", snapshots_[snapshot] + ":" + src_ + "/" + name, "--target", target});
    EXPECT_EQ(r.exit_code, 14) << r.Describe();
    EXPECT_EQ(ReadFile(target + "/" + name), existing);
    EXPECT_TRUE(FindFilesWithPrefix(target, ".pxb-restore.").empty());

    // A whole snapshot: the other files are written, the affected one is not.
    const std::string whole = dir_.Path("whole-" + std::to_string(snapshot) + name);
    RunResult all = pxb.Run({"restore", snapshots_[snapshot] + ":" + src_, "--target", whole});
    EXPECT_EQ(all.exit_code, 14) << all.Describe();
    EXPECT_FALSE(Exists(whole + "/" + name)) << "a damaged file was written under its name";
    for (const auto& [other, content] : content_) {
      if (other == name || other > std::string(1, static_cast<char>('a' + snapshot))) continue;
      EXPECT_TRUE(ReadFile(whole + "/" + other) == content) << other << " differs";
    }
    EXPECT_TRUE(FindFilesWithPrefix(whole, ".pxb-restore.").empty());
  }

  // Every command ends with a documented exit code, never a signal.
  void ExpectNoCrash(const Pxb& pxb) {
    for (const std::vector<std::string>& args :
         {std::vector<std::string>{"snapshots"},
          {"ls", "-l", "-R", snapshots_[2]},
          {"check"},
          {"check", "--read-data"},
          {"diff", snapshots_[0], snapshots_[2]},
          {"dump", snapshots_[2], src_ + "/b"},
          {"find", "b"},
          {"key", "list"},
          {"stats"},
          {"restore", "latest", "--target", dir_.Path("any")},
          {"backup", src_}}) {
      RunResult r = pxb.Run(args);
      EXPECT_EQ(r.signal, 0) << args[0] << " crashed: " << r.Describe();
      EXPECT_TRUE(kDocumentedExitCodes.contains(r.exit_code)) << args[0] << ": " << r.Describe();
    }
  }

  TempDir dir_;
  std::string src_;
  Pxb base_{dir_.Path("base")};
  Pxb work_{dir_.Path("work")};
  Pxb second_{dir_.Path("work"), kSecondPassphrase};
  std::map<std::string, std::string> content_;
  std::vector<std::string> snapshots_;
  std::map<int, std::vector<std::string>> data_packs_, new_packs_, indexes_;
  std::string first_slot_;
};

// A problem whose object is `object`, or null.
nlohmann::json FindProblem(const nlohmann::json& report, const std::string& object) {
  for (const nlohmann::json& p : report["problems"]) {
    if (p["object"] == object) return p;
  }
  return nullptr;
}

bool ListsFile(const nlohmann::json& problem, const std::string& snapshot,
               const std::string& path) {
  for (const auto& f : problem["files"]) {
    if (f == Short(snapshot) + ":" + path) return true;
  }
  return false;
}

TEST_P(CorruptionTest, IsFoundAndContained) {
  const auto [kind, damage] = GetParam();
  switch (kind) {
    case Kind::kPack: {
      // A data pack of b: snapshots 1 and 2 need it, snapshot 0 does not.
      const std::string pack = data_packs_[1].front();
      Corrupt(InWork(pack), damage);
      nlohmann::json report = CheckReport(work_, 14);
      nlohmann::json problem = FindProblem(report, "pack " + Short(pack));
      ASSERT_FALSE(problem.is_null()) << report.dump(1);
      EXPECT_EQ(problem["snapshots"], nlohmann::json::array({snapshots_[1], snapshots_[2]}))
          << problem.dump(1);
      EXPECT_TRUE(ListsFile(problem, snapshots_[1], src_ + "/b")) << problem.dump(1);
      EXPECT_TRUE(ListsFile(problem, snapshots_[2], src_ + "/b")) << problem.dump(1);
      for (const nlohmann::json& p : report["problems"]) {
        EXPECT_EQ(p["files"].dump().find("/a\""), std::string::npos) << p.dump();
        EXPECT_EQ(p["files"].dump().find("/c\""), std::string::npos) << p.dump();
      }
      ExpectFileRestores(work_, 0, "a");
      ExpectFileRestores(work_, 2, "a");
      ExpectFileRestores(work_, 2, "c");
      ExpectFileRestoreFails(work_, 2, "b");
      ExpectFileRestoreFails(work_, 1, "b");
      break;
    }
    case Kind::kIndex: {
      const std::string index = indexes_[1].front();
      Corrupt(InWork(index), damage);
      nlohmann::json report = CheckReport(work_, 14);
      if (damage == Damage::kDelete) {
        // Nothing names the deleted index; the packs it listed are unindexed.
        for (const std::string& pack : new_packs_[1]) {
          EXPECT_NE(report["notes"].dump().find("pack " + Short(pack) + " is not in any index"),
                    std::string::npos)
              << report.dump(1);
        }
        ExpectFileRestores(work_, 0, "a");
        ExpectFileRestores(work_, 2, "a");
        ExpectFileRestores(work_, 2, "c");
        ExpectFileRestoreFails(work_, 2, "b");
      } else {
        EXPECT_FALSE(FindProblem(report, "index " + Short(index)).is_null()) << report.dump(1);
        // The packs' own headers stand in for the damaged index.
        for (const char* name : {"a", "b", "c"}) ExpectFileRestores(work_, 2, name);
        ExpectFileRestores(work_, 1, "b");
      }
      break;
    }
    case Kind::kSnapshot: {
      const std::string snapshot = base_.repo() + "/snapshots/" + snapshots_[1];
      Corrupt(InWork(snapshot), damage);
      nlohmann::json report = CheckReport(work_, 14);
      if (damage == Damage::kDelete) {
        // The next snapshot's chain link names the missing one.
        nlohmann::json problem = FindProblem(report, "snapshot " + Short(snapshots_[2]));
        ASSERT_FALSE(problem.is_null()) << report.dump(1);
        EXPECT_NE(problem["message"].get<std::string>().find(Short(snapshots_[1])),
                  std::string::npos);
      } else {
        EXPECT_FALSE(FindProblem(report, "snapshot " + Short(snapshots_[1])).is_null())
            << report.dump(1);
      }
      ExpectFileRestores(work_, 0, "a");
      for (const char* name : {"a", "b", "c"}) ExpectFileRestores(work_, 2, name);
      break;
    }
    case Kind::kKeySlot: {
      // The first slot is damaged; the second opens with another passphrase.
      Corrupt(InWork(first_slot_), damage);
      if (damage == Damage::kDelete) {
        // A deleted slot looks like a removed one.
        CheckReport(second_, 0);
      } else {
        nlohmann::json report = CheckReport(second_, 14);
        EXPECT_FALSE(FindProblem(report, "key slot " + Short(first_slot_)).is_null())
            << report.dump(1);
      }
      for (const char* name : {"a", "b", "c"}) ExpectFileRestores(second_, 2, name);
      RunResult first = work_.Run({"snapshots"});
      EXPECT_TRUE(first.exit_code == 12 || first.exit_code == 14) << first.Describe();
      break;
    }
    case Kind::kConfig: {
      Corrupt(work_.repo() + "/config", damage);
      RunResult r = work_.Run({"--json", "check", "--read-data"});
      const std::string message = JsonOfType(r.out, "error").value("message", "");
      if (damage == Damage::kDelete) {
        EXPECT_EQ(r.exit_code, 10) << r.Describe();
        EXPECT_NE(message.find("no repository"), std::string::npos) << message;
      } else {
        EXPECT_EQ(r.exit_code, 14) << r.Describe();
        EXPECT_NE(message.find("config"), std::string::npos) << message;
      }
      RunResult restore = work_.Run({"restore", snapshots_[0], "--target", dir_.Path("x")});
      EXPECT_EQ(restore.exit_code, r.exit_code) << restore.Describe();
      break;
    }
  }
  ExpectNoCrash(work_);
  ExpectNoCrash(second_);
}

std::string CaseName(const ::testing::TestParamInfo<std::tuple<Kind, Damage>>& info) {
  return ::testing::PrintToString(std::get<0>(info.param)) +
         ::testing::PrintToString(std::get<1>(info.param));
}

INSTANTIATE_TEST_SUITE_P(
    AllObjects, CorruptionTest,
    ::testing::Combine(::testing::Values(Kind::kPack, Kind::kIndex, Kind::kSnapshot, Kind::kKeySlot,
                                         Kind::kConfig),
                       ::testing::Values(Damage::kFlip, Damage::kTruncate, Damage::kDelete)),
    CaseName);

// One damaged snapshot must not hide the others: listing, `latest` and the
// next backup go on.
TEST_F(CorruptionTest, DamagedSnapshotDoesNotBlockTheOthers) {
  Corrupt(InWork(base_.repo() + "/snapshots/" + snapshots_[1]), Damage::kFlip);
  RunResult list = work_.Run({"--json", "snapshots"});
  EXPECT_EQ(list.exit_code, 0) << list.Describe();
  EXPECT_NE(list.out.find(snapshots_[2]), std::string::npos) << list.out;
  RunResult latest = work_.Run({"--json", "restore", "latest", "--target", dir_.Path("latest")});
  EXPECT_EQ(latest.exit_code, 0) << latest.Describe();
  EXPECT_EQ(JsonOfType(latest.out, "summary")["snapshot"], snapshots_[2]) << latest.out;
  RunResult backup = work_.Run({"backup", src_});
  EXPECT_EQ(backup.exit_code, 0) << backup.Describe();
}

// A damaged key slot (here no longer JSON) can be listed and removed with
// another slot.
TEST_F(CorruptionTest, DamagedKeySlotCanBeRemoved) {
  Corrupt(InWork(first_slot_), Damage::kTruncate);
  RunResult list = second_.Run({"key", "list"});
  EXPECT_EQ(list.exit_code, 0) << list.Describe();
  RunResult remove = second_.Run({"key", "remove", Short(first_slot_)});
  EXPECT_EQ(remove.exit_code, 0) << remove.Describe();
  EXPECT_FALSE(Exists(InWork(first_slot_)));
}

// A flipped byte in the config's clear repository id is damage, not a wrong
// passphrase.
TEST_F(CorruptionTest, DamagedConfigIdIsReportedAsDamage) {
  Corrupt(work_.repo() + "/config", Damage::kFlip, /*flip_at=*/20);
  RunResult r = work_.Run({"check"});
  EXPECT_EQ(r.exit_code, 14) << r.Describe();
  EXPECT_NE(r.err.find("config"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace pxb::e2e
