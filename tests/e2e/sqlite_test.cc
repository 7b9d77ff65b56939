// Backups of live SQLite databases (--sqlite) and of PlexiChat server homes
// (--plexichat): consistency under concurrent writers, page-aligned
// deduplication, and the home as one snapshot.
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <mutex>
#include <random>
#include <thread>

#include "core/chunker/page_chunker.h"
#include "core/time.h"
#include "engine/sample/plexichat_home.h"
#include "testing/e2e.h"
#include "testing/live_sqlite.h"

namespace pxb::e2e {
namespace {

// The one "sqlite" entry of a backup's --json databases.
nlohmann::json SqliteEntry(const nlohmann::json& summary) {
  EXPECT_TRUE(summary.contains("databases")) << summary.dump();
  if (!summary.contains("databases") || summary["databases"].size() != 1) return {};
  return summary["databases"][0];
}

class LiveSqliteTest : public ::testing::TestWithParam<const char*> {};

TEST_P(LiveSqliteTest, RestoredDatabaseHoldsExactlyTheCommitsBeforeTheSnapshot) {
  const std::string mode = GetParam();
  TempDir dir;
  const std::string db_path = dir.Path("live.db");
  {
    Db setup(db_path);
    CreateLog(setup, mode, 30'000);
  }
  Pxb pxb(dir.Path("repo"));
  pxb.Init();

  Writer writer(db_path, mode);
  while (writer.Commits() < 50) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  nlohmann::json summary = pxb.Backup({"--sqlite", db_path});
  const int64_t backup_done = NowNanos();
  while (writer.Commits() < writer.CommitsBefore(backup_done) + 20) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  writer.Stop();
  ASSERT_FALSE(writer.failed());

  nlohmann::json entry = SqliteEntry(summary);
  ASSERT_FALSE(entry.is_null());
  EXPECT_EQ(entry["path"], db_path);
  EXPECT_EQ(entry["journal_mode"], mode == "WAL" ? "wal" : "rollback");
  const int64_t moment = entry["snapshot_time_ns"];
  const int64_t expected = writer.CommitsBefore(moment);
  ASSERT_GT(expected, 0);
  ASSERT_GT(writer.Commits(), expected) << "nothing was committed after the snapshot";
  EXPECT_EQ(summary["paths"], nlohmann::json::array({db_path}));

  const std::string target = dir.Path("restored");
  RunResult restore = pxb.Run({"restore", "latest:" + db_path, "--target", target});
  ASSERT_EQ(restore.exit_code, 0) << restore.Describe();
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(target)) {
    names.push_back(e.path().filename());
  }
  EXPECT_EQ(names, std::vector<std::string>{"live.db"}) << "no -wal, -shm or -journal file";
  const std::string restored = target + "/live.db";
  EXPECT_EQ(std::filesystem::file_size(restored), entry["bytes"].get<uint64_t>());
  Db copy(restored);
  EXPECT_EQ(copy.Text("PRAGMA integrity_check"), "ok");
  EXPECT_EQ(copy.Int("SELECT count(*) FROM t"), expected);
  EXPECT_EQ(copy.Int("SELECT coalesce(max(id), 0) FROM t"), expected);
  EXPECT_EQ(copy.Int("SELECT coalesce(sum(v), 0) FROM t"), expected - 1);
  EXPECT_EQ(copy.Int("SELECT count(*) FROM filler"), 30'000);
}

INSTANTIATE_TEST_SUITE_P(JournalModes, LiveSqliteTest, ::testing::Values("WAL", "DELETE"));

// The pages of a database file; the last one may be short.
std::vector<std::string> Pages(const std::string& data, size_t page_size) {
  std::vector<std::string> pages;
  for (size_t at = 0; at < data.size(); at += page_size)
    pages.push_back(data.substr(at, page_size));
  return pages;
}

TEST(SqliteDedupTest, SecondBackupStoresLittleMoreThanTheChangedPages) {
  TempDir dir;
  const std::string db_path = dir.Path("chat.db");
  Db db(db_path);  // stays open, as a server's connection would
  CreateLog(db, "WAL", 8000);
  db.Exec(
      "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 4000) "
      "INSERT INTO t SELECT i, 0, randomblob(500) FROM n");
  Pxb pxb(dir.Path("repo"));
  pxb.Init();
  nlohmann::json first = pxb.Backup({"--sqlite", db_path});

  // Scattered edits and appended rows, committed through the log.
  std::mt19937_64 rng(TestSeed(11));
  for (int i = 0; i < 40; ++i) {
    db.Exec("UPDATE filler SET data = randomblob(1000) WHERE id = " +
            std::to_string(1 + rng() % 8000));
  }
  db.Exec(
      "WITH RECURSIVE n(i) AS (SELECT 4001 UNION ALL SELECT i + 1 FROM n WHERE i < 4200) "
      "INSERT INTO t SELECT i, 1, randomblob(500) FROM n");
  nlohmann::json second = pxb.Backup({"--sqlite", db_path});

  const std::vector<std::string> ids = pxb.SnapshotIds();
  ASSERT_EQ(ids.size(), 2u);
  std::string copies[2];
  for (int k = 0; k < 2; ++k) {
    const std::string target = dir.Path("r" + std::to_string(k));
    RunResult r = pxb.Run({"restore", ids[k] + ":" + db_path, "--target", target});
    ASSERT_EQ(r.exit_code, 0) << r.Describe();
    copies[k] = ReadFile(target + "/chat.db");
  }
  const nlohmann::json entry = SqliteEntry(second);
  ASSERT_FALSE(entry.is_null());
  const size_t page_size = entry["page_size"];
  std::vector<std::string> before = Pages(copies[0], page_size);
  std::vector<std::string> after = Pages(copies[1], page_size);
  size_t changed = 0;
  for (size_t i = 0; i < after.size(); ++i) changed += i >= before.size() || before[i] != after[i];
  ASSERT_GT(changed, 0u);
  ASSERT_LT(changed, after.size() / 10) << "the change should be small";

  // Each changed page costs at most its chunk; trees add a few KiB.
  const uint64_t bound = changed * SqliteChunkSize(static_cast<uint32_t>(page_size)) + 64 * 1024;
  const uint64_t added = second["summary"]["bytes_added"];
  EXPECT_LE(added, bound) << changed << " of " << after.size() << " pages changed";
  EXPECT_LT(added * 10, first["summary"]["bytes_added"].get<uint64_t>());
  Db check(dir.Path("r1/chat.db"));
  EXPECT_EQ(check.Text("PRAGMA integrity_check"), "ok");
  EXPECT_EQ(check.Int("SELECT count(*) FROM t"), 4200);
}

TEST(SqliteDedupTest, DatabasesFoundByThePathWalkAreCutOnPages) {
  // No --sqlite: the file is read as it is, but still chunked by pages, so
  // an edit in place stores about one chunk.
  TempDir dir;
  MakeDirs(dir.Path("src"));
  const std::string db_path = dir.Path("src/app.db");
  {
    Db db(db_path);
    CreateLog(db, "DELETE", 6000);
  }
  Pxb pxb(dir.Path("repo"));
  pxb.Init();
  nlohmann::json first = pxb.Backup({dir.Path("src")});
  {
    Db db(db_path);
    db.Exec("UPDATE filler SET data = randomblob(1000) WHERE id = 3000");
  }
  nlohmann::json second = pxb.Backup({dir.Path("src")});
  EXPECT_EQ(second["summary"]["files_changed"], 1);
  EXPECT_FALSE(second.contains("databases"));
  // Page 1 (change counter), the row's leaf page and the chunks around them.
  EXPECT_LE(second["summary"]["bytes_added"].get<uint64_t>(), 4 * SqliteChunkSize(4096) + 16384);
  EXPECT_GT(first["summary"]["bytes_added"].get<uint64_t>(), 6'000'000u);
}

// A database found by the walk gets its dictionary trained on a worker
// while the walk goes on to the folders after it; its pages are read when
// its folder completes. Its chunks name the dictionary, the tree is in
// order, and the file restores identical, also when it is the only source.
TEST(SqliteDedupTest, ADictionaryTrainedWhileTheWalkGoesOnServesItsDatabase) {
  TempDir dir;
  MakeDirs(dir.Path("src/a_data"));
  MakeDirs(dir.Path("src/b_media/inner"));
  const std::string db_path = dir.Path("src/a_data/chat.db");
  {
    Db db(db_path);
    db.Exec("CREATE TABLE msg (id INTEGER PRIMARY KEY, channel INTEGER, body TEXT)");
    db.Exec(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 120000) "
        "INSERT INTO msg SELECT i, i % 40, printf('message %d from user-%d in channel %d', i, "
        "(i * 7919) % 300, i % 40) FROM n");
  }
  std::mt19937_64 rng(TestSeed(13));
  std::vector<std::string> media;
  for (int i = 0; i < 40; ++i) {
    media.push_back(RandomData(rng, 50'000 + 3'000 * i));
    WriteFile(dir.Path("src/b_media/inner/f" + std::to_string(i)), media.back());
  }
  WriteFile(dir.Path("src/c_last.txt"), "after the folders");
  const std::string database = ReadFile(db_path);
  ASSERT_GT(database.size(), 4u << 20);

  Pxb pxb(dir.Path("repo"));
  pxb.Init({"--pack-size", "1"});
  nlohmann::json first = pxb.Backup({dir.Path("src")});
  EXPECT_EQ(first["summary"]["files_new"], 42);
  size_t naming = 0;
  for (const auto& f : std::filesystem::recursive_directory_iterator(dir.Path("repo/data"))) {
    if (!f.is_regular_file()) continue;
    RunResult cat = pxb.Run({"--json", "cat", "pack", f.path().filename().string()});
    ASSERT_EQ(cat.exit_code, 0) << cat.Describe();
    const nlohmann::json pack = nlohmann::json::parse(cat.out);
    for (const auto& e : pack["blobs"]) {
      if (e["dictionary"].get<int>() > 0) naming++;
    }
  }
  EXPECT_GT(naming, database.size() / 8192 / 2);

  // The database alone: its folder is the file itself, completed at once.
  nlohmann::json alone = pxb.Backup({db_path});
  EXPECT_EQ(alone["summary"]["files_new"], 1);
  EXPECT_LT(alone["summary"]["bytes_added"].get<uint64_t>(), 64u * 1024) << "only trees are new";

  const std::vector<std::string> ids = pxb.SnapshotIds();
  ASSERT_EQ(ids.size(), 2u);
  for (const std::string& id : ids) {
    const std::string target = dir.Path("out-" + id);
    RunResult restored = pxb.Run({"restore", id, "--target", target});
    ASSERT_EQ(restored.exit_code, 0) << restored.Describe();
    EXPECT_TRUE(ReadFile(target + db_path) == database) << id;
  }
  const std::string walked = dir.Path("out-" + first["id"].get<std::string>()) + dir.Path("src");
  for (size_t i = 0; i < media.size(); ++i) {
    EXPECT_TRUE(ReadFile(walked + "/b_media/inner/f" + std::to_string(i)) == media[i]) << i;
  }
  EXPECT_EQ(ReadFile(walked + "/c_last.txt"), "after the folders");
  RunResult check = pxb.Run({"check", "--read-data"});
  EXPECT_EQ(check.exit_code, 0) << check.Describe();
}

// A database of chat-like rows, large enough for a page dictionary: the
// first backup trains one, the next reuses it, and prune's repacking copies
// it along with the chunks that need it.
TEST(SqliteDedupTest, PageDictionariesSurviveReuseRepackAndCheck) {
  TempDir dir;
  const std::string db_path = dir.Path("chat.db");
  Db db(db_path);
  db.Exec("PRAGMA journal_mode = WAL");
  db.Exec("CREATE TABLE msg (id INTEGER PRIMARY KEY, channel INTEGER, body TEXT)");
  db.Exec(
      "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 60000) "
      "INSERT INTO msg SELECT i, i % 40, printf('message %d from user-%d in channel %d: see you "
      "at the standup, the build is green', i, (i * 7919) % 300, i % 40) FROM n");
  Pxb pxb(dir.Path("repo"));
  pxb.Init({"--pack-size", "1"});
  nlohmann::json first = pxb.Backup({"--sqlite", db_path});
  const uint64_t database_bytes = SqliteEntry(first)["bytes"];
  ASSERT_GT(database_bytes, 4u << 20);
  // Text rows in 8 KiB chunks with a dictionary: well under half the size.
  EXPECT_LT(first["summary"]["bytes_stored"].get<uint64_t>() * 2, database_bytes);
  // Every pack holds the dictionary its chunks name.
  auto pack_entries = [&] {
    std::vector<nlohmann::json> entries;
    for (const auto& f : std::filesystem::recursive_directory_iterator(dir.Path("repo/data"))) {
      if (!f.is_regular_file()) continue;
      RunResult cat = pxb.Run({"--json", "cat", "pack", f.path().filename().string()});
      EXPECT_EQ(cat.exit_code, 0) << cat.Describe();
      const nlohmann::json pack = nlohmann::json::parse(cat.out);
      for (const auto& e : pack["blobs"]) entries.push_back(e);
    }
    return entries;
  };
  auto count = [](const std::vector<nlohmann::json>& entries, auto predicate) {
    return std::count_if(entries.begin(), entries.end(), predicate);
  };
  auto is_dictionary = [](const nlohmann::json& e) { return e["type"] == "dictionary"; };
  auto names_one = [](const nlohmann::json& e) { return e["dictionary"].get<int>() > 0; };
  std::vector<nlohmann::json> entries = pack_entries();
  EXPECT_GT(count(entries, is_dictionary), 0) << entries.size();
  EXPECT_GT(count(entries, names_one), 500);

  db.Exec("UPDATE msg SET body = body || ' (edited)' WHERE id % 500 = 0");
  pxb.Backup({"--sqlite", db_path});
  db.Exec("UPDATE msg SET channel = 99 WHERE id % 700 = 0");
  pxb.Backup({"--sqlite", db_path});
  const std::vector<std::string> ids = pxb.SnapshotIds();
  ASSERT_EQ(ids.size(), 3u);

  RunResult forget = pxb.Run(
      {"--json", "forget", ids[0], ids[1], "--prune", "--grace", "0", "--repack-threshold", "1%"});
  ASSERT_EQ(forget.exit_code, 0) << forget.Describe();
  const nlohmann::json pruned = JsonOfType(forget.out, "prune");
  EXPECT_GT(pruned["blobs_repacked"].get<uint64_t>(), 0u) << forget.out;
  RunResult check = pxb.Run({"check", "--read-data"});
  EXPECT_EQ(check.exit_code, 0) << check.Describe();
  // Repacked chunks still name a dictionary, now in their new packs.
  entries = pack_entries();
  EXPECT_GT(count(entries, names_one), 500);
  // A dictionary is overhead of its pack, not unused data: nothing is left
  // to repack.
  RunResult again = pxb.Run({"--json", "prune", "--grace", "0", "--repack-threshold", "1%"});
  ASSERT_EQ(again.exit_code, 0) << again.Describe();
  EXPECT_EQ(JsonOfType(again.out, "prune")["blobs_repacked"], 0) << again.out;

  const std::string target = dir.Path("restored");
  RunResult restored = pxb.Run({"restore", "latest", "--target", target});
  ASSERT_EQ(restored.exit_code, 0) << restored.Describe();
  Db copy(target + db_path);
  EXPECT_EQ(copy.Text("PRAGMA integrity_check"), "ok");
  EXPECT_EQ(copy.Int("SELECT count(*) FROM msg WHERE channel = 99"), 60000 / 700);
  EXPECT_EQ(copy.Int("SELECT count(*) FROM msg WHERE body LIKE '%(edited)'"), 60000 / 500);
}

// A file of many thousand page chunks: their results are collected while
// the file is still being read, in order.
TEST(SqliteDedupTest, AFileOfManyThousandChunksRestoresIdentical) {
  TempDir dir;
  MakeDirs(dir.Path("src"));
  std::mt19937_64 rng(TestSeed(12));
  std::string content = std::string("SQLite format 3") + '\0' + std::string("\x10\x00", 2);
  content += RandomData(rng, 48 * 1024 * 1024 - content.size());
  WriteFile(dir.Path("src/big.db"), content);
  Pxb pxb(dir.Path("repo"));
  pxb.Init();
  nlohmann::json backup = pxb.Backup({dir.Path("src")});
  EXPECT_GE(backup["summary"]["blobs_added"].get<uint64_t>(), content.size() / 8192);
  RunResult restored = pxb.Run({"restore", "latest", "--target", dir.Path("out")});
  ASSERT_EQ(restored.exit_code, 0) << restored.Describe();
  EXPECT_TRUE(ReadFile(dir.Path("out") + dir.Path("src/big.db")) == content);
}

TEST(SqliteCliTest, RejectsWhatIsNotADatabaseFile) {
  TempDir dir;
  Pxb pxb(dir.Path("repo"));
  pxb.Init();
  MakeDirs(dir.Path("folder"));
  RunResult folder = pxb.Run({"backup", "--sqlite", dir.Path("folder")});
  EXPECT_EQ(folder.exit_code, 2) << folder.Describe();
  RunResult missing = pxb.Run({"backup", "--sqlite", dir.Path("missing.db")});
  EXPECT_EQ(missing.exit_code, 2) << missing.Describe();
  RunResult with_stdin = pxb.Run({"backup", "--stdin", "--sqlite", dir.Path("x.db")});
  EXPECT_EQ(with_stdin.exit_code, 2) << with_stdin.Describe();
  // A file that is not a database cannot be read consistently: reported,
  // left out, the snapshot partial.
  WriteFile(dir.Path("text.db"), "not a database\n");
  RunResult text = pxb.Run({"backup", "--sqlite", dir.Path("text.db")});
  EXPECT_EQ(text.exit_code, 3) << text.Describe();
  EXPECT_NE(text.err.find("not a SQLite 3 database"), std::string::npos) << text.err;
  EXPECT_TRUE(pxb.SnapshotIds().size() == 1u);
}

TEST(SqliteCliTest, CombinesWithPathsAndLeavesTheJournalFilesOut) {
  TempDir dir;
  MakeDirs(dir.Path("app"));
  MakeDirs(dir.Path("uploads"));
  WriteFile(dir.Path("app/notes.txt"), "notes\n");
  WriteFile(dir.Path("uploads/a.bin"), "upload\n");
  const std::string db_path = dir.Path("app/app.db");
  Db db(db_path);
  CreateLog(db, "WAL", 100);
  ASSERT_TRUE(Exists(db_path + "-wal"));
  Pxb pxb(dir.Path("repo"));
  pxb.Init();
  // The database lies inside a folder that is backed up too, and a second
  // folder follows the flag.
  nlohmann::json summary = pxb.Backup({"--sqlite", db_path, dir.Path("app"), dir.Path("uploads")});
  EXPECT_EQ(summary["paths"], nlohmann::json::array({dir.Path("app"), dir.Path("uploads")}));
  ASSERT_FALSE(SqliteEntry(summary).is_null());
  const std::string target = dir.Path("restored");
  RunResult restore = pxb.Run({"restore", "latest", "--target", target});
  ASSERT_EQ(restore.exit_code, 0) << restore.Describe();
  Manifest restored = TreeManifest(target + dir.path());
  std::vector<std::string> names;
  for (const auto& [path, what] : restored) names.push_back(path);
  std::vector<std::string> expected = {"app", "app/app.db", "app/notes.txt", "uploads",
                                       "uploads/a.bin"};
  EXPECT_EQ(names, expected);
  Db copy(target + db_path);
  EXPECT_EQ(copy.Text("PRAGMA integrity_check"), "ok");
  EXPECT_EQ(copy.Int("SELECT count(*) FROM filler"), 100);
}

// A PlexiChat home from the generator, its database in WAL mode with
// commits still in the log and a connection open, as under a running server.
TEST(PlexiChatBackupTest, TinyHomeIsOneSnapshotWithAConsistentDatabase) {
  TempDir dir;
  const std::string home = dir.Path("plexichat");
  auto spec = PlexiChatHomeSpecForSize("tiny");
  ASSERT_TRUE(spec.ok());
  ASSERT_TRUE(GeneratePlexiChatHome(home, *spec).ok());
  const std::string db_path = home + "/" + std::string(kPlexiChatDatabasePath);
  const Manifest files_before = TreeManifest(home);

  Db server(db_path);
  server.Exec("PRAGMA journal_mode = WAL");
  server.Exec("PRAGMA wal_autocheckpoint = 0");
  server.Exec("UPDATE auth_users SET last_login_at = '2026-11-24T12:00:00Z' WHERE id % 3 = 0");
  server.Exec(
      "INSERT OR REPLACE INTO sys_settings (key, value, updated_at) "
      "VALUES ('e2e.marker', 'committed', '2026-11-24T12:00:00Z')");
  WriteFile(db_path + "-journal", "");  // a stale journal beside it
  ASSERT_TRUE(Exists(db_path + "-wal"));
  ASSERT_TRUE(Exists(db_path + "-shm"));
  const int64_t logins =
      server.Int("SELECT count(*) FROM auth_users WHERE last_login_at = '2026-11-24T12:00:00Z'");
  ASSERT_GT(logins, 0);

  Pxb pxb(dir.Path("repo"));
  pxb.Init();
  nlohmann::json summary = pxb.Backup({"--plexichat", home});
  EXPECT_EQ(summary["paths"], nlohmann::json::array({home}));
  nlohmann::json entry = SqliteEntry(summary);
  ASSERT_FALSE(entry.is_null());
  EXPECT_EQ(entry["path"], db_path);
  EXPECT_EQ(entry["journal_mode"], "wal");
  EXPECT_GT(entry["wal_pages"].get<int64_t>(), 0) << "the commits are still in the log";

  const std::string target = dir.Path("restored");
  RunResult restore = pxb.Run({"restore", "latest:" + home, "--target", target});
  ASSERT_EQ(restore.exit_code, 0) << restore.Describe();
  Manifest restored = TreeManifest(target);
  for (const char* suffix : {"-wal", "-shm", "-journal"}) {
    EXPECT_EQ(restored.count(std::string(kPlexiChatDatabasePath) + suffix), 0u) << suffix;
  }
  // Keys, configuration and media come back as they were.
  Manifest expected = files_before;
  expected.erase(std::string(kPlexiChatDatabasePath));
  restored.erase(std::string(kPlexiChatDatabasePath));
  EXPECT_EQ(restored, expected) << ManifestDiff(expected, restored);
  EXPECT_TRUE(expected.count(std::string(kPlexiChatConfigPath)));
  EXPECT_TRUE(expected.count("keys/keyring.json"));

  Db copy(target + "/" + std::string(kPlexiChatDatabasePath));
  EXPECT_EQ(copy.Text("PRAGMA integrity_check"), "ok");
  EXPECT_EQ(copy.Text("SELECT value FROM sys_settings WHERE key = 'e2e.marker'"), "committed");
  EXPECT_EQ(copy.Int("SELECT count(*) FROM auth_users WHERE last_login_at = "
                     "'2026-11-24T12:00:00Z'"),
            logins);
  EXPECT_EQ(copy.Int("SELECT count(*) FROM msg_messages"),
            server.Int("SELECT count(*) FROM msg_messages"));
}

// A throwaway PostgreSQL cluster on a unix socket in a temporary folder.
// Skips the test when the server programs are not installed.
class PostgresCluster {
 public:
  explicit PostgresCluster(const std::string& dir) : dir_(dir) {}
  ~PostgresCluster() {
    if (started_)
      Shell(As() + Quote(bin_ + "/pg_ctl") + " -D " + Quote(dir_ + "/data") +
            " -w -m immediate stop");
  }

  // "" when started, else why not.
  std::string Start() {
    RunResult found = Shell(
        "d=$(pg_config --bindir 2>/dev/null); [ -x \"$d/initdb\" ] || "
        "d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1); "
        "[ -x \"$d/initdb\" ] && printf %s \"$d\"");
    if (found.exit_code != 0 || found.out.empty()) return "skip";
    bin_ = found.out;
    // The server refuses to run as root: run it as nobody then.
    if (geteuid() == 0) {
      as_ = "setpriv --reuid=nobody --regid=nogroup --clear-groups ";
      ::chmod(std::filesystem::path(dir_).parent_path().c_str(), 0711);
    }
    MakeDirs(dir_);
    ::chmod(dir_.c_str(), 0777);
    RunResult init = Shell(As() + Quote(bin_ + "/initdb") + " -D " + Quote(dir_ + "/data") +
                           " -U plexichat --auth=trust -E UTF8 --no-sync");
    if (init.exit_code != 0) return "initdb: " + init.Describe();
    RunResult start = Shell(As() + Quote(bin_ + "/pg_ctl") + " -D " + Quote(dir_ + "/data") +
                            " -l " + Quote(dir_ + "/log") + " -w -o \"-c listen_addresses='' -k " +
                            dir_ + " -c fsync=off\" start");
    if (start.exit_code != 0) return "pg_ctl start: " + start.Describe();
    started_ = true;
    return "";
  }

  RunResult Psql(const std::string& database, const std::string& sql) {
    return RunProgram({"psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", dir_, "-U",
                       "plexichat", "-d", database, "-c", sql});
  }
  const std::string& socket_dir() const { return dir_; }

 private:
  static std::string Quote(const std::string& s) { return "'" + s + "'"; }
  std::string As() const { return as_; }

  std::string dir_;
  std::string bin_;
  std::string as_;
  bool started_ = false;
};

TEST(PlexiChatBackupTest, PostgresqlHomeStoresAPgDump) {
  TempDir dir;
  // Under /tmp: the server's user must reach it, and a socket path is short.
  TempDir pg_dir("/tmp");
  PostgresCluster pg(pg_dir.Path("pg"));
  std::string why = pg.Start();
  if (why == "skip") GTEST_SKIP() << "PostgreSQL server programs are not installed";
  ASSERT_EQ(why, "");
  ASSERT_EQ(pg.Psql("postgres", "CREATE DATABASE plexichat").exit_code, 0);
  RunResult create = pg.Psql(
      "plexichat",
      "CREATE TABLE msg_messages (id bigint PRIMARY KEY, body text NOT NULL);"
      "INSERT INTO msg_messages SELECT i, 'message ' || i FROM generate_series(1, 5000) i;");
  ASSERT_EQ(create.exit_code, 0) << create.Describe();

  const std::string home = dir.Path("plexichat");
  auto spec = PlexiChatHomeSpecForSize("tiny");
  ASSERT_TRUE(spec.ok());
  ASSERT_TRUE(GeneratePlexiChatHome(home, *spec).ok());
  // This server keeps its data in PostgreSQL, not in data/plexichat.db.
  std::filesystem::remove_all(home + "/data");
  std::string config = ReadFile(home + "/" + std::string(kPlexiChatConfigPath));
  const std::string sqlite = "database:\n  type: sqlite\n  path: data/plexichat.db\n";
  ASSERT_NE(config.find(sqlite), std::string::npos) << config;
  config.replace(config.find(sqlite), sqlite.size(),
                 "database:\n  type: postgresql\n  host: " + pg.socket_dir() +
                     "\n  name: plexichat\n  user: plexichat\n");
  WriteFile(home + "/" + std::string(kPlexiChatConfigPath), config);

  Pxb pxb(dir.Path("repo"));
  pxb.Init();
  nlohmann::json summary = pxb.Backup({"--plexichat", home});
  EXPECT_EQ(summary["paths"], nlohmann::json::array({home}));
  ASSERT_EQ(summary["databases"].size(), 1u) << summary.dump();
  EXPECT_EQ(summary["databases"][0]["kind"], "postgresql");
  EXPECT_EQ(summary["databases"][0]["path"], home + "/database.pgdump");

  const std::string target = dir.Path("restored");
  RunResult restore = pxb.Run({"restore", "latest:" + home, "--target", target});
  ASSERT_EQ(restore.exit_code, 0) << restore.Describe();
  EXPECT_TRUE(Exists(target + "/keys/keyring.json"));
  EXPECT_TRUE(Exists(target + "/" + std::string(kPlexiChatConfigPath)));
  // The dump restores into a new database with every row.
  ASSERT_EQ(pg.Psql("postgres", "CREATE DATABASE restored").exit_code, 0);
  RunResult load = RunProgram({"pg_restore", "--no-owner", "-h", pg.socket_dir(), "-U", "plexichat",
                               "-d", "restored", target + "/database.pgdump"});
  ASSERT_EQ(load.exit_code, 0) << load.Describe();
  RunResult count = pg.Psql("restored", "SELECT count(*), sum(length(body)) FROM msg_messages");
  ASSERT_EQ(count.exit_code, 0) << count.Describe();
  EXPECT_EQ(count.out, "5000|58893\n");

  // A database that cannot be dumped leaves the dump out: partial snapshot.
  config.replace(config.find("name: plexichat"), 15, "name: missingdb");
  WriteFile(home + "/" + std::string(kPlexiChatConfigPath), config);
  RunResult failed = pxb.Run({"backup", "--plexichat", home});
  EXPECT_EQ(failed.exit_code, 3) << failed.Describe();
  EXPECT_NE(failed.err.find("pg_dump"), std::string::npos) << failed.err;
}

}  // namespace
}  // namespace pxb::e2e
