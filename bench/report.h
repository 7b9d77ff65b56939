// Measurements of the workloads, their medians and the ratios of each peer
// to plexibackup, as a text table and as JSON.
//
// Thread-safety: plain values and pure functions.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "bench/process.h"

namespace pxb::bench {

// The name of the `cp -a` baseline of the restore workload.
inline constexpr std::string_view kCopyBaseline = "cp -a";

struct Measurement {
  std::string workload;
  std::string tool;
  int rep = 0;           // 1-based
  bool measured = true;  // false for setup steps (init, backups a later workload needs)
  ChildResult result;
  double sync_s = 0;             // the sync() right after the step: data it left unwritten
  uint64_t repo_bytes = 0;       // sum of file sizes in the repository folder after the step
  int64_t repo_bytes_added = 0;  // its growth by the step (negative: space reclaimed)
  uint64_t cache_bytes = 0;      // the tool's local cache after the step
  uint64_t data_bytes = 0;       // bytes of the data set the step worked on
};

struct SummaryRow {
  std::string workload;
  std::string tool;
  int runs = 0;
  double median_wall_s = 0;
  double median_cpu_s = 0;
  double median_durable_s = 0;   // of wall + the sync() after it: until the data is on disk
  int64_t peak_rss_kib = 0;      // the largest of the runs
  uint64_t repo_bytes = 0;       // median
  int64_t repo_bytes_added = 0;  // median
  uint64_t data_bytes = 0;       // median
  double mb_per_s = 0;           // data_bytes / median_wall_s, MB = 10^6 bytes
  // This tool's median wall time over plexibackup's (>1: plexibackup faster)
  // and its repository bytes over plexibackup's (>1: plexibackup stores
  // less); unset for plexibackup itself or without a plexibackup row.
  std::optional<double> wall_ratio;
  std::optional<double> cpu_ratio;  // the same for CPU time
  std::optional<double> bytes_ratio;
  // This tool's repository growth over plexibackup's, for steps where both grew.
  std::optional<double> added_ratio;
};

double Median(std::vector<double> values);

// One row per (workload, tool) of the measured steps, in the given orders.
std::vector<SummaryRow> Summarize(const std::vector<Measurement>& measurements,
                                  const std::vector<std::string>& workload_order,
                                  const std::vector<std::string>& tool_order);

// A fixed-width table with a legend.
std::string FormatTable(const std::vector<SummaryRow>& rows);

nlohmann::json MeasurementJson(const Measurement& m);
nlohmann::json SummaryJson(const SummaryRow& row);

// "12.3 MiB".
std::string FormatBytes(uint64_t bytes);

}  // namespace pxb::bench
