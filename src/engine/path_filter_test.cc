#include "engine/path_filter.h"

#include <gtest/gtest.h>

namespace pxb {
namespace {

TEST(GlobMatchTest, StarsStopAtSlashDoubleStarDoesNot) {
  EXPECT_TRUE(GlobMatch("*.tmp", "a.tmp"));
  EXPECT_FALSE(GlobMatch("*.tmp", "dir/a.tmp"));
  EXPECT_TRUE(GlobMatch("/home/*/cache", "/home/ann/cache"));
  EXPECT_FALSE(GlobMatch("/home/*/cache", "/home/ann/x/cache"));
  EXPECT_TRUE(GlobMatch("/home/**/cache", "/home/ann/x/cache"));
  EXPECT_TRUE(GlobMatch("/home/**/cache", "/home/cache"));
  EXPECT_TRUE(GlobMatch("f?le", "file"));
  EXPECT_FALSE(GlobMatch("f?le", "f/le"));
  EXPECT_TRUE(GlobMatch("**", "a/b/c"));
  EXPECT_FALSE(GlobMatch("a*c", "abd"));
}

TEST(PathFilterTest, BasenameAndAnchoredPatterns) {
  PathFilter f;
  ASSERT_TRUE(f.AddPattern("*.tmp").ok());
  ASSERT_TRUE(f.AddPattern("/srv/data/cache").ok());
  EXPECT_TRUE(f.Excluded("/srv/x/y.tmp"));
  EXPECT_TRUE(f.Excluded("/srv/data/cache"));
  EXPECT_TRUE(f.Excluded("/srv/data/cache/deep/file"));
  EXPECT_FALSE(f.Excluded("/srv/data/cache2"));
  EXPECT_FALSE(f.Excluded("/srv/data/keep"));
}

TEST(PathFilterTest, NegationReincludes) {
  PathFilter f;
  ASSERT_TRUE(f.AddPattern("*.log").ok());
  ASSERT_TRUE(f.AddPattern("!important.log").ok());
  EXPECT_TRUE(f.Excluded("/a/debug.log"));
  EXPECT_FALSE(f.Excluded("/a/important.log"));
}

TEST(PathFilterTest, IncludeListDescends) {
  PathFilter f;
  ASSERT_TRUE(f.AddPattern("/data/users/ann").ok());
  EXPECT_TRUE(f.MayMatchBelow("/data"));
  EXPECT_TRUE(f.MayMatchBelow("/data/users"));
  EXPECT_FALSE(f.MayMatchBelow("/media"));
  EXPECT_TRUE(f.Matches("/data/users/ann/notes.txt"));
  EXPECT_FALSE(f.Matches("/data/users/bob"));
}

TEST(PathFilterTest, EmptyPatternIsRejected) {
  PathFilter f;
  EXPECT_EQ(f.AddPattern("").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(f.AddPattern("!").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(f.AddPatternsFromFile("/nonexistent/patterns").code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace pxb
