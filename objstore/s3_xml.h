// Minimal XML reading for S3 responses: ListObjectsV2 results and <Error>
// bodies. Not a general XML parser: it finds elements by tag name in the
// flat documents S3 returns (no attributes on the elements read, no CDATA),
// and decodes the five predefined entities and numeric character references.
//
// Thread-safety: free functions with no shared state.
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"
#include "objstore/object_store.h"

namespace meridian::objstore {

// Decodes &amp; &lt; &gt; &quot; &apos; &#NNN; &#xHH; (to UTF-8). Unknown or
// malformed entities are kept as they are.
std::string XmlUnescape(std::string_view s);

// The unescaped text of the first <tag>...</tag> in `xml` at or after `*pos`
// (0 if pos is null); sets `*pos` past the closing tag. Empty if absent
// (`*found` tells the two apart when given).
std::string XmlTagText(std::string_view xml, std::string_view tag, size_t* pos = nullptr,
                       bool* found = nullptr);

// Parses a ListObjectsV2 <ListBucketResult>. Every key must start with
// `strip_prefix`, which is removed (the store's URL prefix). Corruption if the
// document is not a ListBucketResult or a field is malformed.
Result<ListPage> ParseListObjectsV2(std::string_view xml, std::string_view strip_prefix);

}  // namespace meridian::objstore
