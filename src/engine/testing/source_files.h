// Writing and reading the source files of backup and restore tests.
//
//   std::mt19937_64 rng(7);
//   WriteFile(src + "/d/f", RandomBytesOf(rng, 50000));  // makes d/
//   EXPECT_EQ(ReadFile(out + "/d/f"), ...);
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>

namespace pxb {

inline std::string RandomBytesOf(std::mt19937_64& rng, size_t size) {
  std::string out(size, '\0');
  for (char& c : out) c = static_cast<char>(rng());
  return out;
}

// Creates the parent folders too.
inline void WriteFile(const std::string& path, const std::string& content) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
  ASSERT_TRUE(out.good()) << path;
}

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace pxb
