#include "bench/report.h"

#include <algorithm>
#include <cstdio>

namespace pxb::bench {

namespace {

std::string Fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.*f", decimals, v);
  return buf;
}

std::string Seconds(double s) { return Fixed(s, s < 10 ? 3 : 2); }

// "+1.2 MiB", "-3.4 MiB", "0 B".
std::string SignedBytes(int64_t bytes) {
  if (bytes == 0) return "0 B";
  const uint64_t magnitude = bytes < 0 ? 0 - static_cast<uint64_t>(bytes) : bytes;
  return (bytes < 0 ? "-" : "+") + FormatBytes(magnitude);
}

std::string Ratio(const std::optional<double>& r) { return r ? Fixed(*r, 2) : "-"; }

std::string Pad(const std::string& s, size_t width, bool right) {
  if (s.size() >= width) return s;
  std::string fill(width - s.size(), ' ');
  return right ? fill + s : s + fill;
}

}  // namespace

std::string FormatBytes(uint64_t bytes) {
  const double b = static_cast<double>(bytes);
  if (bytes < (1 << 10)) return std::to_string(bytes) + " B";
  if (bytes < (1 << 20)) return Fixed(b / (1 << 10), 1) + " KiB";
  if (bytes < (uint64_t{1} << 30)) return Fixed(b / (1 << 20), 1) + " MiB";
  return Fixed(b / (uint64_t{1} << 30), 2) + " GiB";
}

double Median(std::vector<double> values) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  return n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

std::vector<SummaryRow> Summarize(const std::vector<Measurement>& measurements,
                                  const std::vector<std::string>& workload_order,
                                  const std::vector<std::string>& tool_order) {
  std::vector<SummaryRow> rows;
  for (const std::string& workload : workload_order) {
    std::optional<SummaryRow> reference;
    std::vector<SummaryRow> group;
    for (const std::string& tool : tool_order) {
      std::vector<double> wall, cpu, durable, repo, added, data;
      SummaryRow row;
      row.workload = workload;
      row.tool = tool;
      for (const Measurement& m : measurements) {
        if (!m.measured || m.workload != workload || m.tool != tool) continue;
        ++row.runs;
        wall.push_back(m.result.wall_s);
        cpu.push_back(m.result.cpu_s());
        durable.push_back(m.result.wall_s + m.sync_s);
        repo.push_back(static_cast<double>(m.repo_bytes));
        added.push_back(static_cast<double>(m.repo_bytes_added));
        data.push_back(static_cast<double>(m.data_bytes));
        row.peak_rss_kib = std::max(row.peak_rss_kib, m.result.max_rss_kib);
      }
      if (row.runs == 0) continue;
      row.median_wall_s = Median(wall);
      row.median_cpu_s = Median(cpu);
      row.median_durable_s = Median(durable);
      row.repo_bytes = static_cast<uint64_t>(Median(repo));
      row.repo_bytes_added = static_cast<int64_t>(Median(added));
      row.data_bytes = static_cast<uint64_t>(Median(data));
      row.mb_per_s = row.median_wall_s > 0 ? row.data_bytes / 1e6 / row.median_wall_s : 0;
      if (tool == "plexibackup") reference = row;
      group.push_back(row);
    }
    for (SummaryRow& row : group) {
      if (reference && row.tool != reference->tool) {
        if (reference->median_wall_s > 0) {
          row.wall_ratio = row.median_wall_s / reference->median_wall_s;
        }
        if (reference->median_cpu_s > 0) row.cpu_ratio = row.median_cpu_s / reference->median_cpu_s;
        if (reference->repo_bytes > 0 && row.repo_bytes > 0) {
          row.bytes_ratio = static_cast<double>(row.repo_bytes) / reference->repo_bytes;
        }
        if (reference->repo_bytes_added > 0 && row.repo_bytes_added > 0) {
          row.added_ratio = static_cast<double>(row.repo_bytes_added) / reference->repo_bytes_added;
        }
      }
      rows.push_back(row);
    }
  }
  return rows;
}

std::string FormatTable(const std::vector<SummaryRow>& rows) {
  const std::vector<std::string> headers = {"workload",  "tool",     "runs",    "wall s", "cpu s",
                                            "durable s", "peak RSS", "repo",    "added",  "MB/s",
                                            "x wall",    "x cpu",    "x bytes", "x added"};
  std::vector<std::vector<std::string>> cells;
  for (const SummaryRow& r : rows) {
    cells.push_back({r.workload, r.tool, std::to_string(r.runs), Seconds(r.median_wall_s),
                     Seconds(r.median_cpu_s), Seconds(r.median_durable_s),
                     FormatBytes(static_cast<uint64_t>(r.peak_rss_kib) << 10),
                     r.repo_bytes > 0 ? FormatBytes(r.repo_bytes) : "-",
                     r.repo_bytes > 0 ? SignedBytes(r.repo_bytes_added) : "-", Fixed(r.mb_per_s, 1),
                     Ratio(r.wall_ratio), Ratio(r.cpu_ratio), Ratio(r.bytes_ratio),
                     Ratio(r.added_ratio)});
  }
  std::vector<size_t> width(headers.size());
  for (size_t i = 0; i < headers.size(); ++i) width[i] = headers[i].size();
  for (const auto& row : cells) {
    for (size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
  }
  auto line = [&](const std::vector<std::string>& row) {
    std::string out;
    for (size_t i = 0; i < row.size(); ++i) {
      if (i > 0) out += "  ";
      out += Pad(row[i], width[i], /*right=*/i >= 2);
    }
    while (!out.empty() && out.back() == ' ') out.pop_back();
    return out + "\n";
  };
  std::string out = line(headers);
  std::string previous;
  for (const auto& row : cells) {
    if (!previous.empty() && row[0] != previous) out += "\n";
    previous = row[0];
    out += line(row);
  }
  out +=
      "\nwall, cpu (user+sys): medians; durable: median of wall + the sync() after the step\n"
      "(until the data is on disk); peak RSS: largest of the runs; repo: bytes in the\n"
      "repository folder after the step; added: its growth by the step (median; negative:\n"
      "reclaimed); MB/s: data set bytes / median wall (MB = 10^6 B).\n"
      "x wall = tool's wall / plexibackup's (>1: plexibackup faster); x cpu likewise;\n"
      "x bytes = tool's repo bytes / plexibackup's (>1: plexibackup stores less);\n"
      "x added likewise for the growth, where both grew.\n";
  return out;
}

nlohmann::json MeasurementJson(const Measurement& m) {
  return {{"workload", m.workload},
          {"tool", m.tool},
          {"rep", m.rep},
          {"measured", m.measured},
          {"exit_code", m.result.exit_code},
          {"wall_s", m.result.wall_s},
          {"user_s", m.result.user_s},
          {"sys_s", m.result.sys_s},
          {"cpu_s", m.result.cpu_s()},
          {"sync_s", m.sync_s},
          {"max_rss_kib", m.result.max_rss_kib},
          {"repo_bytes", m.repo_bytes},
          {"repo_bytes_added", m.repo_bytes_added},
          {"cache_bytes", m.cache_bytes},
          {"data_bytes", m.data_bytes}};
}

nlohmann::json SummaryJson(const SummaryRow& row) {
  nlohmann::json j = {{"workload", row.workload},
                      {"tool", row.tool},
                      {"runs", row.runs},
                      {"median_wall_s", row.median_wall_s},
                      {"median_cpu_s", row.median_cpu_s},
                      {"median_durable_s", row.median_durable_s},
                      {"peak_rss_kib", row.peak_rss_kib},
                      {"repo_bytes", row.repo_bytes},
                      {"repo_bytes_added", row.repo_bytes_added},
                      {"data_bytes", row.data_bytes},
                      {"mb_per_s", row.mb_per_s}};
  j["wall_ratio_vs_plexibackup"] = row.wall_ratio ? nlohmann::json(*row.wall_ratio) : nullptr;
  j["cpu_ratio_vs_plexibackup"] = row.cpu_ratio ? nlohmann::json(*row.cpu_ratio) : nullptr;
  j["bytes_ratio_vs_plexibackup"] = row.bytes_ratio ? nlohmann::json(*row.bytes_ratio) : nullptr;
  j["added_ratio_vs_plexibackup"] = row.added_ratio ? nlohmann::json(*row.added_ratio) : nullptr;
  return j;
}

}  // namespace pxb::bench
