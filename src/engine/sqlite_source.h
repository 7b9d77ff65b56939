// A consistent snapshot of a live SQLite database, read page by page.
//
// SqliteSnapshotReader pins one committed state of a database that other
// processes keep writing to, in write-ahead-log (WAL) or rollback-journal
// mode, and hands out its pages in order, so a backup can stream them into
// the chunker without a temporary copy. It does what SQLite's sqlite_dbpage
// table would do (Debian's libsqlite3 is built without it): a read
// transaction holds the snapshot, and each page is read where SQLite itself
// would read it, the newest WAL frame of the snapshot or else the database
// file. doc/design.md, section 16 argues why that is consistent.
//
//   PXB_ASSIGN_OR_RETURN(auto reader, SqliteSnapshotReader::Open("/srv/app.db", {}));
//   PXB_RETURN_IF_ERROR(reader->ReadPages(1, buffer));  // pages 1..n
//   PXB_RETURN_IF_ERROR(reader->Close());
//
// Thread-safety: a reader is used by one thread at a time. Any number of
// readers, in this or other processes, may read the same database at once.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <unordered_map>

#include "pxb/status.h"

struct sqlite3;
struct sqlite3_file;

namespace pxb {

struct SqliteReadOptions {
  // How long to wait for a writer's lock (SQLite's busy timeout).
  int busy_timeout_ms = 60'000;
};

// What a snapshot holds and when it was taken.
struct SqliteSnapshotInfo {
  std::string path;
  // CLOCK_REALTIME in ns, read while this reader held the database's write
  // lock: every transaction whose COMMIT began before it is in the snapshot,
  // none that began after it.
  int64_t snapshot_time_ns = 0;
  uint32_t page_size = 0;
  uint64_t pages = 0;
  bool wal = false;         // write-ahead-log mode (else rollback journal)
  uint64_t wal_frames = 0;  // committed WAL frames the snapshot spans
  uint64_t wal_pages = 0;   // pages read from the WAL rather than the file

  uint64_t bytes() const { return pages * page_size; }
};

class SqliteSnapshotReader {
 public:
  // Pins the current committed state of the database at `path`:
  //  1. a read-write connection takes the write lock (BEGIN IMMEDIATE), so no
  //     transaction commits meanwhile, and notes the time;
  //  2. a read-only connection opens a read transaction, which is the
  //     snapshot; in WAL mode the end of the log (mxFrame) and how far it is
  //     checkpointed are read from the WAL index while the lock still holds;
  //  3. the write lock is released (held for milliseconds); the read
  //     transaction stays open until Close().
  // Needs read and write permission on the database (the write lock) and, in
  // WAL mode, its -wal and -shm files. Errors: kNotFound if there is no file,
  // kInvalidArgument if it is not a SQLite database, kUnavailable if a lock
  // cannot be had within the busy timeout or the WAL index disagrees with the
  // log, other codes for I/O and SQLite errors, all naming the path.
  [[nodiscard]] static StatusOr<std::unique_ptr<SqliteSnapshotReader>> Open(
      const std::string& path, const SqliteReadOptions& options);

  ~SqliteSnapshotReader();
  SqliteSnapshotReader(const SqliteSnapshotReader&) = delete;
  SqliteSnapshotReader& operator=(const SqliteSnapshotReader&) = delete;

  const SqliteSnapshotInfo& info() const { return info_; }

  // Fills `out` with out.size() / page_size pages starting at page `first`
  // (1-based) as they are in the snapshot. out.size() must be a multiple of
  // the page size and the range must lie within info().pages
  // (kInvalidArgument otherwise). kDataLoss if the file or log is shorter
  // than the snapshot says; I/O errors naming the file.
  [[nodiscard]] Status ReadPages(uint64_t first, std::span<std::byte> out);

  // Checks that the WAL was not reset while it was read (kUnavailable if it
  // was, which SQLite's locks rule out) and ends the read transaction. Pages
  // read before a successful Close() are the snapshot.
  [[nodiscard]] Status Close();

 private:
  SqliteSnapshotReader() = default;

  Status PinSnapshot(const SqliteReadOptions& options);
  Status ReadWalIndex(uint32_t& mx_frame, uint32_t& backfilled);
  Status IndexWalFrames(uint32_t mx_frame);
  Status CheckPageOne(std::span<const std::byte> page) const;

  SqliteSnapshotInfo info_;
  sqlite3* reader_ = nullptr;  // holds the read transaction
  // The database file and the WAL as the read connection opened them. All
  // reads go through these: a descriptor of our own, once closed, would drop
  // every POSIX lock this process holds on the file, the read lock included.
  sqlite3_file* db_file_ = nullptr;
  sqlite3_file* wal_file_ = nullptr;  // WAL mode only
  bool uses_log_ = false;             // some pages come from the WAL
  std::byte wal_salt_[8] = {};
  // Page number -> newest frame of the snapshot holding it (WAL mode).
  std::unordered_map<uint32_t, uint32_t> wal_frame_of_page_;
};

}  // namespace pxb
