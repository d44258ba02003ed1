#include "net/https_get.hpp"

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include "core/read_file.hpp"

namespace certwatch::net {
namespace {

// A CA bundle in ca_file: the web config's bound for its PEM files.
constexpr std::uint64_t kMaxCaFileBytes = 4 * 1024 * 1024;

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;

// One read from the socket takes at most this much: what a response costs in memory beyond its
// limits.
constexpr std::size_t kReadChunk = 16 * 1024;

bool is_ip_literal(const std::string& host) {
  boost::system::error_code ec;
  asio::ip::make_address(host, ec);
  return !ec;
}

std::string duration_text(std::chrono::milliseconds timeout) {
  if (timeout.count() % 1000 == 0) return std::to_string(timeout.count() / 1000) + "s";
  return std::to_string(timeout.count()) + "ms";
}

// The exchange, driven by an io_context the call owns: run_for() returns at the deadline and the
// socket closes with the object.
class Exchange {
 public:
  Exchange(asio::io_context& io, ssl::context& tls, const HttpsGetRequest& request)
      : request_(request),
        where_(" (" + request.host + ":" + request.port + ")"),
        raw_limit_(request.header_limit + request.body_limit + kFramingAllowance),
        resolver_(io),
        stream_(io, tls) {
    // Beast checks these too, but only with eager parsing off does it report them (1.74); the
    // byte counts below are what holds.
    parser_.header_limit(request.header_limit);
    parser_.body_limit(request.body_limit);
    parser_.eager(false);
  }

  std::optional<SourceError> prepare() {
    SSL* handle = stream_.native_handle();
    X509_VERIFY_PARAM* param = SSL_get0_param(handle);
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    const bool ip = is_ip_literal(request_.host);
    const int ok = ip ? X509_VERIFY_PARAM_set1_ip_asc(param, request_.host.c_str())
                      : X509_VERIFY_PARAM_set1_host(param, request_.host.c_str(), 0);
    // SNI names a host, never an address (RFC 6066).
    if (ok != 1 || (!ip && SSL_ctrl(handle, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
                                    const_cast<char*>(request_.host.c_str())) != 1)) {
      return SourceError{ErrorReason::internal_error, "cannot set the expected TLS host name"};
    }
    message_ = {http::verb::get, request_.target, 11};
    const std::string host =
        request_.host.find(':') != std::string::npos ? "[" + request_.host + "]" : request_.host;
    message_.set(http::field::host, request_.port == "443" ? host : host + ":" + request_.port);
    for (const auto& [name, value] : request_.headers) message_.set(name, value);
    return std::nullopt;
  }

  void start() {
    resolver_.async_resolve(request_.host, request_.port,
                            [this](beast::error_code ec, asio::ip::tcp::resolver::results_type r) {
                              if (ec) return fail(ErrorReason::connect_failed, "resolve", ec);
                              connect(r);
                            });
  }

  bool done() const { return done_; }
  HttpsGetResult take() { return std::move(result_); }

 private:
  void connect(const asio::ip::tcp::resolver::results_type& endpoints) {
    beast::get_lowest_layer(stream_).async_connect(
        endpoints, [this](beast::error_code ec, const asio::ip::tcp::endpoint&) {
          if (ec) return fail(ErrorReason::connect_failed, "connect", ec);
          handshake();
        });
  }

  void handshake() {
    stream_.async_handshake(ssl::stream_base::client, [this](beast::error_code ec) {
      if (ec) return fail(ErrorReason::handshake_failed, "TLS handshake", ec);
      write();
    });
  }

  void write() {
    http::async_write(stream_, message_, [this](beast::error_code ec, std::size_t) {
      if (ec) return fail(ErrorReason::connect_failed, "send request", ec);
      read_some();
    });
  }

  // Counts every byte as it arrives and never asks for more than one past the limit.
  void read_some() {
    const std::uint64_t room = raw_limit_ + 1 - received_;
    const auto size = static_cast<std::size_t>(std::min<std::uint64_t>(kReadChunk, room));
    stream_.async_read_some(buffer_.prepare(size), [this](beast::error_code ec, std::size_t n) {
      buffer_.commit(n);
      received_ += n;
      if (ec == asio::error::eof || ec == ssl::error::stream_truncated) {
        eof_ = true;
      } else if (ec) {
        return fail(ErrorReason::connect_failed, "read response", ec);
      }
      feed();
    });
  }

  // Hands the parser what arrived, one step at a time (eager parsing off), checking the limits
  // after each step.
  void feed() {
    while (buffer_.size() > 0 && !parser_.is_done()) {
      beast::error_code ec;
      const std::size_t used = parser_.put(buffer_.data(), ec);
      buffer_.consume(used);
      if (ec == http::error::need_more) break;
      if (ec == http::error::body_limit || ec == http::error::header_limit) return too_large();
      if (ec) return fail(ErrorReason::bad_response, "malformed HTTP response", ec);
      if (over_limit()) return too_large();
      if (used == 0) break;
    }
    if (over_limit()) return too_large();
    if (parser_.is_done()) return complete();
    if (eof_) {
      beast::error_code ec;
      if (parser_.got_some()) parser_.put_eof(ec);
      if (parser_.got_some() && !ec && parser_.is_done() && !over_limit()) return complete();
      return fail(ErrorReason::bad_response, "read response (the peer closed mid-response)",
                  http::make_error_code(http::error::partial_message));
    }
    if (received_ > raw_limit_) return too_large();
    read_some();
  }

  bool over_limit() const {
    if (!parser_.is_header_done()) return false;
    const auto length = parser_.content_length();
    return (length && *length > request_.body_limit) ||
           parser_.get().body().size() > request_.body_limit;
  }

  void complete() {
    auto& response = parser_.get();
    result_.response.status = response.result_int();
    result_.response.retry_after = std::string(response[http::field::retry_after]);
    result_.response.body = std::move(response.body());
    done_ = true;
    close();
  }

  void too_large() {
    result_.error = SourceError{ErrorReason::bad_response, "response larger than the limit (" +
                                                               std::to_string(request_.body_limit) +
                                                               " bytes of body)" + where_};
    done_ = true;
    close();
  }

  void fail(ErrorReason reason, std::string_view step, beast::error_code ec) {
    std::string message = std::string(step) + " failed";
    if (ec) message += ": " + ec.message();
    result_.error = SourceError{reason, message + where_};
    done_ = true;
    close();
  }

  // Stops reading at once: nothing more is wanted from this peer.
  void close() {
    beast::error_code ignored;
    beast::get_lowest_layer(stream_).socket().close(ignored);
  }

  const HttpsGetRequest& request_;
  const std::string where_;
  const std::uint64_t raw_limit_;
  asio::ip::tcp::resolver resolver_;
  beast::ssl_stream<beast::tcp_stream> stream_;
  http::request<http::empty_body> message_;
  beast::flat_buffer buffer_;
  http::response_parser<http::string_body> parser_;
  std::uint64_t received_ = 0;
  bool eof_ = false;
  HttpsGetResult result_;
  bool done_ = false;
};

}  // namespace

HttpsGetResult https_get(const HttpsGetRequest& request) {
  HttpsGetResult result;
  ssl::context tls(ssl::context::tls_client);
  SSL_CTX_set_min_proto_version(tls.native_handle(), TLS1_2_VERSION);
  tls.set_verify_mode(ssl::verify_peer);
  boost::system::error_code ec;
  if (request.ca_file.empty()) {
    tls.set_default_verify_paths(ec);
  } else {
    // Through the bounded reader, as every file the daemon opens: OpenSSL's own open of a FIFO
    // swapped in for ca_file would block this source's thread for good (issue 28, item 8).
    const BoundedRead ca = read_regular_file(request.ca_file, kMaxCaFileBytes);
    if (ca.error) {
      result.error =
          SourceError{ErrorReason::bad_config, "cannot load the trusted CAs " + request.ca_file +
                                                   ": " + describe(*ca.error)};
      return result;
    }
    tls.add_certificate_authority(asio::buffer(ca.content), ec);
  }
  if (ec) {
    result.error = SourceError{ErrorReason::bad_config,
                               "cannot load the trusted CAs " +
                                   (request.ca_file.empty() ? "(system store)" : request.ca_file) +
                                   ": " + ec.message()};
    return result;
  }
  if (!request.client_cert_file.empty()) {
    // Read bounded as the CA file is; the key's bytes never reach a message.
    const BoundedRead cert = read_regular_file(request.client_cert_file, kMaxCaFileBytes);
    const BoundedRead key = read_regular_file(request.client_key_file, kMaxCaFileBytes);
    const std::string& failed_file =
        cert.error ? request.client_cert_file : request.client_key_file;
    std::string why = cert.error ? describe(*cert.error) : key.error ? describe(*key.error) : "";
    if (why.empty()) {
      tls.use_certificate_chain(asio::buffer(cert.content), ec);
      if (!ec) tls.use_private_key(asio::buffer(key.content), ssl::context::pem, ec);
      if (ec) why = "not a PEM certificate chain and its private key: " + ec.message();
    }
    if (!why.empty()) {
      result.error = SourceError{ErrorReason::bad_config,
                                 "cannot load the client certificate " + failed_file + ": " + why};
      return result;
    }
  }
  asio::io_context io;
  Exchange exchange(io, tls, request);
  if (auto error = exchange.prepare()) {
    result.error = std::move(error);
    return result;
  }
  exchange.start();
  io.run_for(request.timeout);
  if (!exchange.done()) {
    result.error = SourceError{ErrorReason::timeout, "no complete response within " +
                                                         duration_text(request.timeout) + " (" +
                                                         request.host + ":" + request.port + ")"};
    return result;
  }
  return exchange.take();
}

}  // namespace certwatch::net
