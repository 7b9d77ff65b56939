// A small, strict XML reader for the documents S3 sends (ListObjectsV2,
// errors, multipart upload results): elements, character data with the five
// predefined entities and numeric character references, CDATA, comments,
// processing instructions and attributes (read and dropped). A DOCTYPE is
// refused, so no entity is ever expanded from the document itself. Names
// lose their namespace prefix ("s3:Key" is "Key").
//
//   PXB_ASSIGN_OR_RETURN(XmlElement root, ParseXml(body));
//   for (const XmlElement& c : root.children) if (c.name == "Contents") ...
//
// Thread-safety: free functions and plain values.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "pxb/status.h"

namespace pxb {

struct XmlElement {
  std::string name;  // local name, without a namespace prefix
  // The element's own character data, entities decoded, concatenated across
  // its child elements (for the leaf elements S3 uses, simply its text).
  std::string text;
  std::vector<XmlElement> children;

  // The first child called `child_name`, or null.
  const XmlElement* Child(std::string_view child_name) const;
  // The text of the first child called `child_name`, or "" if there is none.
  std::string ChildText(std::string_view child_name) const;
};

// Parses a whole document with one root element. Returns kInvalidArgument
// naming the byte offset of the first fault for anything malformed, for a
// DOCTYPE, and for nesting deeper than 64 elements.
StatusOr<XmlElement> ParseXml(std::string_view document);

// Escapes &, <, >, " and ' for element text or attribute values.
std::string XmlEscape(std::string_view text);

}  // namespace pxb
