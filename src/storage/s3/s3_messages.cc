#include "storage/s3/s3_messages.h"

#include <charconv>

#include "storage/s3/xml.h"

namespace pxb {
namespace {

constexpr std::string_view kS3Namespace = "http://s3.amazonaws.com/doc/2006-03-01/";

Status Malformed(std::string_view what, std::string_view fault) {
  return UnknownError("malformed " + std::string(what) + " response: " + std::string(fault));
}

// Parses `body` and checks the root element's name.
StatusOr<XmlElement> ParseRoot(std::string_view body, std::string_view root_name,
                               std::string_view what) {
  StatusOr<XmlElement> root = ParseXml(body);
  if (!root.ok()) return Malformed(what, root.status().message());
  if (root->name != root_name) {
    return Malformed(what,
                     "root element is <" + root->name + ">, not <" + std::string(root_name) + ">");
  }
  return root;
}

bool ParseDecimal(std::string_view text, uint64_t& out) {
  if (text.empty()) return false;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size();
}

}  // namespace

std::optional<S3ErrorBody> ParseS3Error(std::string_view body) {
  StatusOr<XmlElement> root = ParseXml(body);
  if (!root.ok() || root->name != "Error") return std::nullopt;
  return S3ErrorBody{root->ChildText("Code"), root->ChildText("Message")};
}

StatusOr<ListObjectsV2Page> ParseListObjectsV2(std::string_view body) {
  constexpr std::string_view kWhat = "ListObjectsV2";
  PXB_ASSIGN_OR_RETURN(XmlElement root, ParseRoot(body, "ListBucketResult", kWhat));
  ListObjectsV2Page page;
  for (const XmlElement& child : root.children) {
    if (child.name != "Contents") continue;
    const XmlElement* key = child.Child("Key");
    if (key == nullptr || key->text.empty()) return Malformed(kWhat, "<Contents> without a <Key>");
    ListObjectsV2Page::Entry entry{key->text, 0};
    if (!ParseDecimal(child.ChildText("Size"), entry.size)) {
      return Malformed(kWhat, "<Contents> of '" + key->text + "' without a decimal <Size>");
    }
    page.contents.push_back(std::move(entry));
  }
  const std::string truncated = root.ChildText("IsTruncated");
  if (truncated != "true" && truncated != "false") {
    return Malformed(kWhat, "<IsTruncated> is '" + truncated + "', not true or false");
  }
  page.is_truncated = truncated == "true";
  if (page.is_truncated) {
    page.next_continuation_token = root.ChildText("NextContinuationToken");
    if (page.next_continuation_token.empty()) {
      return Malformed(kWhat, "a truncated page without <NextContinuationToken>");
    }
  }
  return page;
}

StatusOr<std::string> ParseInitiateMultipartUpload(std::string_view body) {
  constexpr std::string_view kWhat = "CreateMultipartUpload";
  PXB_ASSIGN_OR_RETURN(XmlElement root, ParseRoot(body, "InitiateMultipartUploadResult", kWhat));
  std::string upload_id = root.ChildText("UploadId");
  if (upload_id.empty()) return Malformed(kWhat, "no <UploadId>");
  return upload_id;
}

Status ParseCompleteMultipartUpload(std::string_view body) {
  return ParseRoot(body, "CompleteMultipartUploadResult", "CompleteMultipartUpload").status();
}

std::string CompleteMultipartUploadBody(const std::vector<CompletedPart>& parts) {
  std::string out = "<CompleteMultipartUpload xmlns=\"" + std::string(kS3Namespace) + "\">";
  for (const CompletedPart& part : parts) {
    out += "<Part><PartNumber>" + std::to_string(part.number) + "</PartNumber><ETag>" +
           XmlEscape(part.etag) + "</ETag></Part>";
  }
  out += "</CompleteMultipartUpload>";
  return out;
}

std::string CreateBucketBody(std::string_view region) {
  if (region.empty() || region == "us-east-1") return "";
  return "<CreateBucketConfiguration xmlns=\"" + std::string(kS3Namespace) +
         "\"><LocationConstraint>" + XmlEscape(region) +
         "</LocationConstraint></CreateBucketConfiguration>";
}

}  // namespace pxb
