// gzip for the exposition (zlib), so a scraper that asks gets a few percent of the bytes.
#pragma once

#include <string>
#include <string_view>

namespace certwatch::exporter {

// A complete gzip member (RFC 1952) of `data`; empty on failure.
std::string gzip_compress(std::string_view data);

// True when an Accept-Encoding header value accepts gzip: listed (or "*" with gzip not listed)
// with a q-value above zero, in any spelling RFC 9110 allows ("gzip;q=0", "GZIP ; Q = 0.000",
// "*;q=0", "gzip;q=0, *" all refuse it).
bool accepts_gzip(std::string_view accept_encoding);

}  // namespace certwatch::exporter
