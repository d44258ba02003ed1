// A small HTTP/1.1 server on Boost.Beast, on the caller's io_context. It bounds what a client
// can cost: header size, read and idle timeouts, concurrent connections; only GET and HEAD.
// Thread-safety: all methods and the handler run on the io_context's thread.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <system_error>

namespace certwatch::exporter {

namespace http = boost::beast::http;
using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;
using Handler = std::function<Response(const Request&)>;

struct HttpServerOptions {
  std::string listen_address = ":9712";  // "host:port", ":port" (all interfaces), "[v6]:port"
  std::size_t max_connections = 64;
  std::size_t header_limit = 8 * 1024;
  std::chrono::seconds read_timeout{10};  // a whole request must arrive within this
  std::chrono::seconds idle_timeout{60};  // keep-alive connection with no request
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

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace certwatch::exporter
