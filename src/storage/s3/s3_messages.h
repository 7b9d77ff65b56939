// The S3 XML documents S3Backend reads and writes: error bodies,
// ListObjectsV2 pages, the multipart upload results, and the request bodies
// of CompleteMultipartUpload and CreateBucket. Only the elements S3Backend
// uses are read; others are ignored.
//
//   PXB_ASSIGN_OR_RETURN(ListObjectsV2Page page, ParseListObjectsV2(body));
//   if (page.is_truncated) token = page.next_continuation_token;
//
// Thread-safety: free functions and plain values.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pxb/status.h"

namespace pxb {

// <Error><Code>NoSuchKey</Code><Message>...</Message></Error>.
struct S3ErrorBody {
  std::string code;
  std::string message;
};

// The error in `body`, or nullopt if it is not an S3 <Error> document (an
// empty body, HTML from a proxy, ...).
std::optional<S3ErrorBody> ParseS3Error(std::string_view body);

struct ListObjectsV2Page {
  struct Entry {
    std::string key;
    uint64_t size = 0;
  };
  std::vector<Entry> contents;
  bool is_truncated = false;
  std::string next_continuation_token;  // set when is_truncated
};

// Parses a <ListBucketResult>. Returns kUnknown naming the fault if the
// document is malformed, a <Contents> lacks a Key or a decimal Size, or a
// truncated page has no NextContinuationToken.
StatusOr<ListObjectsV2Page> ParseListObjectsV2(std::string_view body);

// The UploadId of an <InitiateMultipartUploadResult>; kUnknown if missing.
StatusOr<std::string> ParseInitiateMultipartUpload(std::string_view body);

// OK if `body` is a <CompleteMultipartUploadResult>; kUnknown otherwise. S3
// may answer CompleteMultipartUpload with 200 and an <Error> body, so check
// ParseS3Error first.
Status ParseCompleteMultipartUpload(std::string_view body);

struct CompletedPart {
  int number = 0;    // 1-based
  std::string etag;  // as the UploadPart response's ETag header, quotes included
};

// The <CompleteMultipartUpload> request body listing `parts` in order.
std::string CompleteMultipartUploadBody(const std::vector<CompletedPart>& parts);

// The CreateBucket request body: empty for us-east-1 (which takes no
// LocationConstraint), a <CreateBucketConfiguration> otherwise.
std::string CreateBucketBody(std::string_view region);

}  // namespace pxb
