#include "engine/sqlite_source.h"

#include <sqlite3.h>
#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <thread>
#include <vector>

#include "core/chunker/page_chunker.h"
#include "core/time.h"

namespace pxb {

namespace {

// The WAL file (https://www.sqlite.org/fileformat2.html#walformat): a 32-byte
// header, then frames of a 24-byte header and one page. Big-endian.
constexpr size_t kWalHeaderSize = 32;
constexpr size_t kWalFrameHeaderSize = 24;
constexpr uint32_t kWalMagic = 0x377f0682;  // the low bit selects the checksum byte order
constexpr uint32_t kWalVersion = 3007000;

// The WAL index in the -shm file (https://www.sqlite.org/walformat.html): two
// copies of a 48-byte header, then the checkpoint information. Native byte
// order, shared by every process that has the database open.
constexpr size_t kShmHeaderSize = 48;
constexpr size_t kShmHeaderOffsetVersion = 0;
constexpr size_t kShmHeaderOffsetIsInit = 12;
constexpr size_t kShmHeaderOffsetPageSize = 14;
constexpr size_t kShmHeaderOffsetMaxFrame = 16;
constexpr size_t kShmHeaderOffsetPages = 20;
constexpr size_t kShmHeaderOffsetSalt = 32;
constexpr size_t kShmOffsetBackfill = 96;  // nBackfill: frames already copied into the file
constexpr size_t kShmReadSize = 100;
constexpr int kShmRegionSize = 32768;  // the size SQLite maps the index in

// The database header: file size in pages, valid when the change counter
// matches the "version-valid-for" number.
constexpr size_t kDbHeaderOffsetChangeCounter = 24;
constexpr size_t kDbHeaderOffsetPages = 28;
constexpr size_t kDbHeaderOffsetValidFor = 92;

uint32_t LoadBigEndian32(const std::byte* p) {
  return (static_cast<uint32_t>(p[0]) << 24) | (static_cast<uint32_t>(p[1]) << 16) |
         (static_cast<uint32_t>(p[2]) << 8) | static_cast<uint32_t>(p[3]);
}

template <typename T>
T LoadNative(const std::byte* p) {
  T v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

Status SqliteStatus(sqlite3* db, int rc, const std::string& what) {
  std::string message = what + ": " + (db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return UnavailableError(message + " (another connection holds the lock)");
    case SQLITE_NOTADB:
      return InvalidArgumentError(message);
    case SQLITE_CORRUPT:
      return DataLossError(message);
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_AUTH:
      return PermissionDeniedError(message);
    case SQLITE_CANTOPEN:
      return UnavailableError(message);
    default:
      return InternalError(message);
  }
}

// Reads exactly out.size() bytes at `offset` through SQLite's file handle;
// kDataLoss if the file ends first.
Status ReadExactly(sqlite3_file* file, std::span<std::byte> out, uint64_t offset,
                   const std::string& path) {
  int rc = file->pMethods->xRead(file, out.data(), static_cast<int>(out.size()),
                                 static_cast<sqlite3_int64>(offset));
  if (rc == SQLITE_OK) return Status::Ok();
  if (rc == SQLITE_IOERR_SHORT_READ) {
    return DataLossError(path + ": ends before byte " + std::to_string(offset + out.size()) +
                         ", which the snapshot needs");
  }
  return SqliteStatus(nullptr, rc, "reading " + path);
}

// The file SQLite opened for `db`: the database file or, with
// SQLITE_FCNTL_JOURNAL_POINTER, the WAL.
StatusOr<sqlite3_file*> FileOf(sqlite3* db, int op, const std::string& path) {
  sqlite3_file* file = nullptr;
  int rc = sqlite3_file_control(db, "main", op, &file);
  if (rc != SQLITE_OK || file == nullptr || file->pMethods == nullptr) {
    return InternalError(path + ": SQLite did not hand out its file");
  }
  return file;
}

// Retries a lock every 100 µs until the timeout. SQLite's own busy timeout
// backs off to 100 ms sleeps, and a writer that commits back to back takes
// the lock again within microseconds of releasing it: polling that slowly
// would wait out the whole timeout behind a busy server.
struct BusyWait {
  std::chrono::milliseconds timeout;
  std::chrono::steady_clock::time_point since;

  static int Retry(void* arg, int count) {
    auto* wait = static_cast<BusyWait*>(arg);
    const auto now = std::chrono::steady_clock::now();
    if (count == 0) wait->since = now;
    if (now - wait->since >= wait->timeout) return 0;
    std::this_thread::sleep_for(std::chrono::microseconds(100));
    return 1;
  }
};

class Connection {
 public:
  Connection() = default;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection() { sqlite3_close_v2(db_); }

  Status Open(const std::string& path, int flags, int busy_timeout_ms) {
    int rc = sqlite3_open_v2(path.c_str(), &db_, flags | SQLITE_OPEN_NOFOLLOW, nullptr);
    if (rc != SQLITE_OK) return SqliteStatus(db_, rc, "opening " + path);
    sqlite3_extended_result_codes(db_, 1);
    busy_.timeout = std::chrono::milliseconds(busy_timeout_ms);
    sqlite3_busy_handler(db_, &BusyWait::Retry, &busy_);
    // A backup must not fold the log into the file when it happens to close
    // the last connection: that is the server's business.
    sqlite3_db_config(db_, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, nullptr);
    path_ = path;
    return Status::Ok();
  }

  Status Exec(const char* sql) {
    int rc = sqlite3_exec(db_, sql, nullptr, nullptr, nullptr);
    if (rc != SQLITE_OK) return SqliteStatus(db_, rc, path_ + ": " + sql);
    return Status::Ok();
  }

  // The first column of the first row of `sql`, as text.
  StatusOr<std::string> QueryText(const char* sql) {
    sqlite3_stmt* stmt = nullptr;
    int rc = sqlite3_prepare_v2(db_, sql, -1, &stmt, nullptr);
    if (rc != SQLITE_OK) return SqliteStatus(db_, rc, path_ + ": " + sql);
    rc = sqlite3_step(stmt);
    std::string value;
    if (rc == SQLITE_ROW) {
      const unsigned char* text = sqlite3_column_text(stmt, 0);
      value = text ? reinterpret_cast<const char*>(text) : "";
      rc = SQLITE_OK;
    } else if (rc == SQLITE_DONE) {
      rc = SQLITE_OK;
    }
    sqlite3_finalize(stmt);
    if (rc != SQLITE_OK) return SqliteStatus(db_, rc, path_ + ": " + sql);
    return value;
  }

  StatusOr<uint64_t> QueryCount(const char* sql) {
    PXB_ASSIGN_OR_RETURN(std::string text, QueryText(sql));
    char* end = nullptr;
    unsigned long long v = std::strtoull(text.c_str(), &end, 10);
    if (text.empty() || *end != '\0') {
      return InternalError(path_ + ": " + sql + " returned '" + text + "'");
    }
    return static_cast<uint64_t>(v);
  }

  sqlite3* get() const { return db_; }

  // Hands the handle over, without the busy handler that points here; the
  // caller closes it.
  sqlite3* Release() {
    sqlite3_busy_handler(db_, nullptr, nullptr);
    return std::exchange(db_, nullptr);
  }

 private:
  sqlite3* db_ = nullptr;
  std::string path_;
  BusyWait busy_;
};

}  // namespace

StatusOr<std::unique_ptr<SqliteSnapshotReader>> SqliteSnapshotReader::Open(
    const std::string& path, const SqliteReadOptions& options) {
  std::unique_ptr<SqliteSnapshotReader> reader(new SqliteSnapshotReader());
  reader->info_.path = path;
  // stat, not open: see db_file_.
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return ErrnoError(errno, path);
  if (!S_ISREG(st.st_mode)) return InvalidArgumentError(path + " is not a regular file");
  PXB_RETURN_IF_ERROR(reader->PinSnapshot(options));
  return reader;
}

SqliteSnapshotReader::~SqliteSnapshotReader() {
  if (reader_ != nullptr) sqlite3_close_v2(reader_);
}

Status SqliteSnapshotReader::PinSnapshot(const SqliteReadOptions& options) {
  const std::string& path = info_.path;
  Connection writer;
  PXB_RETURN_IF_ERROR(writer.Open(path, SQLITE_OPEN_READWRITE, options.busy_timeout_ms));
  // SQLite takes an empty or foreign file for a new database; a backup must not.
  PXB_ASSIGN_OR_RETURN(sqlite3_file * file, FileOf(writer.get(), SQLITE_FCNTL_FILE_POINTER, path));
  std::byte header[kSqliteHeaderPrefix] = {};
  Status header_read = ReadExactly(file, header, 0, path);
  if (!header_read.ok() && header_read.code() != StatusCode::kDataLoss) return header_read;
  if (!SqlitePageSize(ByteView(header, sizeof(header)))) {
    return InvalidArgumentError(path + " is not a SQLite 3 database (no SQLite header)");
  }
  PXB_RETURN_IF_ERROR(writer.Exec("BEGIN IMMEDIATE"));
  // No transaction can commit from here until the ROLLBACK below.
  info_.snapshot_time_ns = NowNanos();

  Connection reader;
  PXB_RETURN_IF_ERROR(reader.Open(path, SQLITE_OPEN_READONLY, options.busy_timeout_ms));
  PXB_RETURN_IF_ERROR(reader.Exec("BEGIN"));
  // The first read starts the read transaction, that is the snapshot.
  PXB_RETURN_IF_ERROR(reader.QueryText("SELECT count(*) FROM sqlite_schema").status());
  PXB_ASSIGN_OR_RETURN(info_.pages, reader.QueryCount("PRAGMA page_count"));
  PXB_ASSIGN_OR_RETURN(uint64_t page_size, reader.QueryCount("PRAGMA page_size"));
  PXB_ASSIGN_OR_RETURN(std::string mode, reader.QueryText("PRAGMA journal_mode"));
  info_.page_size = static_cast<uint32_t>(page_size);
  info_.wal = mode == "wal";
  PXB_ASSIGN_OR_RETURN(db_file_, FileOf(reader.get(), SQLITE_FCNTL_FILE_POINTER, path));
  if (info_.wal) {
    PXB_ASSIGN_OR_RETURN(wal_file_,
                         FileOf(reader.get(), SQLITE_FCNTL_JOURNAL_POINTER, path + "-wal"));
  }

  uint32_t mx_frame = 0, backfilled = 0;
  if (info_.wal) PXB_RETURN_IF_ERROR(ReadWalIndex(mx_frame, backfilled));
  PXB_RETURN_IF_ERROR(writer.Exec("ROLLBACK"));
  reader_ = reader.Release();

  // Frames up to mx_frame stay put while the read transaction lasts: SQLite
  // resets the log only when no reader uses it, and a checkpoint copies no
  // frame past a reader's end into the file. If every frame is in the file
  // already (the reader may then ignore the log, and the log may be reset),
  // the file alone holds the snapshot, and no checkpoint can change it.
  if (info_.wal && backfilled < mx_frame) {
    PXB_RETURN_IF_ERROR(IndexWalFrames(mx_frame));
    uses_log_ = true;
  }
  info_.wal_frames = mx_frame;
  info_.wal_pages = wal_frame_of_page_.size();
  return Status::Ok();
}

Status SqliteSnapshotReader::ReadWalIndex(uint32_t& mx_frame, uint32_t& backfilled) {
  const std::string shm_path = info_.path + "-shm";
  // The index as the read connection maps it (no descriptor of our own).
  void volatile* region = nullptr;
  if (db_file_->pMethods->iVersion < 2 || db_file_->pMethods->xShmMap == nullptr) {
    return InternalError(shm_path + ": this SQLite file has no shared-memory index");
  }
  int rc = db_file_->pMethods->xShmMap(db_file_, 0, kShmRegionSize, 0, &region);
  if (rc != SQLITE_OK || region == nullptr) {
    return SqliteStatus(nullptr, rc == SQLITE_OK ? SQLITE_CANTOPEN : rc, "mapping " + shm_path);
  }
  std::atomic_thread_fence(std::memory_order_seq_cst);
  std::byte index[kShmReadSize];
  const volatile unsigned char* shared = static_cast<const volatile unsigned char*>(region);
  for (size_t i = 0; i < kShmReadSize; ++i) index[i] = static_cast<std::byte>(shared[i]);
  // The two header copies agree except while a writer updates them, which
  // the write lock held by this process rules out.
  if (std::memcmp(index, index + kShmHeaderSize, kShmHeaderSize) != 0 ||
      LoadNative<uint32_t>(index + kShmHeaderOffsetVersion) != kWalVersion ||
      LoadNative<uint8_t>(index + kShmHeaderOffsetIsInit) != 1) {
    return UnavailableError(shm_path + ": the WAL index header is not in a known, stable state");
  }
  uint16_t raw_page = LoadNative<uint16_t>(index + kShmHeaderOffsetPageSize);
  uint32_t page_size = raw_page == 1 ? 65536 : raw_page;
  mx_frame = LoadNative<uint32_t>(index + kShmHeaderOffsetMaxFrame);
  backfilled = LoadNative<uint32_t>(index + kShmOffsetBackfill);
  const uint32_t pages = LoadNative<uint32_t>(index + kShmHeaderOffsetPages);
  std::memcpy(wal_salt_, index + kShmHeaderOffsetSalt, sizeof(wal_salt_));
  if (mx_frame > 0 && (page_size != info_.page_size || pages != info_.pages)) {
    return UnavailableError(shm_path + ": the WAL index says " + std::to_string(pages) +
                            " pages of " + std::to_string(page_size) +
                            " bytes, the read transaction " + std::to_string(info_.pages) + " of " +
                            std::to_string(info_.page_size));
  }
  if (backfilled > mx_frame) {
    return UnavailableError(shm_path + ": more frames checkpointed than the log holds");
  }
  return Status::Ok();
}

Status SqliteSnapshotReader::IndexWalFrames(uint32_t mx_frame) {
  const std::string wal_path = info_.path + "-wal";
  std::byte header[kWalHeaderSize];
  PXB_RETURN_IF_ERROR(ReadExactly(wal_file_, header, 0, wal_path));
  if ((LoadBigEndian32(header) & ~1u) != kWalMagic || LoadBigEndian32(header + 4) != kWalVersion ||
      LoadBigEndian32(header + 8) != info_.page_size ||
      std::memcmp(header + 16, wal_salt_, sizeof(wal_salt_)) != 0) {
    return UnavailableError(wal_path + ": the log header does not match the WAL index");
  }
  const uint64_t frame_size = kWalFrameHeaderSize + info_.page_size;
  // Frame headers are read in batches of whole frames.
  constexpr uint32_t kBatch = 64;
  std::vector<std::byte> batch(kBatch * frame_size);
  uint32_t last_commit_pages = 0;
  for (uint32_t first = 1; first <= mx_frame; first += kBatch) {
    const uint32_t count = std::min(kBatch, mx_frame - first + 1);
    std::span<std::byte> view(batch.data(), count * frame_size);
    PXB_RETURN_IF_ERROR(
        ReadExactly(wal_file_, view, kWalHeaderSize + (first - 1) * frame_size, wal_path));
    for (uint32_t i = 0; i < count; ++i) {
      const std::byte* frame = view.data() + i * frame_size;
      const uint32_t page = LoadBigEndian32(frame);
      if (page == 0 || std::memcmp(frame + 8, wal_salt_, sizeof(wal_salt_)) != 0) {
        return UnavailableError(wal_path + ": frame " + std::to_string(first + i) +
                                " does not belong to the current log");
      }
      last_commit_pages = LoadBigEndian32(frame + 4);
      // Later frames supersede earlier ones; pages past the snapshot's end
      // (a database that shrank) are never read.
      if (page <= info_.pages) wal_frame_of_page_[page] = first + i;
    }
  }
  // The snapshot ends with a commit frame that records the database size.
  if (last_commit_pages != info_.pages) {
    return UnavailableError(wal_path + ": frame " + std::to_string(mx_frame) +
                            " is not the commit of a " + std::to_string(info_.pages) +
                            "-page database");
  }
  return Status::Ok();
}

Status SqliteSnapshotReader::ReadPages(uint64_t first, std::span<std::byte> out) {
  const uint32_t page_size = info_.page_size;
  if (reader_ == nullptr || out.size() % page_size != 0 || first == 0 ||
      first - 1 + out.size() / page_size > info_.pages) {
    return InvalidArgumentError(info_.path + ": pages " + std::to_string(first) + " + " +
                                std::to_string(out.size() / page_size) +
                                " are outside the snapshot of " + std::to_string(info_.pages));
  }
  const uint64_t count = out.size() / page_size;
  // Pages past the end of the file live only in the log.
  sqlite3_int64 file_size = 0;
  int rc = db_file_->pMethods->xFileSize(db_file_, &file_size);
  if (rc != SQLITE_OK) return SqliteStatus(nullptr, rc, "size of " + info_.path);
  const uint64_t file_pages = static_cast<uint64_t>(file_size) / page_size;
  uint64_t from_file = 0;
  if (first <= file_pages) from_file = std::min(count, file_pages - first + 1);
  if (from_file > 0) {
    PXB_RETURN_IF_ERROR(ReadExactly(db_file_, out.first(from_file * page_size),
                                    (first - 1) * page_size, info_.path));
  }
  const uint64_t frame_size = kWalFrameHeaderSize + page_size;
  for (uint64_t i = 0; i < count; ++i) {
    std::span<std::byte> page = out.subspan(i * page_size, page_size);
    auto it = wal_frame_of_page_.find(static_cast<uint32_t>(first + i));
    if (it != wal_frame_of_page_.end()) {
      const uint64_t offset = kWalHeaderSize + (it->second - 1) * frame_size + kWalFrameHeaderSize;
      PXB_RETURN_IF_ERROR(ReadExactly(wal_file_, page, offset, info_.path + "-wal"));
    } else if (i >= from_file) {
      return DataLossError(info_.path + ": page " + std::to_string(first + i) +
                           " is neither in the file nor in the log");
    }
    if (first + i == 1) PXB_RETURN_IF_ERROR(CheckPageOne(page));
  }
  return Status::Ok();
}

Status SqliteSnapshotReader::CheckPageOne(std::span<const std::byte> page) const {
  if (!SqlitePageSize(ByteView(page.data(), page.size()))) {
    return DataLossError(info_.path + ": page 1 of the snapshot has no SQLite header");
  }
  const uint32_t counter = LoadBigEndian32(page.data() + kDbHeaderOffsetChangeCounter);
  const uint32_t valid_for = LoadBigEndian32(page.data() + kDbHeaderOffsetValidFor);
  const uint32_t pages = LoadBigEndian32(page.data() + kDbHeaderOffsetPages);
  if (counter == valid_for && pages != info_.pages) {
    return UnavailableError(info_.path + ": page 1 says " + std::to_string(pages) +
                            " pages, the snapshot " + std::to_string(info_.pages));
  }
  return Status::Ok();
}

Status SqliteSnapshotReader::Close() {
  if (reader_ == nullptr) return Status::Ok();
  Status result;
  if (uses_log_) {
    std::byte header[kWalHeaderSize];
    Status read = ReadExactly(wal_file_, header, 0, info_.path + "-wal");
    if (!read.ok()) {
      result = read;
    } else if (std::memcmp(header + 16, wal_salt_, sizeof(wal_salt_)) != 0) {
      result = UnavailableError(info_.path + "-wal: the log was reset while it was read");
    }
  }
  sqlite3_exec(reader_, "ROLLBACK", nullptr, nullptr, nullptr);
  int rc = sqlite3_close_v2(reader_);
  reader_ = nullptr;
  db_file_ = wal_file_ = nullptr;
  if (rc != SQLITE_OK && result.ok()) result = InternalError("closing " + info_.path);
  return result;
}

}  // namespace pxb
