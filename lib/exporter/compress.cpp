#include "exporter/compress.hpp"

#include <zlib.h>

#include <algorithm>
#include <cctype>
#include <memory>

namespace certwatch::exporter {

std::string gzip_compress(std::string_view data) {
  z_stream stream{};
  // windowBits 15 + 16: a gzip header and trailer instead of zlib's.
  if (deflateInit2(&stream, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) !=
      Z_OK) {
    return {};
  }
  const std::unique_ptr<z_stream, int (*)(z_stream*)> guard(&stream, &deflateEnd);
  std::string out(deflateBound(&stream, static_cast<uLong>(data.size())), '\0');
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  stream.avail_in = static_cast<uInt>(data.size());
  stream.next_out = reinterpret_cast<Bytef*>(out.data());
  stream.avail_out = static_cast<uInt>(out.size());
  if (deflate(&stream, Z_FINISH) != Z_STREAM_END) return {};
  out.resize(stream.total_out);
  return out;
}

bool accepts_gzip(std::string_view accept_encoding) {
  std::size_t start = 0;
  while (start <= accept_encoding.size()) {
    const std::size_t end = std::min(accept_encoding.find(',', start), accept_encoding.size());
    std::string_view item = accept_encoding.substr(start, end - start);
    const std::size_t semicolon = item.find(';');
    std::string_view coding = item.substr(0, semicolon);
    while (!coding.empty() && std::isspace(static_cast<unsigned char>(coding.front()))) {
      coding.remove_prefix(1);
    }
    while (!coding.empty() && std::isspace(static_cast<unsigned char>(coding.back()))) {
      coding.remove_suffix(1);
    }
    std::string lower(coding);
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (lower == "gzip" || lower == "*") {
      if (semicolon == std::string_view::npos) return true;
      std::string params(item.substr(semicolon + 1));
      params.erase(std::remove_if(params.begin(), params.end(),
                                  [](unsigned char c) { return std::isspace(c); }),
                   params.end());
      // "q=0", "q=0.0", "q=0.000" refuse; anything else accepts.
      if (!(params.rfind("q=0", 0) == 0 &&
            params.find_first_not_of("0.", 2) == std::string::npos)) {
        return true;
      }
    }
    start = end + 1;
  }
  return false;
}

}  // namespace certwatch::exporter
