#include "engine/fs/display_name.h"

#include <gtest/gtest.h>

#include "engine/fs/testing/temp_dir.h"

namespace pxb {
namespace {

TEST(DisplayNameTest, KeepsAsciiAndValidUtf8) {
  EXPECT_EQ(DisplayName("plain/name.txt"), "plain/name.txt");
  EXPECT_EQ(DisplayName("gr\xc3\xbc\xc3\x9f"
                        "e"),
            "gr\xc3\xbc\xc3\x9f"
            "e");                                                                  // ß, ü
  EXPECT_EQ(DisplayName("\xe6\x97\xa5\xe6\x9c\xac"), "\xe6\x97\xa5\xe6\x9c\xac");  // 2 CJK
  EXPECT_EQ(DisplayName("\xf0\x9f\x98\x80"), "\xf0\x9f\x98\x80");                  // U+1F600
  EXPECT_EQ(DisplayName("\xf4\x8f\xbf\xbf"), "\xf4\x8f\xbf\xbf");                  // U+10FFFF
  EXPECT_EQ(DisplayName(""), "");
}

TEST(DisplayNameTest, EscapesInvalidBytesAndControlCharacters) {
  EXPECT_EQ(DisplayName("\xff\xfe.bin"), "\\xff\\xfe.bin");
  EXPECT_EQ(DisplayName("a\nb\tc\x7f"), "a\\x0ab\\x09c\\x7f");
  EXPECT_EQ(DisplayName(std::string("a\0b", 3)), "a\\x00b");
  EXPECT_EQ(DisplayName("\xc0\xaf"), "\\xc0\\xaf");                    // overlong '/'
  EXPECT_EQ(DisplayName("\xe0\x80\xaf"), "\\xe0\\x80\\xaf");           // overlong
  EXPECT_EQ(DisplayName("\xed\xa0\x80"), "\\xed\\xa0\\x80");           // surrogate
  EXPECT_EQ(DisplayName("\xf4\x90\x80\x80"), "\\xf4\\x90\\x80\\x80");  // above U+10FFFF
  EXPECT_EQ(DisplayName("\xe6\x97"), "\\xe6\\x97");                    // truncated
  EXPECT_EQ(DisplayName("\xe6\x97x"), "\\xe6\\x97x");
  EXPECT_EQ(DisplayName("\x80"), "\\x80");  // lone continuation byte
}

TEST(DisplayNameTest, NamesWhatAnFdRefersTo) {
  TempDir dir;
  EXPECT_EQ(DisplayFdPath(dir.fd()), dir.path());
  EXPECT_EQ(DisplayFdPath(-1), "fd -1");
}

}  // namespace
}  // namespace pxb
