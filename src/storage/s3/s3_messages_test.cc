#include "storage/s3/s3_messages.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "storage/s3/xml.h"
#include "storage/testing/status_testing.h"

namespace pxb {
namespace {

using ::testing::HasSubstr;

// As AWS documents the ListObjectsV2 answer, with a key that needs escapes.
constexpr std::string_view kListPage = R"(<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Name>bucket</Name>
  <Prefix>repo/</Prefix>
  <KeyCount>2</KeyCount>
  <MaxKeys>2</MaxKeys>
  <IsTruncated>true</IsTruncated>
  <Contents>
    <Key>repo/data/ab/abcd</Key>
    <LastModified>2009-10-12T17:50:30.000Z</LastModified>
    <ETag>&quot;fba9dede5f27731c9771645a39863328&quot;</ETag>
    <Size>434234</Size>
    <StorageClass>STANDARD</StorageClass>
  </Contents>
  <Contents>
    <Key>repo/a&amp;b&lt;c&gt;&#39;d&quot;</Key>
    <Size>0</Size>
  </Contents>
  <NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken>
</ListBucketResult>)";

TEST(S3MessagesTest, ListObjectsV2Page) {
  StatusOr<ListObjectsV2Page> page = ParseListObjectsV2(kListPage);
  ASSERT_OK(page);
  ASSERT_EQ(page->contents.size(), 2u);
  EXPECT_EQ(page->contents[0].key, "repo/data/ab/abcd");
  EXPECT_EQ(page->contents[0].size, 434234u);
  EXPECT_EQ(page->contents[1].key, "repo/a&b<c>'d\"");
  EXPECT_EQ(page->contents[1].size, 0u);
  EXPECT_TRUE(page->is_truncated);
  EXPECT_EQ(page->next_continuation_token, "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=");
}

TEST(S3MessagesTest, LastAndEmptyPages) {
  StatusOr<ListObjectsV2Page> page = ParseListObjectsV2(
      "<ListBucketResult><Name>b</Name><KeyCount>0</KeyCount><IsTruncated>false</IsTruncated>"
      "</ListBucketResult>");
  ASSERT_OK(page);
  EXPECT_TRUE(page->contents.empty());
  EXPECT_FALSE(page->is_truncated);
}

TEST(S3MessagesTest, MalformedListPagesAreUnknown) {
  for (std::string_view body : {
           "",
           "<html>proxy error</html>",
           "<ListBucketResult><IsTruncated>maybe</IsTruncated></ListBucketResult>",
           "<ListBucketResult><IsTruncated>true</IsTruncated></ListBucketResult>",
           "<ListBucketResult><IsTruncated>false</IsTruncated>"
           "<Contents><Size>1</Size></Contents></ListBucketResult>",
           "<ListBucketResult><IsTruncated>false</IsTruncated>"
           "<Contents><Key>k</Key><Size>-1</Size></Contents></ListBucketResult>",
           "<ListBucketResult><IsTruncated>false</IsTruncated>"
           "<Contents><Key>k</Key><Size>99999999999999999999</Size></Contents></ListBucketResult>",
           "<ListBucketResult><IsTruncated>false</IsTruncated><Contents><Key>k</Key>",
       }) {
    StatusOr<ListObjectsV2Page> page = ParseListObjectsV2(body);
    EXPECT_EQ(CodeOf(page), StatusCode::kUnknown) << body;
    if (!page.ok()) {
      EXPECT_THAT(std::string(page.status().message()), HasSubstr("malformed ListObjectsV2"));
    }
  }
}

TEST(S3MessagesTest, ErrorBodies) {
  std::optional<S3ErrorBody> error = ParseS3Error(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>NoSuchKey</Code>"
      "<Message>The resource you requested does not exist</Message>"
      "<Resource>/mybucket/myfoto.jpg</Resource><RequestId>4442587FB7D0A2F9</RequestId></Error>");
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->code, "NoSuchKey");
  EXPECT_EQ(error->message, "The resource you requested does not exist");
  EXPECT_FALSE(ParseS3Error("").has_value());
  EXPECT_FALSE(ParseS3Error("<html><body>502 Bad Gateway</body></html>").has_value());
  EXPECT_FALSE(ParseS3Error("<ListBucketResult/>").has_value());
}

TEST(S3MessagesTest, MultipartUploadResults) {
  StatusOr<std::string> id = ParseInitiateMultipartUpload(
      "<InitiateMultipartUploadResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
      "<Bucket>b</Bucket><Key>k</Key><UploadId>VXBsb2FkIElE&amp;x</UploadId>"
      "</InitiateMultipartUploadResult>");
  ASSERT_OK(id);
  EXPECT_EQ(*id, "VXBsb2FkIElE&x");
  EXPECT_EQ(CodeOf(ParseInitiateMultipartUpload("<InitiateMultipartUploadResult/>")),
            StatusCode::kUnknown);
  EXPECT_EQ(CodeOf(ParseInitiateMultipartUpload("<Error><Code>x</Code></Error>")),
            StatusCode::kUnknown);

  EXPECT_OK(ParseCompleteMultipartUpload(
      "<CompleteMultipartUploadResult><Location>l</Location><Bucket>b</Bucket><Key>k</Key>"
      "<ETag>\"3858f62230ac3c915f300c664312c11f-9\"</ETag></CompleteMultipartUploadResult>"));
  EXPECT_EQ(ParseCompleteMultipartUpload("<Error><Code>InternalError</Code></Error>").code(),
            StatusCode::kUnknown);
}

TEST(S3MessagesTest, CompleteMultipartUploadBodyListsPartsInOrder) {
  std::string body = CompleteMultipartUploadBody(
      {{1, "\"a54357aff0632cce46d942af68356b38\""}, {2, "\"0c78aef83f66abc1fa1e8477f296d394\""}});
  StatusOr<XmlElement> root = ParseXml(body);
  ASSERT_OK(root);
  EXPECT_EQ(root->name, "CompleteMultipartUpload");
  ASSERT_EQ(root->children.size(), 2u);
  EXPECT_EQ(root->children[0].ChildText("PartNumber"), "1");
  EXPECT_EQ(root->children[0].ChildText("ETag"), "\"a54357aff0632cce46d942af68356b38\"");
  EXPECT_EQ(root->children[1].ChildText("PartNumber"), "2");
}

TEST(S3MessagesTest, CreateBucketBodyNamesOtherRegions) {
  EXPECT_EQ(CreateBucketBody("us-east-1"), "");
  EXPECT_EQ(CreateBucketBody(""), "");
  StatusOr<XmlElement> root = ParseXml(CreateBucketBody("eu-west-1"));
  ASSERT_OK(root);
  EXPECT_EQ(root->name, "CreateBucketConfiguration");
  EXPECT_EQ(root->ChildText("LocationConstraint"), "eu-west-1");
}

}  // namespace
}  // namespace pxb
