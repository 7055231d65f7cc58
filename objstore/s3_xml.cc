#include "objstore/s3_xml.h"

#include <charconv>

namespace meridian::objstore {
namespace {

void AppendUtf8(uint32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

// Decodes the entity body between '&' and ';' into `out`; false if unknown.
bool DecodeEntity(std::string_view ent, std::string* out) {
  if (ent == "amp") return out->push_back('&'), true;
  if (ent == "lt") return out->push_back('<'), true;
  if (ent == "gt") return out->push_back('>'), true;
  if (ent == "quot") return out->push_back('"'), true;
  if (ent == "apos") return out->push_back('\''), true;
  if (ent.size() < 2 || ent[0] != '#') return false;
  int base = 10;
  std::string_view digits = ent.substr(1);
  if (digits[0] == 'x' || digits[0] == 'X') {
    base = 16;
    digits.remove_prefix(1);
  }
  uint32_t cp = 0;
  auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), cp, base);
  if (ec != std::errc() || p != digits.data() + digits.size() || digits.empty()) return false;
  if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
  AppendUtf8(cp, out);
  return true;
}

}  // namespace

std::string XmlUnescape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    size_t amp = s.find('&', i);
    if (amp == std::string_view::npos) {
      out.append(s.substr(i));
      break;
    }
    out.append(s.substr(i, amp - i));
    size_t semi = s.find(';', amp);
    if (semi == std::string_view::npos || semi - amp > 12 ||
        !DecodeEntity(s.substr(amp + 1, semi - amp - 1), &out)) {
      out.push_back('&');
      i = amp + 1;
      continue;
    }
    i = semi + 1;
  }
  return out;
}

std::string XmlTagText(std::string_view xml, std::string_view tag, size_t* pos, bool* found) {
  const std::string open = "<" + std::string(tag) + ">";
  const std::string close = "</" + std::string(tag) + ">";
  const std::string empty = "<" + std::string(tag) + "/>";
  size_t start = pos ? *pos : 0;
  if (found) *found = false;
  size_t b = xml.find(open, start);
  size_t e_empty = xml.find(empty, start);
  if (e_empty != std::string_view::npos && (b == std::string_view::npos || e_empty < b)) {
    if (pos) *pos = e_empty + empty.size();
    if (found) *found = true;
    return "";
  }
  if (b == std::string_view::npos) return "";
  b += open.size();
  size_t e = xml.find(close, b);
  if (e == std::string_view::npos) return "";
  if (pos) *pos = e + close.size();
  if (found) *found = true;
  return XmlUnescape(xml.substr(b, e - b));
}

Result<ListPage> ParseListObjectsV2(std::string_view xml, std::string_view strip_prefix) {
  if (xml.find("<ListBucketResult") == std::string_view::npos) {
    return Status::Corruption("ListObjectsV2 response is not a ListBucketResult: " +
                              std::string(xml.substr(0, 200)));
  }
  ListPage page;
  size_t pos = 0;
  while (true) {
    size_t b = xml.find("<Contents>", pos);
    if (b == std::string_view::npos) break;
    size_t e = xml.find("</Contents>", b);
    if (e == std::string_view::npos) return Status::Corruption("unterminated <Contents>");
    std::string_view item = xml.substr(b, e - b);
    pos = e;
    ObjectInfo info;
    bool has_key = false;
    info.key = XmlTagText(item, "Key", nullptr, &has_key);
    if (!has_key || !std::string_view(info.key).starts_with(strip_prefix)) {
      return Status::Corruption("ListObjectsV2 returned a key outside the prefix: " + info.key);
    }
    info.key.erase(0, strip_prefix.size());
    std::string size = XmlTagText(item, "Size");
    auto [p, ec] = std::from_chars(size.data(), size.data() + size.size(), info.size);
    if (ec != std::errc() || p != size.data() + size.size()) {
      return Status::Corruption("bad <Size> '" + size + "' for key " + info.key);
    }
    info.etag = XmlTagText(item, "ETag");
    if (info.etag.size() >= 2 && info.etag.front() == '"' && info.etag.back() == '"') {
      info.etag = info.etag.substr(1, info.etag.size() - 2);
    }
    page.objects.push_back(std::move(info));
  }
  // IsTruncated and NextContinuationToken follow or precede the Contents;
  // Keys are escaped, so a tag name inside a key cannot match.
  page.truncated = XmlTagText(xml, "IsTruncated") == "true";
  if (page.truncated) {
    page.next_token = XmlTagText(xml, "NextContinuationToken");
    if (page.next_token.empty()) {
      return Status::Corruption(
          "ListObjectsV2 response is truncated but has no continuation token");
    }
  }
  return page;
}

}  // namespace meridian::objstore
