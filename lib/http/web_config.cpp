#include "http/web_config.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <filesystem>
#include <regex>

#include "config/yaml_strict.hpp"
#include "core/read_file.hpp"

namespace certwatch::web {

namespace {

// The exporter-toolkit spellings, each enum value's first row being its canonical name.
template <typename Enum>
struct Spelling {
  Enum value;
  std::string_view name;
};

constexpr Spelling<ClientAuth> kClientAuthNames[] = {
    {ClientAuth::no_client_cert, "NoClientCert"},
    {ClientAuth::request_client_cert, "RequestClientCert"},
    {ClientAuth::require_any_client_cert, "RequireAnyClientCert"},
    {ClientAuth::verify_client_cert_if_given, "VerifyClientCertIfGiven"},
    {ClientAuth::require_and_verify_client_cert, "RequireAndVerifyClientCert"},
};
// exporter-toolkit's old spelling, still accepted there; never printed.
constexpr Spelling<ClientAuth> kClientAuthAlias{ClientAuth::require_any_client_cert,
                                                "RequireClientCert"};

constexpr Spelling<TlsVersion> kTlsVersionNames[] = {
    {TlsVersion::tls10, "TLS10"},
    {TlsVersion::tls11, "TLS11"},
    {TlsVersion::tls12, "TLS12"},
    {TlsVersion::tls13, "TLS13"},
};

template <typename Enum, std::size_t N>
std::string_view name_of(const Spelling<Enum> (&table)[N], Enum value) {
  for (const auto& row : table) {
    if (row.value == value) return row.name;
  }
  return table[0].name;
}

template <typename Enum, std::size_t N>
std::optional<Enum> value_of(const Spelling<Enum> (&table)[N], std::string_view name) {
  for (const auto& row : table) {
    if (row.name == name) return row.value;
  }
  return std::nullopt;
}

// "(one of A, B, C)" for an error message.
template <typename Enum, std::size_t N>
std::string one_of(const Spelling<Enum> (&table)[N]) {
  std::string out = "(one of ";
  for (std::size_t i = 0; i < N; ++i) out += (i == 0 ? "" : ", ") + std::string(table[i].name);
  return out + ")";
}

}  // namespace

std::string_view to_string(ClientAuth auth) { return name_of(kClientAuthNames, auth); }
std::string_view to_string(TlsVersion version) { return name_of(kTlsVersionNames, version); }

std::optional<int> bcrypt_cost_of(const std::string& hash) {
  static const std::regex pattern(R"(^\$2[aby]\$([0-9]{2})\$[./A-Za-z0-9]{53}$)");
  std::smatch match;
  if (!std::regex_match(hash, match, pattern)) return std::nullopt;
  const int cost = std::stoi(match[1].str());
  if (cost < 4 || cost > 31) return std::nullopt;
  return cost;
}

namespace {

// A web config is a few lines; inline PEM keeps it well under this.
constexpr std::size_t kMaxWebConfigBytes = 1024 * 1024;

// Go cipher suite names (crypto/tls) -> OpenSSL names. TLS 1.3 suites are accepted and ignored,
// as Go ignores them: TLS 1.3 suites are not configurable there either.
struct CipherName {
  std::string_view go;
  std::string_view openssl;  // empty: a TLS 1.3 suite, ignored
};
constexpr std::array kCiphers{
    CipherName{"TLS_RSA_WITH_AES_128_CBC_SHA", "AES128-SHA"},
    CipherName{"TLS_RSA_WITH_AES_256_CBC_SHA", "AES256-SHA"},
    CipherName{"TLS_RSA_WITH_AES_128_GCM_SHA256", "AES128-GCM-SHA256"},
    CipherName{"TLS_RSA_WITH_AES_256_GCM_SHA384", "AES256-GCM-SHA384"},
    CipherName{"TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", "ECDHE-ECDSA-AES128-SHA"},
    CipherName{"TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA", "ECDHE-ECDSA-AES256-SHA"},
    CipherName{"TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", "ECDHE-RSA-AES128-SHA"},
    CipherName{"TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA", "ECDHE-RSA-AES256-SHA"},
    CipherName{"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "ECDHE-RSA-AES128-GCM-SHA256"},
    CipherName{"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "ECDHE-ECDSA-AES128-GCM-SHA256"},
    CipherName{"TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "ECDHE-RSA-AES256-GCM-SHA384"},
    CipherName{"TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "ECDHE-ECDSA-AES256-GCM-SHA384"},
    CipherName{"TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", "ECDHE-RSA-CHACHA20-POLY1305"},
    CipherName{"TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305", "ECDHE-RSA-CHACHA20-POLY1305"},
    CipherName{"TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", "ECDHE-ECDSA-CHACHA20-POLY1305"},
    CipherName{"TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305", "ECDHE-ECDSA-CHACHA20-POLY1305"},
    CipherName{"TLS_AES_128_GCM_SHA256", ""},
    CipherName{"TLS_AES_256_GCM_SHA384", ""},
    CipherName{"TLS_CHACHA20_POLY1305_SHA256", ""},
};

constexpr std::array<std::pair<std::string_view, std::string_view>, 4> kCurves{{
    {"CurveP256", "P-256"},
    {"CurveP384", "P-384"},
    {"CurveP521", "P-521"},
    {"X25519", "X25519"},
}};

// exporter-toolkit's list: only security headers, and fixed values where the header is an
// enumeration. Keeping the same list keeps web-config files portable between exporters.
struct AllowedHeader {
  std::string_view name;
  std::vector<std::string_view> values;  // empty: any value
};
const std::vector<AllowedHeader>& allowed_headers() {
  static const std::vector<AllowedHeader> headers{
      {"Strict-Transport-Security", {}},
      {"X-Content-Type-Options", {"nosniff"}},
      {"X-Frame-Options", {"deny", "sameorigin"}},
      {"X-XSS-Protection", {}},
      {"Content-Security-Policy", {}},
  };
  return headers;
}

std::string quote(std::string_view text) { return "\"" + std::string(text) + "\""; }

// The shared strict reader (errors with line and dotted key, checked map keys, typed values),
// plus the shapes only the web config has.
class Reader : public config::yaml_strict::Reader {
 public:
  using config::yaml_strict::Reader::Reader;
  using Value = config::yaml_strict::Value;

  std::optional<std::string> string_of(const Value& value) { return scalar_of(value, "a string"); }

  // exporter-toolkit writes an empty list as nothing at all.
  std::optional<std::vector<std::pair<std::string, Value>>> list_of_strings(const Value& value) {
    if (value.node.IsNull()) return std::vector<std::pair<std::string, Value>>{};
    const auto items = list_of(value);
    if (!items) return std::nullopt;
    std::vector<std::pair<std::string, Value>> out;
    for (const Value& item : *items) {
      if (auto text = string_of(item)) out.emplace_back(*text, item);
    }
    return out;
  }
};

std::string absolute_from(const std::string& file, const std::string& path) {
  if (path.empty()) return path;
  const std::filesystem::path p(path);
  if (p.is_absolute()) return path;
  return (std::filesystem::path(file).parent_path() / p).lexically_normal().string();
}

std::optional<ClientAuth> client_auth_from(std::string_view text) {
  if (text.empty()) return ClientAuth::no_client_cert;
  if (text == kClientAuthAlias.name) return kClientAuthAlias.value;
  return value_of(kClientAuthNames, text);
}

void read_tls(Reader& r, const Reader::Value& value, WebConfig& out, const std::string& file) {
  const auto fields =
      r.map_of(value, {"cert_file", "key_file", "cert", "key", "client_auth_type", "client_ca_file",
                       "client_ca", "min_version", "max_version", "cipher_suites",
                       "curve_preferences", "prefer_server_cipher_suites", "client_allowed_sans"});
  if (!fields) return;
  // An empty `tls_server_config:` means no TLS, as in exporter-toolkit (IsEnabled).
  if (fields->empty()) return;
  TlsServerConfig tls;
  bool enabled = false;
  for (const auto& [name, field] : *fields) {
    tls.lines[name] = field.line;
    auto text_into = [&](std::string& target) {
      if (field.node.IsNull()) return;
      if (auto text = r.string_of(field)) target = *text;
    };
    if (name == "cert_file") {
      text_into(tls.cert_file);
      tls.cert_file = absolute_from(file, tls.cert_file);
      enabled |= !tls.cert_file.empty();
    } else if (name == "key_file") {
      text_into(tls.key_file);
      tls.key_file = absolute_from(file, tls.key_file);
      enabled |= !tls.key_file.empty();
    } else if (name == "cert") {
      text_into(tls.cert);
      enabled |= !tls.cert.empty();
    } else if (name == "key") {
      text_into(tls.key);
      enabled |= !tls.key.empty();
    } else if (name == "client_ca_file") {
      text_into(tls.client_ca_file);
      tls.client_ca_file = absolute_from(file, tls.client_ca_file);
      enabled |= !tls.client_ca_file.empty();
    } else if (name == "client_ca") {
      text_into(tls.client_ca);
      enabled |= !tls.client_ca.empty();
    } else if (name == "client_auth_type") {
      std::string text;
      text_into(text);
      enabled |= !text.empty();
      if (auto auth = client_auth_from(text)) {
        tls.client_auth = *auth;
      } else {
        r.fail(field, "invalid ClientAuth " + quote(text) + " " + one_of(kClientAuthNames));
      }
    } else if (name == "min_version" || name == "max_version") {
      std::string text;
      text_into(text);
      if (auto version = value_of(kTlsVersionNames, text)) {
        (name == "min_version" ? tls.min_version : tls.max_version) = *version;
      } else {
        r.fail(field, "unknown TLS version " + quote(text) + " " + one_of(kTlsVersionNames));
      }
    } else if (name == "cipher_suites") {
      if (auto names = r.list_of_strings(field)) {
        for (const auto& [cipher, element] : *names) {
          const auto known = std::find_if(kCiphers.begin(), kCiphers.end(),
                                          [&](const CipherName& c) { return c.go == cipher; });
          if (known == kCiphers.end()) {
            r.fail(element, "unknown cipher: " + cipher);
          } else if (!known->openssl.empty()) {
            tls.cipher_suites.emplace_back(known->openssl);
          }
        }
      }
    } else if (name == "curve_preferences") {
      if (auto names = r.list_of_strings(field)) {
        for (const auto& [curve, element] : *names) {
          const auto known = std::find_if(kCurves.begin(), kCurves.end(),
                                          [&](const auto& c) { return c.first == curve; });
          if (known == kCurves.end()) {
            r.fail(element, "unknown curve: " + curve);
          } else {
            tls.curve_preferences.emplace_back(known->second);
          }
        }
      }
    } else if (name == "prefer_server_cipher_suites") {
      if (auto flag = r.bool_of(field)) tls.prefer_server_cipher_suites = *flag;
    } else if (name == "client_allowed_sans") {
      if (auto names = r.list_of_strings(field)) {
        for (const auto& [san, element] : *names) tls.client_allowed_sans.push_back(san);
      }
    }
  }
  if (!enabled) return;
  const auto fail_whole = [&](const std::string& key, std::string message) {
    const auto line = tls.lines.count(key) ? tls.lines.at(key) : value.line;
    r.fail(line, "tls_server_config" + (key.empty() ? "" : "." + key), std::move(message));
  };
  if (tls.cert_file.empty() && tls.cert.empty()) {
    fail_whole("", "missing one of cert or cert_file");
  }
  if (tls.key_file.empty() && tls.key.empty()) {
    fail_whole("", "missing one of key or key_file");
  }
  if (!tls.cert_file.empty() && !tls.cert.empty()) {
    fail_whole("cert", "give either cert or cert_file, not both");
  }
  if (!tls.key_file.empty() && !tls.key.empty()) {
    fail_whole("key", "give either key or key_file, not both");
  }
  const bool has_ca = !tls.client_ca_file.empty() || !tls.client_ca.empty();
  if (has_ca && tls.client_auth == ClientAuth::no_client_cert) {
    fail_whole(tls.client_ca_file.empty() ? "client_ca" : "client_ca_file",
               "client CA's have been configured without a Client Auth Policy");
  }
  if (!has_ca && (tls.client_auth == ClientAuth::verify_client_cert_if_given ||
                  tls.client_auth == ClientAuth::require_and_verify_client_cert)) {
    fail_whole("client_auth_type", std::string(to_string(tls.client_auth)) +
                                       " needs client_ca_file (the CA that signs client certs)");
  }
  if (!tls.client_allowed_sans.empty() && tls.client_auth != ClientAuth::require_any_client_cert &&
      tls.client_auth != ClientAuth::require_and_verify_client_cert) {
    fail_whole("client_allowed_sans",
               "client_allowed_sans requires client_auth_type to be one of RequireAnyClientCert "
               "or RequireAndVerifyClientCert");
  }
  if (tls.min_version > tls.max_version) {
    fail_whole("min_version", "min_version " + std::string(to_string(tls.min_version)) +
                                  " is above max_version " +
                                  std::string(to_string(tls.max_version)));
  }
  out.tls = std::move(tls);
}

void read_http(Reader& r, const Reader::Value& value, WebConfig& out) {
  const auto fields = r.map_of(value, {"http2", "headers"});
  if (!fields) return;
  for (const auto& [name, field] : *fields) {
    if (name == "http2") {
      if (auto flag = r.bool_of(field)) out.http2 = *flag;
      continue;
    }
    const auto headers = r.map_of(field, {});
    if (!headers) continue;
    for (const auto& [header, header_value] : *headers) {
      const auto allowed = std::find_if(allowed_headers().begin(), allowed_headers().end(),
                                        [&](const AllowedHeader& a) { return a.name == header; });
      if (allowed == allowed_headers().end()) {
        r.fail(header_value, "HTTP header " + quote(header) + " can not be configured");
        continue;
      }
      const auto text = r.string_of(header_value);
      if (!text) continue;
      if (!allowed->values.empty() && std::find(allowed->values.begin(), allowed->values.end(),
                                                *text) == allowed->values.end()) {
        std::string expected;
        for (const auto v : allowed->values) expected += (expected.empty() ? "" : ", ") + quote(v);
        r.fail(header_value, "invalid value " + quote(*text) + ", expected one of: " + expected);
        continue;
      }
      if (text->find_first_of("\r\n") != std::string::npos) {
        r.fail(header_value, "header values cannot contain line breaks");
        continue;
      }
      out.headers.emplace_back(header, *text);
    }
  }
}

void read_users(Reader& r, const Reader::Value& value, WebConfig& out) {
  const auto users = r.map_of(value, {});
  if (!users) return;
  for (const auto& [user, hash_value] : *users) {
    const auto hash = r.string_of(hash_value);
    if (!hash) continue;
    if (user.find(':') != std::string::npos) {
      r.fail(hash_value, "user names cannot contain ':' (basic auth splits on it)");
      continue;
    }
    const auto cost = bcrypt_cost_of(*hash);
    if (!cost) {
      r.fail(hash_value, "not a bcrypt hash (make one with: htpasswd -nBC 10 \"\" | tr -d ':\\n')");
      continue;
    }
    if (*cost > kMaxBcryptCost) {
      r.fail(hash_value, "bcrypt cost " + std::to_string(*cost) + " is above the maximum " +
                             std::to_string(kMaxBcryptCost) +
                             " (every login not yet cached would take seconds to minutes; make "
                             "the hash with htpasswd -nBC 10)");
      continue;
    }
    out.basic_auth_users.emplace(user, *hash);
  }
}

}  // namespace

WebConfigLoad parse_web_config(std::string_view yaml, const std::string& file) {
  Reader r(file);
  WebConfigLoad result;
  const std::optional<YAML::Node> root = r.load(yaml);
  if (!root) {
    result.errors = r.take_errors();
    return result;
  }
  WebConfig web;
  const auto top =
      r.map_of(Reader::Value{*root, "", config::yaml_strict::line_of(*root)},
               {"tls_server_config", "http_server_config", "basic_auth_users", "rate_limit"});
  if (top) {
    for (const auto& [name, field] : *top) {
      if (name == "tls_server_config") {
        read_tls(r, field, web, file);
      } else if (name == "http_server_config") {
        read_http(r, field, web);
      } else if (name == "basic_auth_users") {
        read_users(r, field, web);
      } else if (name == "rate_limit") {
        // Refused rather than ignored: silently serving without a limit the operator asked for
        // would be worse than not starting.
        r.fail(field, "not supported by crdb-certwatch (the connection cap bounds load instead)");
      }
    }
  }
  result.errors = r.take_errors();
  if (result.errors.empty()) result.config = std::move(web);
  return result;
}

WebConfigLoad load_web_config_file(const std::string& path) {
  const BoundedRead read = read_regular_file(path, kMaxWebConfigBytes);
  if (read.error) {
    WebConfigLoad result;
    result.errors.push_back(
        {path, 0, "", "cannot read the web config file: " + describe(*read.error)});
    return result;
  }
  return parse_web_config(read.content, path);
}

}  // namespace certwatch::web
