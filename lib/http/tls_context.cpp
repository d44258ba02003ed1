#include "http/tls_context.hpp"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <algorithm>
#include <boost/asio/ssl/verify_context.hpp>
#include <cerrno>
#include <cstring>
#include <sstream>

#include "core/logging.hpp"
#include "core/openssl_handles.hpp"
#include "core/read_file.hpp"

namespace certwatch::web {
namespace {

namespace ssl = boost::asio::ssl;

using openssl::BioPtr;
using openssl::PkeyPtr;
using openssl::X509Ptr;

// The newest OpenSSL error as text, and the queue cleared so it cannot leak into later calls.
std::string openssl_error() {
  const unsigned long code = ERR_peek_last_error();
  std::string text = "unknown OpenSSL error";
  if (code != 0) {
    char buffer[256];
    ERR_error_string_n(code, buffer, sizeof buffer);
    text = buffer;
  }
  ERR_clear_error();
  return text;
}

struct Material {
  std::string bytes;
  std::string error;
};

// Certificates, chains and CA bundles are kilobytes; a wrong path to something huge is refused.
constexpr std::size_t kMaxPemFileBytes = 4 * 1024 * 1024;

Material read_file(const std::string& path, std::string_view what) {
  BoundedRead read = read_regular_file(path, kMaxPemFileBytes);
  if (read.error) {
    return {"",
            "failed to read " + std::string(what) + " (" + path + "): " + describe(*read.error)};
  }
  return {std::move(read.content), ""};
}

std::vector<X509Ptr> read_certificates(const std::string& pem) {
  std::vector<X509Ptr> out;
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return out;
  while (X509* cert = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    out.emplace_back(cert);
  }
  ERR_clear_error();  // the loop ends on "no start line", which is not an error
  return out;
}

int protocol_version(TlsVersion version) {
  switch (version) {
    case TlsVersion::tls10:
      return TLS1_VERSION;
    case TlsVersion::tls11:
      return TLS1_1_VERSION;
    case TlsVersion::tls12:
      return TLS1_2_VERSION;
    case TlsVersion::tls13:
      return TLS1_3_VERSION;
  }
  return TLS1_2_VERSION;
}

// Whether any SAN of the certificate (DNS, email, IP, URI) is in `allowed`, as exporter-toolkit
// matches client_allowed_sans.
bool has_allowed_san(X509* cert, const std::vector<std::string>& allowed) {
  openssl::GeneralNamesPtr names(
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr)));
  if (!names) return false;
  for (int i = 0; i < sk_GENERAL_NAME_num(names.get()); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names.get(), i);
    std::string value;
    if (name->type == GEN_DNS || name->type == GEN_EMAIL || name->type == GEN_URI) {
      const ASN1_IA5STRING* text = name->d.ia5;
      value.assign(reinterpret_cast<const char*>(ASN1_STRING_get0_data(text)),
                   static_cast<std::size_t>(ASN1_STRING_length(text)));
    } else if (name->type == GEN_IPADD) {
      const ASN1_OCTET_STRING* ip = name->d.ip;
      const int length = ASN1_STRING_length(ip);
      const unsigned char* bytes = ASN1_STRING_get0_data(ip);
      char text[64] = {};
      if (length == 4) {
        std::snprintf(text, sizeof text, "%u.%u.%u.%u", bytes[0], bytes[1], bytes[2], bytes[3]);
      } else if (length == 16) {
        // Go prints IPv6 SANs in their shortest form, as inet_ntop does.
        ::inet_ntop(AF_INET6, bytes, text, sizeof text);
      }
      value = text;
    }
    if (!value.empty() && std::find(allowed.begin(), allowed.end(), value) != allowed.end()) {
      return true;
    }
  }
  return false;
}

std::shared_ptr<spdlog::logger> http_log() { return logger("http"); }

}  // namespace

TlsBuildResult build_ssl_context(const TlsServerConfig& config) {
  TlsBuildResult result;
  auto fail = [&](std::string key, std::string error) {
    result.context.reset();
    result.key = std::move(key);
    result.error = std::move(error);
    return result;
  };

  Material cert = config.cert_file.empty() ? Material{config.cert, ""}
                                           : read_file(config.cert_file, "cert_file");
  if (!cert.error.empty()) return fail("cert_file", cert.error);
  Material key =
      config.key_file.empty() ? Material{config.key, ""} : read_file(config.key_file, "key_file");
  if (!key.error.empty()) return fail("key_file", key.error);
  const std::string cert_key = config.cert_file.empty() ? "cert" : "cert_file";
  const std::string key_key = config.key_file.empty() ? "key" : "key_file";

  auto context = std::make_shared<ssl::context>(ssl::context::tls_server);
  SSL_CTX* ctx = context->native_handle();
  SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
  if (config.prefer_server_cipher_suites) SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE);
  // OpenSSL 3 refuses the MD5-SHA1 signatures TLS 1.0 and 1.1 need at security level 1 and up,
  // so such a handshake fails with an internal error; refused here rather than at the client.
  if (config.min_version < TlsVersion::tls12 && SSL_CTX_get_security_level(ctx) >= 1) {
    return fail("min_version", std::string(to_string(config.min_version)) +
                                   " cannot be served: OpenSSL's security level " +
                                   std::to_string(SSL_CTX_get_security_level(ctx)) +
                                   " forbids TLS 1.0 and 1.1 handshakes (use TLS12 or TLS13)");
  }
  SSL_CTX_set_min_proto_version(ctx, protocol_version(config.min_version));
  SSL_CTX_set_max_proto_version(ctx, protocol_version(config.max_version));

  // The chain file may hold intermediates after the leaf, as Go's X509KeyPair allows.
  const auto chain = read_certificates(cert.bytes);
  if (chain.empty()) {
    return fail(cert_key, "failed to load X509KeyPair: no certificate found in " +
                              (config.cert_file.empty() ? "cert" : config.cert_file));
  }
  if (SSL_CTX_use_certificate(ctx, chain.front().get()) != 1) {
    return fail(cert_key, "failed to load X509KeyPair: " + openssl_error());
  }
  for (std::size_t i = 1; i < chain.size(); ++i) {
    X509_up_ref(chain[i].get());
    if (SSL_CTX_add_extra_chain_cert(ctx, chain[i].get()) != 1) {
      X509_free(chain[i].get());
      return fail(cert_key, "failed to load X509KeyPair: " + openssl_error());
    }
  }
  BioPtr key_bio(BIO_new_mem_buf(key.bytes.data(), static_cast<int>(key.bytes.size())));
  PkeyPtr private_key(key_bio ? PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr)
                              : nullptr);
  if (!private_key) {
    ERR_clear_error();
    return fail(key_key, "failed to load X509KeyPair: no private key found in " +
                             (config.key_file.empty() ? "key" : config.key_file));
  }
  if (SSL_CTX_use_PrivateKey(ctx, private_key.get()) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
    ERR_clear_error();
    return fail(key_key, "failed to load X509KeyPair: private key does not match public key");
  }

  if (!config.cipher_suites.empty()) {
    std::string list;
    for (const auto& name : config.cipher_suites) list += (list.empty() ? "" : ":") + name;
    if (SSL_CTX_set_cipher_list(ctx, list.c_str()) != 1) {
      return fail("cipher_suites", "no usable cipher suite: " + openssl_error());
    }
  }
  if (!config.curve_preferences.empty()) {
    std::string list;
    for (const auto& name : config.curve_preferences) list += (list.empty() ? "" : ":") + name;
    if (SSL_CTX_set1_groups_list(ctx, list.c_str()) != 1) {
      return fail("curve_preferences", "unusable curves: " + openssl_error());
    }
  }

  const bool has_ca = !config.client_ca_file.empty() || !config.client_ca.empty();
  if (has_ca) {
    const std::string ca_key = config.client_ca_file.empty() ? "client_ca" : "client_ca_file";
    Material ca = config.client_ca_file.empty()
                      ? Material{config.client_ca, ""}
                      : read_file(config.client_ca_file, "client_ca_file");
    if (!ca.error.empty()) return fail(ca_key, ca.error);
    const auto cas = read_certificates(ca.bytes);
    if (cas.empty()) {
      return fail(ca_key,
                  "no certificate found in " +
                      (config.client_ca_file.empty() ? "client_ca" : config.client_ca_file));
    }
    X509_STORE* store = SSL_CTX_get_cert_store(ctx);
    openssl::NameStackPtr names(sk_X509_NAME_new_null());
    for (const auto& ca_cert : cas) {
      if (X509_STORE_add_cert(store, ca_cert.get()) != 1) {
        return fail(ca_key, "cannot use client CA: " + openssl_error());
      }
      if (X509_NAME* name = X509_NAME_dup(X509_get_subject_name(ca_cert.get()))) {
        sk_X509_NAME_push(names.get(), name);
      }
    }
    // Tells clients which CAs we accept, so one with several certificates picks the right one.
    SSL_CTX_set_client_CA_list(ctx, names.release());
  }

  int mode = ssl::verify_none;
  bool verify_chain = false;
  switch (config.client_auth) {
    case ClientAuth::no_client_cert:
      break;
    case ClientAuth::request_client_cert:
      mode = ssl::verify_peer;
      break;
    case ClientAuth::require_any_client_cert:
      mode = ssl::verify_peer | ssl::verify_fail_if_no_peer_cert;
      break;
    case ClientAuth::verify_client_cert_if_given:
      mode = ssl::verify_peer;
      verify_chain = true;
      break;
    case ClientAuth::require_and_verify_client_cert:
      mode = ssl::verify_peer | ssl::verify_fail_if_no_peer_cert;
      verify_chain = true;
      break;
  }
  context->set_verify_mode(mode);
  if (mode != ssl::verify_none) {
    // Go's Request/RequireAny accept any certificate; the Verify* types check the chain. The
    // SAN allow-list applies to the client's own (depth 0) certificate either way.
    context->set_verify_callback([verify_chain, sans = config.client_allowed_sans](
                                     bool preverified, ssl::verify_context& verify) {
      if (verify_chain && !preverified) return false;
      X509_STORE_CTX* store = verify.native_handle();
      if (!sans.empty() && X509_STORE_CTX_get_error_depth(store) == 0) {
        return has_allowed_san(X509_STORE_CTX_get_current_cert(store), sans);
      }
      return true;
    });
  }
  // Sessions are not resumed across context rebuilds; a small cache per context is enough.
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
  static const unsigned char session_id[] = "crdb-certwatch";
  SSL_CTX_set_session_id_context(ctx, session_id, sizeof session_id - 1);
  result.context = std::move(context);
  return result;
}

TlsContextSource::TlsContextSource(TlsServerConfig config,
                                   std::shared_ptr<boost::asio::ssl::context> initial)
    : config_(std::move(config)), context_(std::move(initial)), built_from_(identities()) {}

std::vector<std::optional<FileIdentity>> TlsContextSource::identities() const {
  std::vector<std::optional<FileIdentity>> out;
  for (const std::string* path : {&config_.cert_file, &config_.key_file, &config_.client_ca_file}) {
    // stat() follows symlinks, so Kubernetes-style "..data" symlink swaps count as changes.
    out.push_back(path->empty() ? std::nullopt : FileIdentity::of_path(*path));
  }
  return out;
}

std::shared_ptr<boost::asio::ssl::context> TlsContextSource::context_for_new_connection() {
  auto now = identities();
  // Files that already failed are not read again for every connection a client opens; the
  // next change to any of them is tried.
  if (now == built_from_ || now == failed_from_) return context_;
  TlsBuildResult rebuilt = build_ssl_context(config_);
  if (!rebuilt.context) {
    failed_from_ = std::move(now);
    if (rebuilt.error != last_error_) {
      http_log()->warn(
          "TLS files changed but cannot be used, still serving the previous certificate: "
          "tls_server_config.{}: {}",
          rebuilt.key, rebuilt.error);
      last_error_ = rebuilt.error;
    }
    return context_;
  }
  http_log()->info("TLS certificate, key or client CA changed on disk: reloaded");
  last_error_.clear();
  failed_from_.clear();
  context_ = std::move(rebuilt.context);
  built_from_ = std::move(now);
  return context_;
}

}  // namespace certwatch::web
