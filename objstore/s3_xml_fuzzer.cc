// libFuzzer target for the S3 response XML reader (objstore/s3_xml.h), which
// reads whatever a server (or a proxy) sends back; scripts/fuzz.sh runs it.
// Seeds: objstore/fuzz_corpus/s3_xml/ (written by objstore_fuzz_seeds).
//
// Input: byte 0 is the length n (mod 32) of the key prefix to strip, the next
// n bytes are that prefix, the rest is the document. Must never crash, and:
//   - a page that parses, written back as XML (escaped, the way S3 does),
//     parses to the same page;
//   - XmlUnescape never grows its input, and undoes escaping exactly;
//   - repeated XmlTagText with a position (how <Error> bodies are read) only
//     moves forward.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "objstore/s3_xml.h"

namespace {

using namespace meridian::objstore;  // NOLINT: a fuzz target

std::string Escape(std::string_view s) {
  std::string out;
  for (char c : s) {
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
        out += c;
    }
  }
  return out;
}

// The page as a ListObjectsV2 response, keys under `prefix`.
std::string Write(const ListPage& page, std::string_view prefix) {
  std::string xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ListBucketResult>";
  for (const ObjectInfo& o : page.objects) {
    xml += "<Contents><Key>" + Escape(std::string(prefix) + o.key) + "</Key><Size>" +
           std::to_string(o.size) + "</Size><ETag>\"" + Escape(o.etag) + "\"</ETag></Contents>";
  }
  xml += page.truncated ? "<IsTruncated>true</IsTruncated>" : "<IsTruncated>false</IsTruncated>";
  if (page.truncated) {
    xml += "<NextContinuationToken>" + Escape(page.next_token) + "</NextContinuationToken>";
  }
  return xml + "</ListBucketResult>";
}

bool Same(const ListPage& a, const ListPage& b) {
  if (a.truncated != b.truncated || a.next_token != b.next_token) return false;
  if (a.objects.size() != b.objects.size()) return false;
  for (size_t i = 0; i < a.objects.size(); ++i) {
    const ObjectInfo &x = a.objects[i], &y = b.objects[i];
    if (x.key != y.key || x.size != y.size || x.etag != y.etag) return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  std::string_view in(reinterpret_cast<const char*>(data + 1), size - 1);
  const size_t n = std::min<size_t>(data[0] % 32, in.size());
  const std::string_view prefix = in.substr(0, n);
  const std::string_view xml = in.substr(n);

  auto page = ParseListObjectsV2(xml, prefix);
  if (page.ok()) {
    if (page->truncated && page->next_token.empty()) std::abort();
    auto again = ParseListObjectsV2(Write(*page, prefix), prefix);
    if (!again.ok() || !Same(*again, *page)) std::abort();
  } else if (!page.status().IsCorruption()) {
    std::abort();
  }

  const std::string text = XmlUnescape(in);
  if (text.size() > in.size()) std::abort();
  if (XmlUnescape(Escape(in)) != in) std::abort();

  // An <Error> body, read the way s3_client.cc reads it; and every <Key>.
  (void)XmlTagText(xml, "Code");
  (void)XmlTagText(xml, "Message");
  size_t pos = 0;
  for (bool found = true; found;) {
    const size_t before = pos;
    (void)XmlTagText(xml, "Key", &pos, &found);
    if (found && pos <= before) std::abort();
  }
  return 0;
}
