#include "storage/s3/xml.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "storage/testing/status_testing.h"

namespace pxb {
namespace {

using ::testing::HasSubstr;

TEST(XmlTest, ParsesElementsTextAndAttributes) {
  StatusOr<XmlElement> root = ParseXml(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      "<!-- a comment -->\n"
      "<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
      "<Name>bucket</Name><Contents><Key>a</Key><Size>1</Size></Contents>"
      "<Contents><Key>b</Key><Empty/><Size>22</Size></Contents></ListBucketResult>\n");
  ASSERT_OK(root);
  EXPECT_EQ(root->name, "ListBucketResult");
  EXPECT_EQ(root->ChildText("Name"), "bucket");
  ASSERT_EQ(root->children.size(), 3u);
  EXPECT_EQ(root->children[2].ChildText("Key"), "b");
  EXPECT_EQ(root->children[2].ChildText("Size"), "22");
  ASSERT_NE(root->children[2].Child("Empty"), nullptr);
  EXPECT_EQ(root->children[2].Child("Empty")->text, "");
  EXPECT_EQ(root->Child("Missing"), nullptr);
  EXPECT_EQ(root->ChildText("Missing"), "");
}

TEST(XmlTest, DecodesEntitiesAndCharacterReferences) {
  StatusOr<XmlElement> root = ParseXml(
      "<Key>a&amp;b &lt;c&gt; &quot;d&quot; &apos;e&apos; &#65;&#x42;&#xe9;&#x1F600;</Key>");
  ASSERT_OK(root);
  EXPECT_EQ(root->text, "a&b <c> \"d\" 'e' AB\xc3\xa9\xf0\x9f\x98\x80");
}

TEST(XmlTest, CdataCommentsAndNamespacePrefixes) {
  StatusOr<XmlElement> root =
      ParseXml("<s3:Error><s3:Code><![CDATA[a<&>b]]></s3:Code><!-- x --><?pi data?></s3:Error>");
  ASSERT_OK(root);
  EXPECT_EQ(root->name, "Error");
  EXPECT_EQ(root->ChildText("Code"), "a<&>b");
}

TEST(XmlTest, AttributeValuesMayHoldEntitiesAndEitherQuote) {
  StatusOr<XmlElement> root = ParseXml("<a x='1&amp;2' y = \"&lt;\"><b/></a>");
  ASSERT_OK(root);
  EXPECT_EQ(root->children.size(), 1u);
}

TEST(XmlTest, ByteOrderMarkIsSkipped) {
  StatusOr<XmlElement> root = ParseXml("\xef\xbb\xbf<a>x</a>");
  ASSERT_OK(root);
  EXPECT_EQ(root->text, "x");
}

TEST(XmlTest, RejectsMalformedDocuments) {
  for (std::string_view doc : {
           "",
           "   ",
           "text",
           "<a>",
           "<a></b>",
           "<a><b></a></b>",
           "<a>x</a><b/>",
           "<a>x</a>trailing",
           "<a>&unknown;</a>",
           "<a>&amp</a>",
           "<a>&#;</a>",
           "<a>&#x110000;</a>",
           "<a>&#0;</a>",
           "<a>&#xd800;</a>",
           "<a>&#12a;</a>",
           "<a x=1/>",
           "<a x=\"1/>",
           "<a x=\"<\"/>",
           "<a x=\"1\"y=\"2\"/>",
           "<a><![CDATA[x</a>",
           "<a><!-- x</a>",
           "<a>]]></a>",
           "<1a/>",
           "<!DOCTYPE a [<!ENTITY e \"boom\">]><a>&e;</a>",
           "<a><!DOCTYPE b></a>",
       }) {
    StatusOr<XmlElement> root = ParseXml(doc);
    EXPECT_EQ(CodeOf(root), StatusCode::kInvalidArgument) << doc;
    if (!root.ok()) {
      EXPECT_THAT(std::string(root.status().message()), HasSubstr("malformed XML at byte"));
    }
  }
}

TEST(XmlTest, RejectsDeepNesting) {
  std::string deep;
  for (int i = 0; i < 100; ++i) deep += "<a>";
  for (int i = 0; i < 100; ++i) deep += "</a>";
  EXPECT_EQ(CodeOf(ParseXml(deep)), StatusCode::kInvalidArgument);
  std::string ok;
  for (int i = 0; i < 64; ++i) ok += "<a>";
  for (int i = 0; i < 64; ++i) ok += "</a>";
  EXPECT_OK(ParseXml(ok));
}

TEST(XmlTest, EscapeRoundTrips) {
  const std::string text = "a&b<c>\"d\"'e' plain";
  EXPECT_EQ(XmlEscape(text), "a&amp;b&lt;c&gt;&quot;d&quot;&apos;e&apos; plain");
  StatusOr<XmlElement> root = ParseXml("<k>" + XmlEscape(text) + "</k>");
  ASSERT_OK(root);
  EXPECT_EQ(root->text, text);
}

}  // namespace
}  // namespace pxb
