// A live SQLite database for tests: a connection that fails the test on any
// error, and a writer thread that commits transaction after transaction and
// notes when each COMMIT began, so that a copy can be checked against the
// moment it was taken.
//
//   Writer writer(path, "WAL");
//   ... back up ...
//   EXPECT_EQ(copy.Int("SELECT count(*) FROM t"), writer.CommitsBefore(moment));
#pragma once

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/time.h"

namespace pxb::e2e {

// A connection that fails the test on any SQLite error.
class Db {
 public:
  explicit Db(const std::string& path) {
    EXPECT_EQ(
        sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr),
        SQLITE_OK)
        << path;
    sqlite3_busy_timeout(db_, 120'000);
  }
  ~Db() { sqlite3_close_v2(db_); }
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  bool Exec(const std::string& sql) {
    int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, nullptr);
    EXPECT_EQ(rc, SQLITE_OK) << sql << ": " << sqlite3_errmsg(db_);
    return rc == SQLITE_OK;
  }
  std::string Text(const std::string& sql) {
    sqlite3_stmt* stmt = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr), SQLITE_OK)
        << sql << ": " << sqlite3_errmsg(db_);
    std::string v;
    if (sqlite3_step(stmt) == SQLITE_ROW && sqlite3_column_text(stmt, 0) != nullptr) {
      v = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
    }
    sqlite3_finalize(stmt);
    return v;
  }
  int64_t Int(const std::string& sql) {
    std::string v = Text(sql);
    return v.empty() ? -1 : std::stoll(v);
  }

 private:
  sqlite3* db_ = nullptr;
};

// Table t: row i is inserted by transaction i, which also bumps v of row
// i / 2, so a database holding transactions 1..n has n rows, ids 1..n, and
// sum(v) = n - 1: a torn copy shows in one of the three.
inline void CreateLog(Db& db, const std::string& journal_mode, int filler_rows) {
  db.Exec("PRAGMA journal_mode = " + journal_mode);
  db.Exec("CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER NOT NULL, data BLOB)");
  db.Exec("CREATE INDEX t_v ON t(v)");
  // Filler that makes reading the database take a while.
  db.Exec("CREATE TABLE filler (id INTEGER PRIMARY KEY, data BLOB)");
  db.Exec("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < " +
          std::to_string(filler_rows) + ") INSERT INTO filler SELECT i, randomblob(1000) FROM n");
}

// Commits transaction after transaction to `path` until stopped, noting
// when each COMMIT began.
class Writer {
 public:
  Writer(std::string path, std::string journal_mode)
      : path_(std::move(path)), journal_mode_(std::move(journal_mode)) {
    thread_ = std::thread([this] { Run(); });
  }
  ~Writer() { Stop(); }

  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  // The number of transactions whose COMMIT began before `ns`.
  int64_t CommitsBefore(int64_t ns) {
    std::lock_guard lock(mu_);
    return std::lower_bound(commit_started_.begin(), commit_started_.end(), ns) -
           commit_started_.begin();
  }
  int64_t Commits() {
    std::lock_guard lock(mu_);
    return static_cast<int64_t>(commit_started_.size());
  }
  bool failed() const { return failed_; }

 private:
  void Run() {
    Db db(path_);
    // Checkpoints run all the time, also while the backup reads.
    if (journal_mode_ == "WAL") db.Exec("PRAGMA wal_autocheckpoint = 32");
    for (int i = 1; !stop_; ++i) {
      bool ok = db.Exec("BEGIN IMMEDIATE") &&
                db.Exec("INSERT INTO t(id, v, data) VALUES (" + std::to_string(i) +
                        ", 0, randomblob(600))") &&
                (i == 1 || db.Exec("UPDATE t SET v = v + 1 WHERE id = " + std::to_string(i / 2)));
      {
        std::lock_guard lock(mu_);
        commit_started_.push_back(NowNanos());
      }
      if (!ok || !db.Exec("COMMIT")) {
        failed_ = true;
        return;
      }
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
  }

  std::string path_;
  std::string journal_mode_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> failed_{false};
  std::mutex mu_;
  std::vector<int64_t> commit_started_;
  std::thread thread_;
};

}  // namespace pxb::e2e
