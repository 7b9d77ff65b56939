#include "engine/sqlite_source.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <atomic>
#include <fstream>
#include <mutex>
#include <thread>
#include <vector>

#include "core/time.h"
#include "engine/fs/testing/temp_dir.h"
#include "pxb/bytes.h"

namespace pxb {
namespace {

// A connection for setting up and checking databases; fails the test on
// any SQLite error.
class Db {
 public:
  explicit Db(const std::string& path, int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) {
    EXPECT_EQ(sqlite3_open_v2(path.c_str(), &db_, flags, nullptr), SQLITE_OK) << path;
    sqlite3_busy_timeout(db_, 60'000);
  }
  ~Db() { sqlite3_close_v2(db_); }
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  // The SQLite result code of running sql.
  int TryExec(const std::string& sql) {
    return sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, nullptr);
  }
  void Exec(const std::string& sql) {
    EXPECT_EQ(TryExec(sql), SQLITE_OK) << sql << ": " << sqlite3_errmsg(db_);
  }
  std::string Text(const std::string& sql) {
    sqlite3_stmt* stmt = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr), SQLITE_OK) << sql;
    std::string v;
    if (sqlite3_step(stmt) == SQLITE_ROW && sqlite3_column_text(stmt, 0) != nullptr) {
      v = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
    }
    sqlite3_finalize(stmt);
    return v;
  }
  int64_t Int(const std::string& sql) { return std::stoll(Text(sql)); }

 private:
  sqlite3* db_ = nullptr;
};

void Fill(Db& db, int first, int count) {
  db.Exec("BEGIN");
  for (int i = first; i < first + count; ++i) {
    db.Exec("INSERT INTO t(id, v, data) VALUES (" + std::to_string(i) + ", 0, randomblob(300))");
  }
  db.Exec("COMMIT");
}

void CreateTable(Db& db, const std::string& journal_mode) {
  db.Exec("PRAGMA journal_mode = " + journal_mode);
  db.Exec("CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER NOT NULL, data BLOB)");
  db.Exec("CREATE INDEX t_v ON t(v)");
}

// Reads the whole snapshot in odd-sized batches and closes the reader.
Bytes ReadAll(SqliteSnapshotReader& reader) {
  const SqliteSnapshotInfo& info = reader.info();
  Bytes out(info.bytes());
  for (uint64_t first = 1; first <= info.pages; first += 7) {
    uint64_t n = std::min<uint64_t>(7, info.pages - first + 1);
    std::span<std::byte> view(out.data() + (first - 1) * info.page_size, n * info.page_size);
    Status s = reader.ReadPages(first, view);
    EXPECT_TRUE(s.ok()) << s.ToString();
  }
  Status closed = reader.Close();
  EXPECT_TRUE(closed.ok()) << closed.ToString();
  return out;
}

// Only for files no connection has open: closing a descriptor drops every
// POSIX lock the process holds on the file, SQLite's included.
std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

void WriteFile(const std::string& path, ByteView data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
}

struct Contents {
  std::string integrity;
  int64_t rows = -1;
  int64_t sum_v = -1;
};

// Writes `copy` as a database of its own, as a restore would, and reads it.
Contents Inspect(const TempDir& dir, ByteView copy) {
  static int counter = 0;
  const std::string path = dir.Path("copy-" + std::to_string(counter++) + ".db");
  WriteFile(path, copy);
  Db db(path, SQLITE_OPEN_READWRITE);
  Contents c;
  c.integrity = db.Text("PRAGMA integrity_check");
  c.rows = db.Int("SELECT count(*) FROM t");
  c.sum_v = db.Int("SELECT coalesce(sum(v), 0) FROM t");
  return c;
}

StatusOr<std::unique_ptr<SqliteSnapshotReader>> OpenReader(const std::string& path) {
  return SqliteSnapshotReader::Open(path, SqliteReadOptions{});
}

TEST(SqliteSnapshotReaderTest, RollbackJournalCopyIsTheFile) {
  TempDir dir;
  const std::string path = dir.Path("a.db");
  {
    Db db(path);
    CreateTable(db, "DELETE");
    Fill(db, 1, 1000);
  }
  auto reader = OpenReader(path);
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  const SqliteSnapshotInfo info = (*reader)->info();
  EXPECT_FALSE(info.wal);
  EXPECT_EQ(info.page_size, 4096u);
  EXPECT_EQ(info.wal_frames, 0u);
  EXPECT_GT(info.snapshot_time_ns, NowNanos() - int64_t{60'000'000'000});
  Bytes copy = ReadAll(**reader);
  std::string file = ReadFile(path);
  ASSERT_EQ(copy.size(), file.size());
  EXPECT_TRUE(std::memcmp(copy.data(), file.data(), file.size()) == 0);
}

TEST(SqliteSnapshotReaderTest, WalPagesComeFromTheLog) {
  TempDir dir;
  const std::string path = dir.Path("a.db");
  Db writer(path);
  writer.Exec("PRAGMA wal_autocheckpoint = 0");  // every commit stays in the log
  CreateTable(writer, "WAL");
  for (int i = 0; i < 5; ++i) Fill(writer, 1 + i * 100, 100);
  writer.Exec("UPDATE t SET v = 1 WHERE id % 10 = 0");

  auto reader = OpenReader(path);
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  const SqliteSnapshotInfo info = (*reader)->info();
  EXPECT_TRUE(info.wal);
  EXPECT_GT(info.wal_frames, 0u);
  EXPECT_GT(info.wal_pages, 0u);
  // The file alone is behind: most of the database exists only in the log.
  EXPECT_LT(std::filesystem::file_size(path), info.bytes());
  Contents c = Inspect(dir, ReadAll(**reader));
  EXPECT_EQ(c.integrity, "ok");
  EXPECT_EQ(c.rows, 500);
  EXPECT_EQ(c.sum_v, 50);
}

TEST(SqliteSnapshotReaderTest, WalSnapshotIgnoresLaterCommitsAndCheckpoints) {
  TempDir dir;
  const std::string path = dir.Path("a.db");
  Db writer(path);
  writer.Exec("PRAGMA wal_autocheckpoint = 0");
  CreateTable(writer, "WAL");
  Fill(writer, 1, 300);
  writer.Exec("UPDATE t SET v = 1 WHERE id <= 100");

  auto reader = OpenReader(path);
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  // After the snapshot: new rows, changed rows, and checkpoints that copy
  // what they may into the file.
  Fill(writer, 301, 300);
  writer.Exec("UPDATE t SET v = 2");
  writer.Exec("DELETE FROM t WHERE id > 500");
  writer.Text("PRAGMA wal_checkpoint(PASSIVE)");
  Db other(path);
  other.Exec("PRAGMA busy_timeout = 0");
  other.Text("PRAGMA wal_checkpoint(TRUNCATE)");  // cannot reset the log under the reader
  Fill(writer, 1001, 50);

  Contents c = Inspect(dir, ReadAll(**reader));
  EXPECT_EQ(c.integrity, "ok");
  EXPECT_EQ(c.rows, 300);
  EXPECT_EQ(c.sum_v, 100);
  EXPECT_EQ(writer.Int("SELECT count(*) FROM t"), 550);
}

TEST(SqliteSnapshotReaderTest, FullyCheckpointedWalIsReadFromTheFileEvenIfTheLogIsReset) {
  TempDir dir;
  const std::string path = dir.Path("a.db");
  Db writer(path);
  writer.Exec("PRAGMA wal_autocheckpoint = 0");
  CreateTable(writer, "WAL");
  Fill(writer, 1, 400);
  EXPECT_EQ(writer.Text("PRAGMA wal_checkpoint(PASSIVE)"), "0");  // every frame copied

  auto reader = OpenReader(path);
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  EXPECT_TRUE((*reader)->info().wal);
  EXPECT_EQ((*reader)->info().wal_pages, 0u);
  // The next writer starts the log over, overwriting its first frames.
  writer.Exec("UPDATE t SET v = 7");
  Fill(writer, 401, 100);

  Contents c = Inspect(dir, ReadAll(**reader));
  EXPECT_EQ(c.integrity, "ok");
  EXPECT_EQ(c.rows, 400);
  EXPECT_EQ(c.sum_v, 0);
}

TEST(SqliteSnapshotReaderTest, RollbackModeWritersWaitUntilClose) {
  TempDir dir;
  const std::string path = dir.Path("a.db");
  Db writer(path);
  CreateTable(writer, "DELETE");
  Fill(writer, 1, 10);
  auto reader = OpenReader(path);
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  writer.Exec("PRAGMA busy_timeout = 0");
  EXPECT_EQ(writer.TryExec("INSERT INTO t VALUES (11, 0, NULL)") & 0xff, SQLITE_BUSY);
  Contents c = Inspect(dir, ReadAll(**reader));
  EXPECT_EQ(c.rows, 10);
  writer.Exec("INSERT INTO t VALUES (11, 0, NULL)");
}

TEST(SqliteSnapshotReaderTest, RejectsMissingFilesAndFilesThatAreNotDatabases) {
  TempDir dir;
  EXPECT_EQ(OpenReader(dir.Path("missing.db")).status().code(), StatusCode::kNotFound);
  WriteFile(dir.Path("text.db"), ToBytes(std::string(8192, 'x')));
  EXPECT_EQ(OpenReader(dir.Path("text.db")).status().code(), StatusCode::kInvalidArgument);
  WriteFile(dir.Path("empty.db"), ByteView());
  EXPECT_EQ(OpenReader(dir.Path("empty.db")).status().code(), StatusCode::kInvalidArgument);
}

TEST(SqliteSnapshotReaderTest, ReadPagesRejectsRangesOutsideTheSnapshot) {
  TempDir dir;
  const std::string path = dir.Path("a.db");
  {
    Db db(path);
    CreateTable(db, "DELETE");
  }
  auto reader = OpenReader(path);
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  const SqliteSnapshotInfo info = (*reader)->info();
  Bytes buffer((info.pages + 1) * info.page_size);
  EXPECT_EQ((*reader)->ReadPages(0, std::span(buffer).first(info.page_size)).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ((*reader)->ReadPages(1, buffer).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ((*reader)->ReadPages(1, std::span(buffer).first(100)).code(),
            StatusCode::kInvalidArgument);
  EXPECT_TRUE((*reader)->ReadPages(1, std::span(buffer).first(info.bytes())).ok());
  EXPECT_TRUE((*reader)->Close().ok());
}

// A writer commits transactions that each insert row i and bump row i/2,
// while checkpoints run often; every snapshot taken meanwhile must be a
// whole database holding exactly the transactions whose COMMIT began before
// the snapshot time.
class SqliteConcurrentTest : public ::testing::TestWithParam<const char*> {};

TEST_P(SqliteConcurrentTest, SnapshotsHoldExactlyTheCommitsBeforeTheirTime) {
  TempDir dir;
  const std::string path = dir.Path("live.db");
  {
    Db setup(path);
    CreateTable(setup, GetParam());
  }
  std::mutex mu;
  std::vector<int64_t> commit_started;  // [i-1]: when COMMIT of row i began
  std::atomic<bool> stop{false};
  std::atomic<int> writer_errors{0};
  std::thread writer([&] {
    Db db(path);
    db.Exec("PRAGMA wal_autocheckpoint = 16");  // checkpoints all the time (WAL mode)
    for (int i = 1; !stop; ++i) {
      if (db.TryExec("BEGIN IMMEDIATE") != SQLITE_OK) {
        writer_errors++;
        return;
      }
      db.Exec("INSERT INTO t(id, v, data) VALUES (" + std::to_string(i) + ", 0, randomblob(700))");
      if (i > 1) db.Exec("UPDATE t SET v = v + 1 WHERE id = " + std::to_string(i / 2));
      {
        std::lock_guard lock(mu);
        commit_started.push_back(NowNanos());
      }
      if (db.TryExec("COMMIT") != SQLITE_OK) {
        writer_errors++;
        return;
      }
    }
  });
  std::vector<std::pair<SqliteSnapshotInfo, Bytes>> snapshots;
  for (int k = 0; k < 12; ++k) {
    std::this_thread::sleep_for(std::chrono::milliseconds(40));
    auto reader = OpenReader(path);
    ASSERT_TRUE(reader.ok()) << reader.status().ToString();
    SqliteSnapshotInfo info = (*reader)->info();
    snapshots.emplace_back(info, ReadAll(**reader));
  }
  stop = true;
  writer.join();
  ASSERT_EQ(writer_errors, 0);
  int64_t last_rows = -1;
  for (const auto& [info, copy] : snapshots) {
    int64_t expected;
    {
      std::lock_guard lock(mu);
      expected =
          std::lower_bound(commit_started.begin(), commit_started.end(), info.snapshot_time_ns) -
          commit_started.begin();
    }
    Contents c = Inspect(dir, copy);
    EXPECT_EQ(c.integrity, "ok");
    EXPECT_EQ(c.rows, expected);
    EXPECT_EQ(c.sum_v, std::max<int64_t>(0, c.rows - 1));
    EXPECT_GE(c.rows, last_rows);
    last_rows = c.rows;
  }
  EXPECT_GT(last_rows, 10) << "the writer barely ran";
}

INSTANTIATE_TEST_SUITE_P(JournalModes, SqliteConcurrentTest, ::testing::Values("WAL", "DELETE"));

}  // namespace
}  // namespace pxb
