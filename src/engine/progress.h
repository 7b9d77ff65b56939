// Live counters of a long operation (backup, restore, check), read by a
// reporter (terminal bar, JSON lines, later the WebSocket) while workers
// update them.
//
//   progress.bytes_done += n;
//   double fraction = progress.Fraction();
//
// Thread-safety: every field is atomic or guarded; any thread may update or read.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>

#include "pxb/status.h"

namespace pxb {

struct Progress {
  std::atomic<uint64_t> files_done{0};
  std::atomic<uint64_t> dirs_done{0};
  std::atomic<uint64_t> bytes_done{0};   // bytes processed (read or written)
  std::atomic<uint64_t> bytes_new{0};    // bytes that were new to the repository
  std::atomic<uint64_t> files_total{0};  // estimate from a scan; 0 while unknown
  std::atomic<uint64_t> bytes_total{0};
  std::atomic<bool> totals_known{false};
  std::atomic<uint64_t> errors{0};
  // Whether anything reports these counters; when not (a quiet command),
  // work done only for the report, such as counting the totals, is skipped.
  bool reported = true;

  void SetCurrent(std::string path) {
    std::lock_guard lock(mu_);
    current_ = std::move(path);
  }
  std::string Current() const {
    std::lock_guard lock(mu_);
    return current_;
  }
  // Bytes done over bytes total, in [0, 1]; 0 while totals are unknown.
  double Fraction() const {
    uint64_t total = bytes_total.load();
    if (!totals_known || total == 0) return 0;
    double f = static_cast<double>(bytes_done.load()) / static_cast<double>(total);
    return f > 1 ? 1 : f;
  }

 private:
  mutable std::mutex mu_;
  std::string current_;
};

// Receives problems that do not stop an operation (an unreadable file).
using ErrorSink = std::function<void(const std::string& path, const Status& status)>;

}  // namespace pxb
