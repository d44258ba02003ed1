// The endpoint's security and robustness: web config parsing (exporter-toolkit format) with
// exact errors, TLS and mTLS over real loopback connections with an in-test asio::ssl client,
// bcrypt basic auth, security headers, idle and oversized connections, rotation of the
// exporter's own certificate, and the status page.
#include <crypt.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <algorithm>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <memory>
#include <thread>

#include "config/config.hpp"
#include "core/clock.hpp"
#include "exporter/compress.hpp"
#include "http/http_server.hpp"
#include "http/routes.hpp"
#include "http/tls_context.hpp"
#include "http/web_config.hpp"
#include "runtime/daemon.hpp"
#include "state/collect.hpp"
#include "support/certgen.hpp"
#include "support/http_client.hpp"
#include "support/process.hpp"
#include "support/tempdir.hpp"

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using namespace certwatch;
using namespace std::chrono_literals;
using testing::basic_authorization;
using testing::CertSpec;
using testing::generate_cert;
using testing::GeneratedCert;
using testing::TempDir;

std::string bcrypt_hash(const std::string& password, int cost = 4) {
  char salt[CRYPT_GENSALT_OUTPUT_SIZE];
  REQUIRE(crypt_gensalt_rn("$2b$", static_cast<unsigned long>(cost), nullptr, 0, salt,
                           sizeof salt) != nullptr);
  crypt_data data{};
  const char* hash = crypt_r(password.c_str(), salt, &data);
  REQUIRE(hash != nullptr);
  return hash;
}

// A loaded web config turned into what the server uses; fails the test when it does not load.
std::shared_ptr<const web::EndpointSecurity> security_from(const TempDir& dir,
                                                           const std::string& yaml) {
  const auto path = dir.write("web.yml", yaml);
  auto loaded = web::load_endpoint_security(path.string());
  for (const auto& e : loaded.errors) UNSCOPED_INFO(e.to_string());
  REQUIRE(loaded.security);
  return std::move(loaded.security);
}

template <typename Load>
std::vector<std::string> error_strings(const Load& load) {
  std::vector<std::string> out;
  for (const auto& e : load.errors) out.push_back(e.to_string());
  return out;
}

// An HttpServer on 127.0.0.1:0 with its own io thread; a fixed /metrics body.
class TestServer {
 public:
  explicit TestServer(std::shared_ptr<const web::EndpointSecurity> security,
                      web::HttpServerOptions options = {}, web::Handler handler = nullptr)
      : server_(io_, with_loopback(std::move(options)),
                handler ? std::move(handler) : default_handler()) {
    server_.set_security(std::move(security));
    const auto error = server_.start();
    INFO(error.value_or(""));
    REQUIRE_FALSE(error);
    port_ = server_.port();
    thread_ = std::thread([this] { io_.run(); });
  }
  ~TestServer() {
    asio::post(io_, [this] {
      server_.stop();
      io_.stop();
    });
    thread_.join();
  }
  TestServer(const TestServer&) = delete;
  TestServer& operator=(const TestServer&) = delete;

  int port() const { return port_; }
  void set_security(std::shared_ptr<const web::EndpointSecurity> security) {
    asio::post(io_, [this, security] { server_.set_security(security); });
  }

 private:
  static web::HttpServerOptions with_loopback(web::HttpServerOptions options) {
    options.listen_address = "127.0.0.1:0";
    return options;
  }
  static web::Handler default_handler() {
    return [](const web::Request& req) {
      web::Response res{req.target() == "/metrics" ? http::status::ok : http::status::not_found,
                        11};
      res.set(http::field::content_type, "text/plain");
      res.body() = req.target() == "/metrics" ? "crdb_cert_test 1\n" : "Not found\n";
      return res;
    };
  }

  asio::io_context io_;
  web::HttpServer server_;
  std::thread thread_;
  int port_ = 0;
};

struct ClientOptions {
  const GeneratedCert* client_cert = nullptr;
  int max_version = 0;  // 0: library default
  std::string authorization;
};

// A certificate spec with what these tests vary; the rest keeps certgen's defaults.
CertSpec spec(std::string common_name, bool is_ca = false, std::uint64_t serial = 0,
              std::int64_t not_after = 0) {
  CertSpec out;
  out.common_name = std::move(common_name);
  out.is_ca = is_ca;
  out.serial = serial;
  out.not_after = not_after;
  return out;
}
CertSpec client_spec() {
  CertSpec out = spec("prometheus");
  out.dns_names = {"prometheus.example"};
  return out;
}
CertSpec server_spec(std::uint64_t serial) {
  CertSpec out = spec("localhost", false, serial);
  out.ip_addresses = {"127.0.0.1"};
  return out;
}

ClientOptions with_cert(const GeneratedCert& cert, int max_version = 0) {
  ClientOptions out;
  out.client_cert = &cert;
  out.max_version = max_version;
  return out;
}
ClientOptions with_max_version(int max_version) {
  ClientOptions out;
  out.max_version = max_version;
  return out;
}
ClientOptions with_authorization(std::string authorization) {
  ClientOptions out;
  out.authorization = std::move(authorization);
  return out;
}

struct ClientReply {
  bool handshake_ok = false;
  std::optional<http::response<http::string_body>> response;
  long server_serial = -1;
  std::string error;
};

// A client on blocking asio::ssl: one handshake, `count` requests on the kept-alive connection.
class TlsClient {
 public:
  TlsClient(int port, const ClientOptions& options) : context_(asio::ssl::context::tls_client) {
    context_.set_verify_mode(asio::ssl::verify_none);
    if (options.max_version != 0) {
      SSL_CTX_set_max_proto_version(context_.native_handle(), options.max_version);
    }
    if (options.client_cert != nullptr) {
      context_.use_certificate(asio::buffer(options.client_cert->cert_pem),
                               asio::ssl::context::pem);
      context_.use_private_key(asio::buffer(options.client_cert->key_pem), asio::ssl::context::pem);
    }
    stream_ = std::make_unique<beast::ssl_stream<beast::tcp_stream>>(io_, context_);
    beast::get_lowest_layer(*stream_).expires_after(5s);
    beast::error_code ec;
    beast::get_lowest_layer(*stream_).connect(
        asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"),
                                static_cast<unsigned short>(port)),
        ec);
    if (!ec) stream_->handshake(asio::ssl::stream_base::client, ec);
    handshake_ok_ = !ec;
    error_ = ec.message();
    authorization_ = options.authorization;
  }

  bool handshake_ok() const { return handshake_ok_; }
  const std::string& error() const { return error_; }

  long server_serial() {
    X509* cert = SSL_get1_peer_certificate(stream_->native_handle());
    if (cert == nullptr) return -1;
    const long serial = ASN1_INTEGER_get(X509_get_serialNumber(cert));
    X509_free(cert);
    return serial;
  }

  std::optional<http::response<http::string_body>> get(const std::string& target) {
    if (!handshake_ok_) return std::nullopt;
    http::request<http::empty_body> req{http::verb::get, target, 11};
    req.set(http::field::host, "127.0.0.1");
    if (!authorization_.empty()) req.set(http::field::authorization, authorization_);
    beast::get_lowest_layer(*stream_).expires_after(5s);
    beast::error_code ec;
    http::write(*stream_, req, ec);
    if (ec) {
      error_ = ec.message();
      return std::nullopt;
    }
    http::response<http::string_body> res;
    http::read(*stream_, buffer_, res, ec);
    if (ec) {
      error_ = ec.message();
      return std::nullopt;
    }
    return res;
  }

 private:
  asio::io_context io_;
  asio::ssl::context context_;
  std::unique_ptr<beast::ssl_stream<beast::tcp_stream>> stream_;
  beast::flat_buffer buffer_;
  bool handshake_ok_ = false;
  std::string error_;
  std::string authorization_;
};

struct Pki {
  GeneratedCert ca = generate_cert(spec("exporter CA", true));
  GeneratedCert server = generate_cert(server_spec(1001), &ca);
  GeneratedCert client_ca = generate_cert(spec("prometheus CA", true));
  GeneratedCert client = generate_cert(client_spec(), &client_ca);
  GeneratedCert other_ca = generate_cert(spec("someone else's CA", true));
  GeneratedCert stranger = generate_cert(spec("prometheus"), &other_ca);

  void write_server_files(const TempDir& dir) const {
    dir.write("tls/server.crt", server.cert_pem);
    dir.write("tls/server.key", server.key_pem, 0600);
    dir.write("tls/client-ca.crt", client_ca.cert_pem);
  }
};

constexpr const char* kTlsOnly = R"(tls_server_config:
  cert_file: tls/server.crt
  key_file: tls/server.key
)";

}  // namespace

TEST_CASE("web config: a node_exporter web-config file with every key loads", "[web][config]") {
  TempDir dir;
  Pki pki;
  pki.write_server_files(dir);
  const std::string hash = bcrypt_hash("secret");
  const auto path = dir.write("web.yml", R"(# as node_exporter documents it
tls_server_config:
  cert_file: tls/server.crt
  key_file: tls/server.key
  client_auth_type: RequireAndVerifyClientCert
  client_ca_file: tls/client-ca.crt
  min_version: TLS12
  max_version: TLS13
  cipher_suites: [TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, TLS_AES_128_GCM_SHA256]
  curve_preferences: [CurveP256, X25519]
  prefer_server_cipher_suites: true
  client_allowed_sans: [prometheus.example]
http_server_config:
  http2: true
  headers:
    X-Frame-Options: deny
    X-Content-Type-Options: nosniff
    Strict-Transport-Security: max-age=31536000
    X-XSS-Protection: 1; mode=block
    Content-Security-Policy: default-src 'self'
basic_auth_users:
  prometheus: ')" + hash + "'\n");
  const auto loaded = web::load_web_config_file(path.string());
  CHECK(error_strings(loaded).empty());
  REQUIRE(loaded.config);
  const auto& web = *loaded.config;
  REQUIRE(web.tls);
  CHECK(web.tls->cert_file == (dir.path() / "tls/server.crt").string());
  CHECK(web.tls->client_auth == web::ClientAuth::require_and_verify_client_cert);
  CHECK(web.tls->cipher_suites == std::vector<std::string>{"ECDHE-ECDSA-AES128-GCM-SHA256"});
  CHECK(web.tls->curve_preferences == std::vector<std::string>{"P-256", "X25519"});
  CHECK(web.headers.size() == 5);
  CHECK(web.basic_auth_users.at("prometheus") == hash);

  SECTION("an empty file means plain HTTP without auth") {
    const auto empty = web::parse_web_config("", "/etc/web.yml");
    REQUIRE(empty.config);
    CHECK_FALSE(empty.config->tls);
    CHECK(empty.config->basic_auth_users.empty());
  }
}

TEST_CASE("web config errors name the file, the line and the key", "[web][config]") {
  const std::string file = "/etc/crdb-certwatch/web.yml";
  auto errors = [&](const std::string& yaml) {
    return error_strings(web::parse_web_config(yaml, file));
  };
  using V = std::vector<std::string>;
  CHECK(errors("tls_server_config:\n  cert_file: a\n  key_file: b\n  client_auth_type: Always\n") ==
        V{file + ":4: tls_server_config.client_auth_type: invalid ClientAuth \"Always\" (one of "
                 "NoClientCert, RequestClientCert, RequireAnyClientCert, "
                 "VerifyClientCertIfGiven, RequireAndVerifyClientCert)"});
  CHECK(errors("tls_config:\n  cert_file: a\n") == V{file + ":1: tls_config: unknown key"});
  // A second document would otherwise be ignored without a word.
  CHECK(errors("basic_auth_users: {}\n---\ntls_server_config: {}\n") ==
        V{file + ":3: only one YAML document is allowed"});
  CHECK(errors("tls_server_config:\n  cert_file: a\n") ==
        V{file + ":1: tls_server_config: missing one of key or key_file"});
  CHECK(errors("tls_server_config:\n  cert_file: a\n  key_file: b\n  client_ca_file: c\n") ==
        V{file + ":4: tls_server_config.client_ca_file: client CA's have been configured "
                 "without a Client Auth Policy"});
  CHECK(errors("tls_server_config:\n  cert_file: a\n  key_file: b\n  min_version: TLS14\n") ==
        V{file + ":4: tls_server_config.min_version: unknown TLS version \"TLS14\" (one of "
                 "TLS10, TLS11, TLS12, TLS13)"});
  CHECK(errors("http_server_config:\n  headers:\n    Server: nginx\n") ==
        V{file + ":3: http_server_config.headers.Server: HTTP header \"Server\" can not be "
                 "configured"});
  CHECK(errors("http_server_config:\n  headers:\n    X-Frame-Options: allow\n") ==
        V{file + ":3: http_server_config.headers.X-Frame-Options: invalid value \"allow\", "
                 "expected one of: \"deny\", \"sameorigin\""});
  CHECK(errors("basic_auth_users:\n  alice: secret\n") ==
        V{file + ":2: basic_auth_users.alice: not a bcrypt hash (make one with: htpasswd -nBC "
                 "10 \"\" | tr -d ':\\n')"});
  // Cost 31 would pin the verifier for days per request; 14 is the documented maximum.
  CHECK(errors("basic_auth_users:\n  alice: '$2b$31$" + std::string(53, 'A') + "'\n") ==
        V{file + ":2: basic_auth_users.alice: bcrypt cost 31 is above the maximum 14 (every "
                 "login not yet cached would take seconds to minutes; make the hash with "
                 "htpasswd -nBC 10)"});
  CHECK(errors("basic_auth_users:\n  alice: '$2b$14$" + std::string(53, 'A') + "'\n").empty());
  CHECK(errors("http_server_config:\n  http2: true\n  http2: false\n") ==
        V{file + ":3: http_server_config.http2: duplicate key (first set on line 2)"});
  CHECK(errors("tls_server_config: [1]\n") == V{file + ":1: tls_server_config: must be a map"});

  SECTION("files that cannot serve are refused when loading") {
    TempDir dir;
    Pki pki;
    pki.write_server_files(dir);
    auto load = [&](const std::string& yaml) {
      return error_strings(web::load_endpoint_security(dir.write("web.yml", yaml).string()));
    };
    const std::string web = (dir.path() / "web.yml").string();
    CHECK(load("tls_server_config:\n  cert_file: missing.crt\n  key_file: tls/server.key\n") ==
          V{web + ":2: tls_server_config.cert_file: failed to read cert_file (" +
            (dir.path() / "missing.crt").string() +
            "): open: No such file or directory (not_found)"});
    dir.write("tls/other.key", pki.client.key_pem, 0600);
    CHECK(load("tls_server_config:\n  cert_file: tls/server.crt\n  key_file: tls/other.key\n") ==
          V{web + ":3: tls_server_config.key_file: failed to load X509KeyPair: private key "
                  "does not match public key"});
    CHECK(web::load_endpoint_security((dir.path() / "absent.yml").string()).errors.size() == 1);
    // OpenSSL 3 cannot sign a TLS 1.0 or 1.1 handshake at its default security level: refused
    // here instead of failing every such handshake with an internal error.
    for (const std::string version : {"TLS10", "TLS11"}) {
      const auto refused = load(std::string(kTlsOnly) + "  min_version: " + version + "\n");
      REQUIRE(refused.size() == 1);
      CHECK(refused[0].starts_with(web + ":4: tls_server_config.min_version: " + version +
                                   " cannot be served: OpenSSL's security level "));
    }
  }
}

TEST_CASE("Accept-Encoding: gzip only where RFC 9110 says it is acceptable", "[web][gzip]") {
  for (const std::string accepted :
       {"gzip", "GZIP", "x-gzip", "*", "gzip;q=1", "gzip;q=0.001", "gzip ; Q = 0.5",
        "deflate, gzip;q=1.0", "gzip;level=1;q=0.5", "*;q=0.1, br", "br;q=0, *"}) {
    INFO(accepted);
    CHECK(exporter::accepts_gzip(accepted));
  }
  for (const std::string refused :
       {"", "identity", "br, deflate", "gzip;q=0", "gzip;Q=0.000", "gzip ;  q = 0.0",
        "gzip\t;\tq=0", "*;q=0", "*;q=0, br", "gzip;q=0, *", "*, gzip;q=0", "gzip;q=", "gzip;q=abc",
        "gzip;q=2", "gzip;q=0.0001", "gzipx", "gzip;level=1;q=0"}) {
    INFO(refused);
    CHECK_FALSE(exporter::accepts_gzip(refused));
  }
}

TEST_CASE("TLS: a scrape over HTTPS, and the minimum version enforced", "[web][tls]") {
  TempDir dir;
  Pki pki;
  pki.write_server_files(dir);
  TestServer server(security_from(dir, kTlsOnly));

  TlsClient client(server.port(), ClientOptions{});
  INFO(client.error());
  REQUIRE(client.handshake_ok());
  CHECK(client.server_serial() == 1001);
  for (int i = 0; i < 3; ++i) {  // keep-alive: several requests on one TLS connection
    const auto res = client.get("/metrics");
    REQUIRE(res);
    CHECK(res->result_int() == 200);
    CHECK(res->body() == "crdb_cert_test 1\n");
  }
  SECTION("plain HTTP to the TLS port gets no HTTP answer") {
    CHECK_FALSE(testing::http_get(server.port(), "/metrics", 2s));
  }
  SECTION("a TLS 1.2 client is refused when min_version is TLS13") {
    TestServer strict(security_from(dir, std::string(kTlsOnly) + "  min_version: TLS13\n"));
    TlsClient old_client(strict.port(), with_max_version(TLS1_2_VERSION));
    CHECK_FALSE(old_client.handshake_ok());
    TlsClient new_client(strict.port(), ClientOptions{});
    CHECK(new_client.handshake_ok());
  }
}

TEST_CASE("basic auth: right, wrong and missing credentials, on every path", "[web][auth]") {
  TempDir dir;
  Pki pki;
  pki.write_server_files(dir);
  const std::string yaml = std::string(kTlsOnly) + "basic_auth_users:\n  prometheus: '" +
                           bcrypt_hash("s3cret", 10) + "'\n";
  TestServer server(security_from(dir, yaml));

  auto status_with = [&](const std::string& authorization, const std::string& target) {
    TlsClient client(server.port(), with_authorization(authorization));
    const auto res = client.get(target);
    REQUIRE(res);
    return *res;
  };
  const auto missing = status_with("", "/metrics");
  CHECK(missing.result_int() == 401);
  CHECK(std::string(missing[http::field::www_authenticate]) ==
        R"(Basic realm="crdb-certwatch", charset="UTF-8")");
  CHECK(missing.body() == "Unauthorized\n");
  CHECK(status_with(basic_authorization("prometheus", "wrong"), "/metrics").result_int() == 401);
  CHECK(status_with(basic_authorization("nobody", "s3cret"), "/metrics").result_int() == 401);
  CHECK(status_with("Basic !!notbase64", "/metrics").result_int() == 401);
  CHECK(status_with("Bearer abc", "/metrics").result_int() == 401);
  CHECK(status_with("", "/-/healthy").result_int() == 401);
  CHECK(status_with("", "/").result_int() == 401);

  // The first success runs bcrypt, the next ones hit the cache; both must answer correctly,
  // and the cache must not let a different password through.
  TlsClient client(server.port(), with_authorization(basic_authorization("prometheus", "s3cret")));
  for (int i = 0; i < 5; ++i) {
    const auto res = client.get("/metrics");
    REQUIRE(res);
    CHECK(res->result_int() == 200);
  }
  CHECK(status_with(basic_authorization("prometheus", "s3cret "), "/metrics").result_int() == 401);
  CHECK(status_with(basic_authorization("prometheus", "s3cret"), "/nope").result_int() == 404);
}

TEST_CASE("mTLS: RequireAndVerifyClientCert wants a cert from the configured CA", "[web][tls]") {
  TempDir dir;
  Pki pki;
  pki.write_server_files(dir);
  TestServer server(security_from(dir, std::string(kTlsOnly) +
                                           "  client_auth_type: RequireAndVerifyClientCert\n"
                                           "  client_ca_file: tls/client-ca.crt\n"));
  auto scrape = [&](const ClientOptions& options) -> int {
    TlsClient client(server.port(), options);
    const auto res = client.get("/metrics");  // TLS 1.3 reports a refused cert on first read
    return res ? res->result_int() : 0;
  };
  CHECK(scrape(with_cert(pki.client)) == 200);
  CHECK(scrape(ClientOptions{}) == 0);
  CHECK(scrape(with_cert(pki.stranger)) == 0);
  CHECK(scrape(with_cert(pki.stranger, TLS1_2_VERSION)) == 0);

  SECTION("RequireAnyClientCert takes any certificate but not none") {
    TestServer any(
        security_from(dir, std::string(kTlsOnly) + "  client_auth_type: RequireAnyClientCert\n"));
    TlsClient with(any.port(), with_cert(pki.stranger));
    CHECK(with.get("/metrics").has_value());
    TlsClient without(any.port(), ClientOptions{});
    CHECK_FALSE(without.get("/metrics").has_value());
  }
  SECTION("client_allowed_sans rejects a verified cert without an allowed SAN") {
    TestServer sans(security_from(dir, std::string(kTlsOnly) +
                                           "  client_auth_type: RequireAndVerifyClientCert\n"
                                           "  client_ca_file: tls/client-ca.crt\n"
                                           "  client_allowed_sans: [other.example]\n"));
    TlsClient client(sans.port(), with_cert(pki.client));
    CHECK_FALSE(client.get("/metrics").has_value());
  }
}

TEST_CASE("security headers are set on every response", "[web][headers]") {
  TempDir dir;
  TestServer server(security_from(dir, R"(http_server_config:
  headers:
    X-Frame-Options: deny
    X-Content-Type-Options: nosniff
    Content-Security-Policy: default-src 'none'
)"));
  for (const std::string target : {"/metrics", "/nope"}) {
    const auto res = testing::http_get(server.port(), target);
    REQUIRE(res);
    CHECK(res->header("x-frame-options") == "deny");
    CHECK(res->header("x-content-type-options") == "nosniff");
    CHECK(res->header("content-security-policy") == "default-src 'none'");
  }
}

TEST_CASE("idle, slow and oversized connections never starve a scrape", "[web][robustness]") {
  TempDir dir;
  Pki pki;
  pki.write_server_files(dir);
  web::HttpServerOptions options;
  options.max_connections = 16;
  options.handshake_timeout = 2s;
  const bool tls = GENERATE(false, true);
  TestServer server(tls ? security_from(dir, kTlsOnly) : security_from(dir, ""), options);

  // 200 connections that never send a byte (and never start a TLS handshake).
  std::vector<testing::LoopbackConnection> idle;
  for (int i = 0; i < 200; ++i) idle.emplace_back(server.port(), 3000ms);
  CHECK(std::all_of(idle.begin(), idle.end(), [](const auto& c) { return c.connected(); }));
  const auto started = std::chrono::steady_clock::now();
  if (tls) {
    TlsClient client(server.port(), ClientOptions{});
    const auto res = client.get("/metrics");
    REQUIRE(res);
    CHECK(res->result_int() == 200);
  } else {
    const auto res = testing::http_get(server.port(), "/metrics", 3s);
    REQUIRE(res);
    CHECK(res->status == 200);
  }
  CHECK(std::chrono::steady_clock::now() - started < 2s);

  if (!tls) {
    // A 20 KiB header gets 431 and the server keeps serving.
    const auto big = testing::http_exchange(
        server.port(),
        "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(20 * 1024, 'a') +
            "\r\nConnection: close\r\n\r\n",
        3s);
    REQUIRE(big);
    CHECK(big->status == 431);
    const auto post = testing::http_request(server.port(), "POST", "/metrics", 3s);
    REQUIRE(post);
    CHECK(post->status == 405);
    CHECK(testing::http_get(server.port(), "/metrics")->status == 200);
  } else {
    // A client that connects and stalls mid-handshake is dropped after handshake_timeout.
    testing::LoopbackConnection stalled(server.port(), 4000ms);
    REQUIRE(stalled.send_all(std::string("\x16\x03\x01\x00\x10", 5)));
    const auto before = std::chrono::steady_clock::now();
    stalled.read_until_close();
    const auto waited = std::chrono::steady_clock::now() - before;
    CHECK(waited >= 1500ms);
    CHECK(waited < 3500ms);
  }
}

TEST_CASE("rotating the exporter's own certificate needs no restart", "[web][tls]") {
  TempDir dir;
  Pki pki;
  pki.write_server_files(dir);
  TestServer server(security_from(dir, kTlsOnly));
  TlsClient before(server.port(), ClientOptions{});
  REQUIRE(before.handshake_ok());
  CHECK(before.server_serial() == 1001);

  const GeneratedCert rotated = generate_cert(server_spec(2002), &pki.ca);
  // Write-then-rename, as cert-manager and most tooling do, so readers never see half a file.
  dir.write("tls/server.key.new", rotated.key_pem, 0600);
  dir.write("tls/server.crt.new", rotated.cert_pem);
  std::filesystem::rename(dir.path() / "tls/server.key.new", dir.path() / "tls/server.key");
  std::filesystem::rename(dir.path() / "tls/server.crt.new", dir.path() / "tls/server.crt");

  TlsClient after(server.port(), ClientOptions{});
  REQUIRE(after.handshake_ok());
  CHECK(after.server_serial() == 2002);
  CHECK(after.get("/metrics")->result_int() == 200);

  SECTION("a half-done rotation keeps serving the last good pair") {
    const GeneratedCert third = generate_cert(server_spec(3003), &pki.ca);
    dir.write("tls/server.crt", third.cert_pem);  // key not replaced yet: mismatch
    TlsClient during(server.port(), ClientOptions{});
    REQUIRE(during.handshake_ok());
    CHECK(during.server_serial() == 2002);
    dir.write("tls/server.key", third.key_pem, 0600);
    TlsClient done(server.port(), ClientOptions{});
    REQUIRE(done.handshake_ok());
    CHECK(done.server_serial() == 3003);
  }
}

TEST_CASE("TLS files that fail to load are not read again for every connection", "[web][tls]") {
  TempDir dir;
  Pki pki;
  pki.write_server_files(dir);
  web::TlsServerConfig tls;
  tls.cert_file = (dir.path() / "tls/server.crt").string();
  tls.key_file = (dir.path() / "tls/server.key").string();
  const web::TlsBuildResult built = web::build_ssl_context(tls);
  REQUIRE(built.context);
  web::TlsContextSource source(tls, built.context);
  CHECK(source.context_for_new_connection() == built.context);

  const GeneratedCert next = generate_cert(server_spec(4004), &pki.ca);
  dir.write("tls/server.crt", next.cert_pem);                   // the key does not match it yet
  CHECK(source.context_for_new_connection() == built.context);  // tried, kept the last good
  const std::uint64_t before = testing::thread_bytes_read();
  for (int i = 0; i < 20; ++i) CHECK(source.context_for_new_connection() == built.context);
  // 20 rebuilds would read the certificate and key 20 times (well over 20 KB).
  CHECK(testing::thread_bytes_read() - before < 4096);

  dir.write("tls/server.key", next.key_pem, 0600);  // the pair is whole again
  const auto rebuilt = source.context_for_new_connection();
  CHECK(rebuilt != built.context);
  CHECK(source.context_for_new_connection() == rebuilt);
}

TEST_CASE("status page: certificates, states, sources and the metrics link", "[web][status]") {
  TempDir dir;
  const auto now = testing::unix_now();
  const GeneratedCert ca =
      generate_cert(spec("Cockroach CA", true, 0, now + 2 * 365 * testing::kDay));
  const GeneratedCert node = generate_cert(spec("node", false, 0, now + 10 * testing::kDay), &ca);
  dir.write("certs/ca.crt", ca.cert_pem);
  dir.write("certs/node.crt", node.cert_pem);
  dir.write("certs/node.key", node.key_pem, 0600);
  dir.write("certs/client.root.crt", "not a certificate\n");
  config::Config cfg;
  cfg.files.certs_dirs = {(dir.path() / "certs").string()};
  const auto snapshot = exporter::make_exposition(
      state::poll_once(sources::make_sources(cfg), cfg.rules, cfg.checks,
                       {"1.2.3", "abc", "OpenSSL 3"}, certwatch::unix_now));
  web::WebOptions web;
  TestServer server(nullptr, {}, web::make_web_handler(web, [snapshot] { return snapshot; }));
  const auto page = testing::http_get(server.port(), "/");
  REQUIRE(page);
  CHECK(page->status == 200);
  CHECK(page->header("content-type") == "text/html; charset=utf-8");
  const std::string& html = page->body;
  CHECK(html.find("<a href=\"/metrics\"") != std::string::npos);
  CHECK(html.find((dir.path() / "certs/node.crt").string()) != std::string::npos);
  CHECK(html.find("rotate_now") != std::string::npos);  // node cert with 10 days left
  CHECK(html.find("<span class=\"badge crit\">rotate_now</span>") != std::string::npos);
  CHECK(html.find("Cockroach CA") != std::string::npos);
  CHECK(html.find("client.root.crt") != std::string::npos);  // the file error
  CHECK(html.find("<script") == std::string::npos);
  CHECK(html.find("http://") == std::string::npos);  // no external assets
  CHECK(html.find("https://") == std::string::npos);
}

TEST_CASE("scrape latency: HTTPS with cached basic auth vs plain HTTP", "[.bench]") {
  TempDir dir;
  Pki pki;
  pki.write_server_files(dir);
  const std::string hash = bcrypt_hash("s3cret", 10);
  const int requests = 200;
  auto percentiles = [](std::vector<double> samples) {
    std::sort(samples.begin(), samples.end());
    return std::pair{samples[samples.size() / 2], samples[samples.size() * 99 / 100]};
  };
  std::vector<double> plain_us;
  {
    TestServer server(security_from(dir, ""));
    // Plain HTTP keep-alive client on beast.
    asio::io_context io;
    beast::tcp_stream stream(io);
    stream.connect(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"),
                                           static_cast<unsigned short>(server.port())));
    beast::flat_buffer buffer;
    for (int i = 0; i < requests; ++i) {
      const auto t0 = std::chrono::steady_clock::now();
      http::request<http::empty_body> req{http::verb::get, "/metrics", 11};
      req.set(http::field::host, "127.0.0.1");
      http::write(stream, req);
      http::response<http::string_body> res;
      http::read(stream, buffer, res);
      REQUIRE(res.result_int() == 200);
      plain_us.push_back(
          std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count());
    }
  }
  std::vector<double> tls_us;
  {
    TestServer server(security_from(
        dir, std::string(kTlsOnly) + "basic_auth_users:\n  prometheus: '" + hash + "'\n"));
    TlsClient client(server.port(),
                     with_authorization(basic_authorization("prometheus", "s3cret")));
    REQUIRE(client.get("/metrics")->result_int() == 200);  // the one bcrypt run, not measured
    for (int i = 0; i < requests; ++i) {
      const auto t0 = std::chrono::steady_clock::now();
      const auto res = client.get("/metrics");
      REQUIRE(res);
      REQUIRE(res->result_int() == 200);
      tls_us.push_back(
          std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count());
    }
  }
  const auto [plain_p50, plain_p99] = percentiles(plain_us);
  const auto [tls_p50, tls_p99] = percentiles(tls_us);
  WARN("plain HTTP: p50 " << plain_p50 << " us, p99 " << plain_p99 << " us; HTTPS + basic auth "
                          << "(cached): p50 " << tls_p50 << " us, p99 " << tls_p99 << " us ("
                          << requests << " keep-alive requests each)");
  CHECK(tls_p50 < 20'000);  // far below one bcrypt run (~65 ms): the cache is used
}

TEST_CASE("status page: Problems with the exact fix and the CA rotation panel",
          "[web][status][checks]") {
  TempDir dir;
  const auto now = testing::unix_now();
  const GeneratedCert old_ca =
      generate_cert(spec("Cockroach CA", true, 0, now + 400 * testing::kDay));
  const GeneratedCert new_ca =
      generate_cert(spec("Cockroach CA", true, 0, now + 3000 * testing::kDay));
  CertSpec node_spec = spec("node", false, 0, now + 300 * testing::kDay);
  node_spec.dns_names = {"localhost", "n1.example"};
  node_spec.ip_addresses = {"127.0.0.1"};
  const GeneratedCert node = generate_cert(node_spec, &new_ca);
  dir.write("certs/ca.crt", new_ca.cert_pem + old_ca.cert_pem);  // combined: new first
  dir.write("certs/node.crt", node.cert_pem);
  const auto key = dir.write("certs/node.key", node.key_pem, 0644);
  config::Config cfg;
  cfg.files.certs_dirs = {(dir.path() / "certs").string()};
  cfg.checks.san_required = {"lb.example"};
  const auto exposition = exporter::make_exposition(
      state::poll_once(sources::make_sources(cfg), cfg.rules, cfg.checks,
                       {"1.2.3", "abc", "OpenSSL 3"}, certwatch::unix_now));
  TestServer server(nullptr, {},
                    web::make_web_handler(web::WebOptions{}, [exposition] { return exposition; }));
  const auto page = testing::http_get(server.port(), "/");
  REQUIRE(page);
  const std::string& html = page->body;
  CHECK(html.find("<h2>Problems <small>(2, most urgent first)</small></h2>") != std::string::npos);
  CHECK(html.find("chmod 0600 " + key.string() + " &amp;&amp; chown cockroach " + key.string()) !=
        std::string::npos);
  CHECK(html.find("<code class=\"fix\">cockroach cert create-node --certs-dir=" +
                  (dir.path() / "certs").string() +
                  " --ca-key=/path/to/ca.key --overwrite localhost n1.example 127.0.0.1 lb.example "
                  "&amp;&amp; pkill -SIGHUP -x cockroach</code>") != std::string::npos);
  CHECK(html.find("<h2>CA rotation</h2>") != std::string::npos);
  // The old CA (second in the bundle) issued nothing the daemon reads: it can leave the bundle.
  CHECK(html.find("ca.crt #1</td><td data-label=\"CA\">Cockroach CA</td>") != std::string::npos);
  CHECK(html.find("safe to remove") != std::string::npos);
  CHECK(html.find("key_permissions") != std::string::npos);
  CHECK(html.find("san_missing") != std::string::npos);
  // The metrics say the same.
  CHECK(exposition->text.find(R"(check="san_missing",severity="warning",detail="lb.example"} 1)") !=
        std::string::npos);
  CHECK(exposition->text.find("crdb_cert_ca_issued_certificates{source=\"file\",cert_type=\"ca\","
                              "node_id=\"\",path=\"" +
                              (dir.path() / "certs/ca.crt").string() +
                              "\",index=\"1\",user=\"\"} 0") != std::string::npos);
}

TEST_CASE("runbooks are served at /runbooks/<Alert> behind the page's TLS, auth and headers",
          "[web][runbooks][oncall]") {
  TempDir dir;
  Pki pki;
  pki.write_server_files(dir);
  config::Config cfg;
  cfg.files.certs_dirs = {(dir.path() / "certs").string()};
  const auto exposition = exporter::make_exposition(
      state::poll_once(sources::make_sources(cfg), cfg.rules, cfg.checks,
                       {"1.2.3", "abc", "OpenSSL 3"}, certwatch::unix_now));
  const std::string yaml = std::string(kTlsOnly) +
                           "http_server_config:\n  headers:\n    X-Frame-Options: deny\n"
                           "    X-Content-Type-Options: nosniff\nbasic_auth_users:\n"
                           "  prometheus: '" +
                           bcrypt_hash("s3cret", 10) + "'\n";
  TestServer server(security_from(dir, yaml), {},
                    web::make_web_handler(web::WebOptions{}, [exposition] { return exposition; }));
  const auto get = [&](const std::string& authorization, const std::string& target) {
    TlsClient client(server.port(), with_authorization(authorization));
    const auto res = client.get(target);
    REQUIRE(res);
    return *res;
  };
  const std::string auth = basic_authorization("prometheus", "s3cret");
  CHECK(get("", "/runbooks/CrdbCertExpired").result_int() == 401);
  CHECK(get(basic_authorization("prometheus", "nope"), "/runbooks/").result_int() == 401);
  for (const std::string target : {"/runbooks/CrdbCertExpired", "/runbooks/CrdbCertExpired.md"}) {
    const auto page = get(auth, target);
    INFO(target);
    CHECK(page.result_int() == 200);
    CHECK(std::string(page[http::field::content_type]) == "text/html; charset=utf-8");
    CHECK(std::string(page["x-frame-options"]) == "deny");
    CHECK(std::string(page["x-content-type-options"]) == "nosniff");
    CHECK(page.body().find("<h1>CrdbCertExpired</h1>") != std::string::npos);
    CHECK(page.body().find("<b>Fix:</b>") != std::string::npos);  // the remedy table's
    CHECK(page.body().find("<script") == std::string::npos);
  }
  const auto index = get(auth, "/runbooks/");
  CHECK(index.result_int() == 200);
  CHECK(index.body().find("href=\"/runbooks/CrdbCertRotateNow\"") != std::string::npos);
  for (const std::string target :
       {"/runbooks/CrdbCertNoSuch", "/runbooks/../metrics", "/runbooks/%2e%2e%2fetc"}) {
    CHECK(get(auth, target).result_int() == 404);
  }
}
