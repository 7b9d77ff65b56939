#include "core/time.h"

#include <chrono>
#include <cstdio>
#include <ctime>

namespace pxb {

int64_t NowNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

namespace {

int64_t FloorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

}  // namespace

std::string FormatRfc3339(int64_t ns) {
  int64_t seconds = FloorDiv(ns, 1000000000);
  int64_t fraction = ns - seconds * 1000000000;
  time_t t = static_cast<time_t>(seconds);
  struct tm tm;
  gmtime_r(&t, &tm);
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%09lldZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<long long>(fraction));
  return buf;
}

std::string FormatLocal(int64_t ns) {
  time_t t = static_cast<time_t>(FloorDiv(ns, 1000000000));
  struct tm tm;
  localtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S", &tm);
  return buf;
}

StatusOr<int64_t> ParseTime(std::string_view text) {
  auto invalid = [&] {
    return InvalidArgumentError("cannot parse time '" + std::string(text) +
                                "': use RFC 3339 (2026-11-24T16:30:00Z) or local "
                                "'2026-11-24', '2026-11-24 16:30' or '2026-11-24 16:30:05'");
  };
  std::string s(text);
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  int consumed = 0;
  if (std::sscanf(s.c_str(), "%4d-%2d-%2d%n", &year, &month, &day, &consumed) != 3 ||
      consumed != 10) {
    return invalid();
  }
  size_t pos = 10;
  int64_t fraction_ns = 0;
  bool has_zone = false;
  int64_t zone_offset_s = 0;
  if (pos < s.size()) {
    if (s[pos] != 'T' && s[pos] != 't' && s[pos] != ' ') return invalid();
    ++pos;
    int n = 0;
    if (std::sscanf(s.c_str() + pos, "%2d:%2d%n", &hour, &minute, &n) != 2 || n != 5) {
      return invalid();
    }
    pos += 5;
    if (pos < s.size() && s[pos] == ':') {
      if (std::sscanf(s.c_str() + pos, ":%2d%n", &second, &n) != 1 || n != 3) return invalid();
      pos += 3;
      if (pos < s.size() && s[pos] == '.') {
        ++pos;
        int64_t scale = 100000000;
        size_t digits = 0;
        while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
          if (digits < 9) fraction_ns += (s[pos] - '0') * scale;
          scale /= 10;
          ++digits;
          ++pos;
        }
        if (digits == 0) return invalid();
      }
    }
    if (pos < s.size()) {
      if (s[pos] == 'Z' || s[pos] == 'z') {
        has_zone = true;
        ++pos;
      } else if (s[pos] == '+' || s[pos] == '-') {
        int zh = 0, zm = 0;
        if (std::sscanf(s.c_str() + pos + 1, "%2d:%2d%n", &zh, &zm, &n) != 2 || n != 5) {
          return invalid();
        }
        zone_offset_s = (zh * 3600 + zm * 60) * (s[pos] == '+' ? 1 : -1);
        has_zone = true;
        pos += 6;
      }
    }
    if (pos != s.size()) return invalid();
  }
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) {
    return invalid();
  }
  struct tm tm = {};
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  tm.tm_sec = second;
  time_t t;
  if (has_zone) {
    t = timegm(&tm) - zone_offset_s;
  } else {
    tm.tm_isdst = -1;
    t = mktime(&tm);
  }
  // Nanoseconds in an int64 reach from 1677-09-21 to 2262-04-11; beyond,
  // the product would overflow.
  constexpr int64_t kMaxSeconds = INT64_MAX / 1000000000 - 1;
  if (t > kMaxSeconds || t < -kMaxSeconds) {
    return InvalidArgumentError("time '" + std::string(text) +
                                "' is outside 1677-09-21 to 2262-04-11");
  }
  return static_cast<int64_t>(t) * 1000000000 + fraction_ns;
}

StatusOr<int64_t> ParseDuration(std::string_view text) {
  auto bad = [&] {
    return InvalidArgumentError("'" + std::string(text) +
                                "' is not a duration: write numbers with units w, d, h, m or s, "
                                "such as 30d, 1d12h or 90m");
  };
  if (text == "0") return int64_t{0};
  if (text.empty()) return bad();
  constexpr int64_t kSecond = 1'000'000'000;
  int64_t total = 0;
  size_t i = 0;
  while (i < text.size()) {
    int64_t number = 0;
    size_t digits = 0;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
      if (__builtin_mul_overflow(number, 10, &number) ||
          __builtin_add_overflow(number, text[i] - '0', &number)) {
        return bad();
      }
      ++i;
      ++digits;
    }
    if (digits == 0 || i == text.size()) return bad();
    int64_t unit = 0;
    switch (text[i]) {
      case 'w':
        unit = 7 * 86400 * kSecond;
        break;
      case 'd':
        unit = 86400 * kSecond;
        break;
      case 'h':
        unit = 3600 * kSecond;
        break;
      case 'm':
        unit = 60 * kSecond;
        break;
      case 's':
        unit = kSecond;
        break;
      default:
        return bad();
    }
    ++i;
    if (__builtin_mul_overflow(number, unit, &number) ||
        __builtin_add_overflow(total, number, &total)) {
      return bad();
    }
  }
  return total;
}

}  // namespace pxb
