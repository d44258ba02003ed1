// A small HTTP/1.1 server on Boost.Beast, on the caller's io_context, serving plain HTTP or TLS
// (asio::ssl) with optional basic auth and extra security headers, as a web config asks. It
// bounds what a client can cost: header size, TLS handshake, read and idle timeouts, concurrent
// connections (at the cap, stuck handshakes and idle connections make room, never one completing
// a request); only GET and HEAD. bcrypt checks run on a thread of their own, at most a few
// pending (more are refused with 503 and counted), skipped when the client has gone, so a flood
// of wrong passwords can neither stall the event loop nor delay a cached valid login. It adds its
// own metric family, crdb_cert_http_requests_refused_total, to every exposition it serves.
// Thread-safety: all methods and the handler run on the io_context's thread.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "http/endpoint_security.hpp"
#include "http/shared_body.hpp"

namespace certwatch::web {

namespace http = boost::beast::http;
using Request = http::request<http::string_body>;
using Response = http::response<SharedBody>;  // bodies are shared, never copied per request
using Handler = std::function<Response(const Request&)>;

// The Content-Type of a Prometheus text exposition. The server appends its own metric family to
// any response of this type (as a second piece of the body, or a second gzip member when the
// response is gzip-encoded), so the handler's big text is never copied.
inline constexpr std::string_view kExpositionContentType =
    "text/plain; version=0.0.4; charset=utf-8";

struct HttpServerOptions {
  std::string listen_address = ":9712";  // "host:port", ":port" (all interfaces), "[v6]:port"
  std::size_t max_connections = 64;
  std::size_t header_limit = 8 * 1024;
  std::chrono::seconds read_timeout{10};  // a whole request must arrive within this
  std::chrono::seconds idle_timeout{60};  // keep-alive connection with no request
  // A TLS client that has not completed its handshake by then is dropped: real clients take
  // milliseconds, a flood dripping ClientHello bytes would hold its slots.
  std::chrono::seconds handshake_timeout{3};
};

// Parses a listen address into an endpoint; error message names what is wrong.
std::optional<boost::asio::ip::tcp::endpoint> parse_listen_address(const std::string& address,
                                                                   std::string& error);

class HttpServer {
 public:
  HttpServer(boost::asio::io_context& io, HttpServerOptions options, Handler handler);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds and starts accepting; returns a message on failure (address in use, bad address).
  std::optional<std::string> start();
  unsigned short port() const;
  void stop();
  // Applies to connections accepted from now on (TLS) and to every request from now on
  // (authentication, headers). Null means plain HTTP without authentication.
  void set_security(std::shared_ptr<const EndpointSecurity> security);

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
  // Declared after impl_, so it is destroyed first: jobs it drops release their sessions while
  // the server state is still alive.
  std::unique_ptr<boost::asio::thread_pool> verifier_;
};

}  // namespace certwatch::web
