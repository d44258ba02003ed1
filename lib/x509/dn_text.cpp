#include "x509/dn_text.hpp"

#include <openssl/err.h>
#include <openssl/x509.h>

#include <algorithm>
#include <cctype>
#include <vector>

#include "core/openssl_handles.hpp"

namespace certwatch::x509 {
namespace {

struct Attribute {
  std::string type;
  std::string value;  // bytes, unescaped (UTF-8)
};
using Rdn = std::vector<Attribute>;  // a multi-valued RDN has more than one

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The length of an attribute type (a short name or a dotted OID) at text[pos] followed by `eq`;
// 0 when there is none.
std::size_t type_then(std::string_view text, std::size_t pos, std::string_view eq) {
  std::size_t end = pos;
  while (end < text.size() && (std::isalnum(static_cast<unsigned char>(text[end])) != 0 ||
                               text[end] == '-' || text[end] == '.')) {
    ++end;
  }
  if (end == pos || text.substr(end, eq.size()) != eq) return 0;
  return end - pos;
}

// RFC 2253 escapes (also oneline's): `\` and two hex digits is a byte, `\` and another character
// is that character. text[pos] is the backslash; pos moves past the escape.
bool unescape_2253(std::string_view text, std::size_t& pos, std::string& out) {
  if (pos + 2 < text.size() && hex_value(text[pos + 1]) >= 0 && hex_value(text[pos + 2]) >= 0) {
    out += static_cast<char>(hex_value(text[pos + 1]) * 16 + hex_value(text[pos + 2]));
    pos += 3;
    return true;
  }
  if (pos + 1 >= text.size()) return false;
  out += text[pos + 1];
  pos += 2;
  return true;
}

// A quoted value ("..." with 2253 escapes inside); text[pos] is the opening quote.
bool quoted_value(std::string_view text, std::size_t& pos, std::string& out) {
  ++pos;
  while (pos < text.size()) {
    if (text[pos] == '\\') {
      if (!unescape_2253(text, pos, out)) return false;
    } else if (text[pos] == '"') {
      ++pos;
      return true;
    } else {
      out += text[pos++];
    }
  }
  return false;
}

// `C = US, O = "A, B", OU = x + CN = node`: forward order, ", " between RDNs, " + " inside one.
// A value needing `,` or `+` is quoted; `"` and `\` are escaped.
std::optional<std::vector<Rdn>> parse_oneline(std::string_view text) {
  std::vector<Rdn> out;
  std::size_t pos = 0;
  bool new_rdn = true;
  while (true) {
    const std::size_t n = type_then(text, pos, " = ");
    if (n == 0) return std::nullopt;
    Attribute attribute{std::string(text.substr(pos, n)), ""};
    pos += n + 3;
    if (pos < text.size() && text[pos] == '"') {
      if (!quoted_value(text, pos, attribute.value)) return std::nullopt;
    } else {
      while (pos < text.size() && text.substr(pos, 2) != ", " && text.substr(pos, 3) != " + ") {
        if (text[pos] == '\\') {
          if (!unescape_2253(text, pos, attribute.value)) return std::nullopt;
        } else if (text[pos] == ',' || text[pos] == '+') {
          return std::nullopt;  // openssl quotes a value that holds one
        } else {
          attribute.value += text[pos++];
        }
      }
    }
    if (new_rdn) out.emplace_back();
    out.back().push_back(std::move(attribute));
    if (pos == text.size()) return out;
    if (text.substr(pos, 2) == ", ") {
      pos += 2;
      new_rdn = true;
    } else if (text.substr(pos, 3) == " + ") {
      pos += 3;
      new_rdn = false;
    } else {
      return std::nullopt;
    }
  }
}

// `/C=US/O=A, B/OU=x+CN=node`: forward order, `/` before each RDN and `+` inside one (each
// followed by a type and `=`), `\/` and `\+` themselves, `\xHH` a byte; other backslashes are
// themselves.
std::optional<std::vector<Rdn>> parse_compat(std::string_view text) {
  std::vector<Rdn> out;
  std::size_t pos = 1;  // past the leading '/'
  bool new_rdn = true;
  while (true) {
    const std::size_t n = type_then(text, pos, "=");
    if (n == 0) return std::nullopt;
    Attribute attribute{std::string(text.substr(pos, n)), ""};
    pos += n + 1;
    while (pos < text.size()) {
      const char c = text[pos];
      if ((c == '/' || c == '+') && type_then(text, pos + 1, "=") != 0) break;
      if (c == '\\' && pos + 1 < text.size() && (text[pos + 1] == '/' || text[pos + 1] == '+')) {
        attribute.value += text[pos + 1];
        pos += 2;
      } else if (c == '\\' && pos + 3 < text.size() && text[pos + 1] == 'x' &&
                 hex_value(text[pos + 2]) >= 0 && hex_value(text[pos + 3]) >= 0) {
        attribute.value +=
            static_cast<char>(hex_value(text[pos + 2]) * 16 + hex_value(text[pos + 3]));
        pos += 4;
      } else {
        attribute.value += c;
        ++pos;
      }
    }
    if (new_rdn) out.emplace_back();
    out.back().push_back(std::move(attribute));
    if (pos == text.size()) return out;
    new_rdn = text[pos] == '/';
    ++pos;
  }
}

// `CN=x,CN=node+OU=x,O=A\, B,C=US`: reverse order, `,` between RDNs, `+` inside one, 2253
// escapes. A hex-dumped value (`#04...`) is not rebuilt: nullopt.
std::optional<std::vector<Rdn>> parse_rfc2253(std::string_view text) {
  std::vector<Rdn> out;
  std::size_t pos = 0;
  bool new_rdn = true;
  while (true) {
    const std::size_t n = type_then(text, pos, "=");
    if (n == 0) return std::nullopt;
    Attribute attribute{std::string(text.substr(pos, n)), ""};
    pos += n + 1;
    if (pos < text.size() && text[pos] == '#') return std::nullopt;
    if (pos < text.size() && text[pos] == '"') {
      if (!quoted_value(text, pos, attribute.value)) return std::nullopt;
    } else {
      while (pos < text.size() && text[pos] != ',' && text[pos] != '+') {
        if (text[pos] == '\\') {
          if (!unescape_2253(text, pos, attribute.value)) return std::nullopt;
        } else {
          attribute.value += text[pos++];
        }
      }
    }
    if (new_rdn) out.emplace_back();
    out.back().push_back(std::move(attribute));
    if (pos == text.size()) break;
    new_rdn = text[pos] == ',';
    ++pos;
  }
  // Printed last RDN first, and each RDN's values last first too (XN_FLAG_DN_REV).
  std::reverse(out.begin(), out.end());
  for (Rdn& rdn : out) std::reverse(rdn.begin(), rdn.end());
  return out;
}

std::optional<std::string> rebuilt(const std::optional<std::vector<Rdn>>& rdns) {
  if (!rdns) return std::nullopt;
  const openssl::NamePtr name(X509_NAME_new());
  if (!name) return std::nullopt;
  for (const Rdn& rdn : *rdns) {
    for (std::size_t i = 0; i < rdn.size(); ++i) {
      const Attribute& a = rdn[i];
      if (a.value.size() > 4096 ||
          X509_NAME_add_entry_by_txt(name.get(), a.type.c_str(), MBSTRING_UTF8,
                                     reinterpret_cast<const unsigned char*>(a.value.data()),
                                     static_cast<int>(a.value.size()), -1, i == 0 ? 0 : -1) != 1) {
        ERR_clear_error();
        return std::nullopt;
      }
    }
  }
  std::string out = rfc2253_name(name.get());
  if (out.empty()) return std::nullopt;
  return out;
}

std::string_view trimmed(std::string_view text) {
  const auto first = text.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return {};
  const auto last = text.find_last_not_of(" \t\r\n");
  return text.substr(first, last - first + 1);
}

}  // namespace

std::string rfc2253_name(const X509_NAME* name) {
  if (name == nullptr) return {};
  const openssl::BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio) return {};
  constexpr unsigned long kFlags = XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB;
  if (X509_NAME_print_ex(bio.get(), name, 0, kFlags) < 0) return {};
  const char* text = nullptr;
  const long length = BIO_get_mem_data(bio.get(), &text);
  if (length <= 0 || text == nullptr) return {};
  return {text, static_cast<std::size_t>(length)};
}

std::optional<std::string> canonical_dn(std::string_view text) {
  text = trimmed(text);
  if (text.starts_with("issuer=")) text = trimmed(text.substr(7));
  if (text.empty() || text.size() > 64 * 1024) return std::nullopt;
  if (text.front() == '/') return rebuilt(parse_compat(text));
  const auto equals = text.find('=');
  if (equals != std::string_view::npos && equals > 0 && text[equals - 1] == ' ') {
    return rebuilt(parse_oneline(text));
  }
  if (auto canonical = rebuilt(parse_rfc2253(text))) return canonical;
  return std::string(text);  // as written: compared with the name as facts carry it
}

}  // namespace certwatch::x509
