// Site names: what a site (the primary, a mirror) is called in the site
// link's HELLO, in `meridian status`, in metrics labels and in the
// primary's `site_mirrors` table.
//
// A site name is 1..255 bytes of valid UTF-8 (shortest form, no surrogates)
// with no control characters (C0, DEL, C1) and no bidirectional-override
// characters, so that printing one can never move a terminal's cursor, change
// its colours or reorder what follows. Both ends of the site link check it:
// the mirror before it says HELLO, the primary before it keeps the name.
// Thread-safety: free functions, no shared state.
#pragma once

#include <string_view>

#include "common/status.h"

namespace meridian {

inline constexpr size_t kMaxSiteNameBytes = 255;

// OK, or InvalidArgument saying what is wrong with `name` (the offending
// byte's offset, never the raw bytes) and what a valid name is.
Status CheckSiteName(std::string_view name);

}  // namespace meridian
