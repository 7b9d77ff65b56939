#include "pxb/status.h"

#include <gtest/gtest.h>

#include "pxb/ids.h"

namespace pxb {
namespace {

StatusOr<int> ParsePositive(int v) {
  if (v <= 0) return InvalidArgumentError("not positive");
  return v;
}

StatusOr<int> Doubled(int v) {
  PXB_ASSIGN_OR_RETURN(int x, ParsePositive(v));
  return 2 * x;
}

Status Checked(int v) {
  PXB_RETURN_IF_ERROR_CTX(ParsePositive(v), "value " + std::to_string(v));
  return Status::Ok();
}

TEST(StatusTest, OkHasNoMessage) {
  Status s;
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.ToString(), "ok");
}

TEST(StatusTest, ContextIsPrependedAndCodeKept) {
  Status s = DataLossError("authentication failed").WithContext("blob 7").WithContext("pack 3fa2");
  EXPECT_EQ(s.code(), StatusCode::kDataLoss);
  EXPECT_EQ(s.ToString(), "data_loss: pack 3fa2: blob 7: authentication failed");
}

TEST(StatusTest, MacrosPropagate) {
  EXPECT_EQ(*Doubled(4), 8);
  EXPECT_EQ(Doubled(-1).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(Checked(-3).message(), "value -3: not positive");
  EXPECT_TRUE(Checked(3).ok());
}

TEST(StatusTest, ErrnoMapping) {
  EXPECT_EQ(ErrnoError(ENOENT, "open x").code(), StatusCode::kNotFound);
  EXPECT_EQ(ErrnoError(ENOSPC, "write").code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(ErrnoError(EAGAIN, "read").code(), StatusCode::kUnavailable);
  EXPECT_EQ(ErrnoError(EFBIG, "write").code(), StatusCode::kResourceExhausted);
  EXPECT_NE(ErrnoError(ENOENT, "open x").message().find("open x"), std::string_view::npos);
}

TEST(IdTest, HexRoundTripAndOrdering) {
  auto id = BlobId::FromHex(std::string(62, '0') + "ff");
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(id->Hex(), std::string(62, '0') + "ff");
  EXPECT_EQ(id->ShortHex(), "00000000");
  auto zero = BlobId();
  EXPECT_TRUE(zero.IsZero());
  EXPECT_LT(zero, *id);
  EXPECT_FALSE(BlobId::FromHex("xyz").ok());
  EXPECT_FALSE(BlobId::FromHex(std::string(64, 'g')).ok());
}

}  // namespace
}  // namespace pxb
