#include "storage/s3/xml.h"

#include <cstdint>

namespace pxb {
namespace {

constexpr int kMaxDepth = 64;

bool IsXmlSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

bool IsNameStart(char c) {
  unsigned char u = static_cast<unsigned char>(c);
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' || u >= 0x80;
}

bool IsNameChar(char c) { return IsNameStart(c) || (c >= '0' && c <= '9') || c == '-' || c == '.'; }

void AppendUtf8(uint32_t cp, std::string& out) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xc0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xe0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  } else {
    out.push_back(static_cast<char>(0xf0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3f)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  }
}

class Parser {
 public:
  explicit Parser(std::string_view doc) : doc_(doc) {}

  StatusOr<XmlElement> Document() {
    if (doc_.starts_with("\xef\xbb\xbf")) pos_ = 3;  // UTF-8 byte order mark
    PXB_RETURN_IF_ERROR(SkipMisc());
    if (AtEnd() || Peek() != '<') return Fault("expected the root element");
    XmlElement root;
    PXB_RETURN_IF_ERROR(Element(root, 1));
    PXB_RETURN_IF_ERROR(SkipMisc());
    if (!AtEnd()) return Fault("content after the root element");
    return root;
  }

 private:
  bool AtEnd() const { return pos_ >= doc_.size(); }
  char Peek() const { return doc_[pos_]; }
  bool LookingAt(std::string_view s) const { return doc_.substr(pos_).starts_with(s); }

  Status Fault(std::string_view what) const {
    return InvalidArgumentError("malformed XML at byte " + std::to_string(pos_) + ": " +
                                std::string(what));
  }

  void SkipSpace() {
    while (!AtEnd() && IsXmlSpace(Peek())) ++pos_;
  }

  // Skips to just after `terminator`.
  Status SkipPast(std::string_view terminator, std::string_view what) {
    size_t end = doc_.find(terminator, pos_);
    if (end == std::string_view::npos)
      return Fault(std::string("unterminated ") + std::string(what));
    pos_ = end + terminator.size();
    return Status::Ok();
  }

  // White space, comments and processing instructions (the XML declaration
  // among them) around the root element.
  Status SkipMisc() {
    while (true) {
      SkipSpace();
      if (LookingAt("<?")) {
        PXB_RETURN_IF_ERROR(SkipPast("?>", "processing instruction"));
      } else if (LookingAt("<!--")) {
        PXB_RETURN_IF_ERROR(SkipPast("-->", "comment"));
      } else if (LookingAt("<!")) {
        return Fault("DOCTYPE and other declarations are not accepted");
      } else {
        return Status::Ok();
      }
    }
  }

  StatusOr<std::string> Name() {
    size_t start = pos_;
    if (AtEnd() || !IsNameStart(Peek())) return Fault("expected a name");
    while (!AtEnd() && IsNameChar(Peek())) ++pos_;
    return std::string(doc_.substr(start, pos_ - start));
  }

  // Decodes the reference at pos_ (just after '&') into out.
  Status Reference(std::string& out) {
    size_t semi = doc_.find(';', pos_);
    if (semi == std::string_view::npos || semi - pos_ > 10) return Fault("unterminated reference");
    std::string_view ref = doc_.substr(pos_, semi - pos_);
    if (ref == "amp") {
      out.push_back('&');
    } else if (ref == "lt") {
      out.push_back('<');
    } else if (ref == "gt") {
      out.push_back('>');
    } else if (ref == "quot") {
      out.push_back('"');
    } else if (ref == "apos") {
      out.push_back('\'');
    } else if (ref.size() >= 2 && ref[0] == '#') {
      const bool hex = ref[1] == 'x';
      std::string_view digits = ref.substr(hex ? 2 : 1);
      if (digits.empty()) return Fault("empty character reference");
      uint32_t cp = 0;
      for (char c : digits) {
        int v = -1;
        if (c >= '0' && c <= '9') v = c - '0';
        if (hex && c >= 'a' && c <= 'f') v = c - 'a' + 10;
        if (hex && c >= 'A' && c <= 'F') v = c - 'A' + 10;
        if (v < 0) return Fault("bad character reference");
        cp = cp * (hex ? 16 : 10) + static_cast<uint32_t>(v);
        if (cp > 0x10ffff) return Fault("character reference out of range");
      }
      if (cp == 0 || (cp >= 0xd800 && cp <= 0xdfff))
        return Fault("character reference not allowed");
      AppendUtf8(cp, out);
    } else {
      return Fault("unknown entity &" + std::string(ref) + ";");
    }
    pos_ = semi + 1;
    return Status::Ok();
  }

  Status Attributes(bool& self_closing) {
    while (true) {
      const size_t before = pos_;
      SkipSpace();
      if (AtEnd()) return Fault("unterminated start tag");
      if (LookingAt("/>")) {
        pos_ += 2;
        self_closing = true;
        return Status::Ok();
      }
      if (Peek() == '>') {
        ++pos_;
        self_closing = false;
        return Status::Ok();
      }
      if (pos_ == before) return Fault("expected white space before an attribute");
      PXB_RETURN_IF_ERROR(Name().status());
      SkipSpace();
      if (AtEnd() || Peek() != '=') return Fault("expected '=' after an attribute name");
      ++pos_;
      SkipSpace();
      if (AtEnd() || (Peek() != '"' && Peek() != '\'')) return Fault("expected a quoted value");
      const char quote = doc_[pos_++];
      std::string ignored;
      while (!AtEnd() && Peek() != quote) {
        if (Peek() == '<') return Fault("'<' in an attribute value");
        if (Peek() == '&') {
          ++pos_;
          PXB_RETURN_IF_ERROR(Reference(ignored));
        } else {
          ++pos_;
        }
      }
      if (AtEnd()) return Fault("unterminated attribute value");
      ++pos_;
    }
  }

  static std::string LocalName(const std::string& name) {
    size_t colon = name.rfind(':');
    return colon == std::string::npos ? name : name.substr(colon + 1);
  }

  // Parses an element starting at '<'.
  Status Element(XmlElement& out, int depth) {
    if (depth > kMaxDepth) return Fault("elements nested too deeply");
    ++pos_;  // '<'
    PXB_ASSIGN_OR_RETURN(std::string qualified, Name());
    out.name = LocalName(qualified);
    bool self_closing = false;
    PXB_RETURN_IF_ERROR(Attributes(self_closing));
    if (self_closing) return Status::Ok();
    while (true) {
      if (AtEnd()) return Fault("unterminated element <" + qualified + ">");
      char c = Peek();
      if (c == '&') {
        ++pos_;
        PXB_RETURN_IF_ERROR(Reference(out.text));
      } else if (c != '<') {
        if (LookingAt("]]>")) return Fault("']]>' in character data");
        out.text.push_back(c);
        ++pos_;
      } else if (LookingAt("</")) {
        pos_ += 2;
        PXB_ASSIGN_OR_RETURN(std::string closing, Name());
        if (closing != qualified) {
          return Fault("</" + closing + "> closes <" + qualified + ">");
        }
        SkipSpace();
        if (AtEnd() || Peek() != '>') return Fault("expected '>'");
        ++pos_;
        return Status::Ok();
      } else if (LookingAt("<!--")) {
        PXB_RETURN_IF_ERROR(SkipPast("-->", "comment"));
      } else if (LookingAt("<![CDATA[")) {
        pos_ += 9;
        size_t end = doc_.find("]]>", pos_);
        if (end == std::string_view::npos) return Fault("unterminated CDATA section");
        out.text.append(doc_.substr(pos_, end - pos_));
        pos_ = end + 3;
      } else if (LookingAt("<?")) {
        PXB_RETURN_IF_ERROR(SkipPast("?>", "processing instruction"));
      } else if (LookingAt("<!")) {
        return Fault("declaration inside an element");
      } else {
        XmlElement child;
        PXB_RETURN_IF_ERROR(Element(child, depth + 1));
        out.children.push_back(std::move(child));
      }
    }
  }

  std::string_view doc_;
  size_t pos_ = 0;
};

}  // namespace

const XmlElement* XmlElement::Child(std::string_view child_name) const {
  for (const XmlElement& child : children) {
    if (child.name == child_name) return &child;
  }
  return nullptr;
}

std::string XmlElement::ChildText(std::string_view child_name) const {
  const XmlElement* child = Child(child_name);
  return child == nullptr ? "" : child->text;
}

StatusOr<XmlElement> ParseXml(std::string_view document) { return Parser(document).Document(); }

std::string XmlEscape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

}  // namespace pxb
