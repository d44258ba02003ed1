#include "exporter/compress.hpp"

#include <zlib.h>

#include <algorithm>
#include <cctype>
#include <memory>
#include <optional>

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

namespace {

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

// RFC 9110 12.4.2: qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ). Only whether it
// is zero matters here; a malformed one counts as zero, since identity is always acceptable and
// never wrong to send.
bool qvalue_positive(std::string_view q) {
  if (q.empty() || (q[0] != '0' && q[0] != '1')) return false;
  if (q.size() > 1 && (q[1] != '.' || q.size() > 5)) return false;
  const std::string_view decimals = q.size() > 1 ? q.substr(2) : std::string_view{};
  if (!std::all_of(decimals.begin(), decimals.end(),
                   [](char c) { return std::isdigit(static_cast<unsigned char>(c)); })) {
    return false;
  }
  if (q[0] == '1') return decimals.find_first_not_of('0') == std::string_view::npos;
  return decimals.find_first_not_of('0') != std::string_view::npos;
}

// One `coding *( OWS ";" OWS name OWS "=" OWS value )` element: the coding, and whether its q is
// above zero (no q parameter means 1).
struct CodingPreference {
  std::string_view coding;
  bool acceptable = true;
};

CodingPreference parse_coding(std::string_view element) {
  std::size_t semicolon = element.find(';');
  CodingPreference out{trim(element.substr(0, semicolon)), true};
  while (semicolon != std::string_view::npos) {
    const std::size_t next = element.find(';', semicolon + 1);
    const std::string_view parameter = element.substr(semicolon + 1, next - semicolon - 1);
    const std::size_t equals = parameter.find('=');
    if (iequals(trim(parameter.substr(0, equals)), "q")) {
      out.acceptable =
          equals != std::string_view::npos && qvalue_positive(trim(parameter.substr(equals + 1)));
    }
    semicolon = next;
  }
  return out;
}

}  // namespace

bool accepts_gzip(std::string_view accept_encoding) {
  // An entry for gzip (or its old alias x-gzip) decides; without one, "*" does; without either,
  // gzip was not offered (RFC 9110 12.5.3).
  std::optional<bool> gzip;
  std::optional<bool> any;
  std::size_t start = 0;
  while (start <= accept_encoding.size()) {
    const std::size_t end = std::min(accept_encoding.find(',', start), accept_encoding.size());
    const CodingPreference preference = parse_coding(accept_encoding.substr(start, end - start));
    if (iequals(preference.coding, "gzip") || iequals(preference.coding, "x-gzip")) {
      gzip = gzip.value_or(false) || preference.acceptable;
    } else if (preference.coding == "*") {
      any = any.value_or(false) || preference.acceptable;
    }
    start = end + 1;
  }
  return gzip.value_or(any.value_or(false));
}

}  // namespace certwatch::exporter
