// The endpoint's security settings, read from `--web.config.file` in the Prometheus
// exporter-toolkit format, so a node_exporter web-config file works unchanged:
//
//   tls_server_config: {cert_file, key_file, cert, key, client_auth_type, client_ca_file,
//                       client_ca, min_version, max_version, cipher_suites, curve_preferences,
//                       prefer_server_cipher_suites, client_allowed_sans}
//   http_server_config: {http2, headers}
//   basic_auth_users: {user: bcrypt hash}
//
// Parsing is strict (unknown keys, wrong types and duplicates are errors naming file, line and
// key) and loading also reads the TLS files, so a config that parses but cannot serve is
// rejected before it replaces a running one.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/config.hpp"

namespace certwatch::web {

// Go's tls.ClientAuthType, spelled as exporter-toolkit spells it.
enum class ClientAuth {
  no_client_cert,
  request_client_cert,
  require_any_client_cert,
  verify_client_cert_if_given,
  require_and_verify_client_cert,
};
std::string_view to_string(ClientAuth auth);

enum class TlsVersion { tls10, tls11, tls12, tls13 };
std::string_view to_string(TlsVersion version);

struct TlsServerConfig {
  // Paths are absolute after loading (relative ones are taken from the web config's directory,
  // as exporter-toolkit does). `cert`/`key`/`client_ca` are inline PEM alternatives.
  std::string cert_file;
  std::string key_file;
  std::string cert;
  std::string key;
  std::string client_ca_file;
  std::string client_ca;
  ClientAuth client_auth = ClientAuth::no_client_cert;
  TlsVersion min_version = TlsVersion::tls12;
  TlsVersion max_version = TlsVersion::tls13;
  // OpenSSL names of the TLS 1.2 suites (TLS 1.3 suites are not configurable, as in Go).
  std::vector<std::string> cipher_suites;
  std::vector<std::string> curve_preferences;  // OpenSSL group names
  bool prefer_server_cipher_suites = true;
  std::vector<std::string> client_allowed_sans;
  // Where each key was, for errors found when the files are read.
  std::map<std::string, int> lines;

  friend bool operator==(const TlsServerConfig&, const TlsServerConfig&) = default;
};

// The highest bcrypt cost basic_auth_users may use. Each step doubles the work: cost 14 is about
// a second per check on a server core (16 times the usual 10), and every login not yet cached,
// and every wrong password, pays it. Higher costs let a handful of requests occupy the verifier
// for minutes and a single cold login outlast Prometheus' default 10 s scrape timeout.
constexpr int kMaxBcryptCost = 14;

// The cost of a hash in the form golang.org/x/crypto/bcrypt accepts ($2a$, $2b$ or $2y$, a
// two-digit cost in 4..31, a 22-character salt and a 31-character digest); nullopt otherwise.
std::optional<int> bcrypt_cost_of(const std::string& hash);

struct WebConfig {
  std::optional<TlsServerConfig> tls;  // absent: plain HTTP
  // Accepted for compatibility; this server speaks HTTP/1.1 only.
  bool http2 = true;
  // Extra response headers, only the security headers exporter-toolkit allows.
  std::vector<std::pair<std::string, std::string>> headers;
  // user -> bcrypt hash; empty: no authentication.
  std::map<std::string, std::string> basic_auth_users;

  friend bool operator==(const WebConfig&, const WebConfig&) = default;
};

struct WebConfigLoad {
  std::optional<WebConfig> config;  // set exactly when errors is empty
  std::vector<config::ConfigError> errors;
};

// Parses and validates the YAML only; `file` names the source in errors and anchors relative
// paths. Does not touch the file system.
WebConfigLoad parse_web_config(std::string_view yaml, const std::string& file);

// Reads `path` and parses it. The TLS files it names are read where they are used
// (load_endpoint_security in endpoint_security.hpp), once.
WebConfigLoad load_web_config_file(const std::string& path);

}  // namespace certwatch::web
