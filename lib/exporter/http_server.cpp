#include "exporter/http_server.hpp"

#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <list>
#include <optional>

namespace certwatch::exporter {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;

Response plain_response(http::status status, const Request& req, std::string body) {
  Response res{status, req.version()};
  res.set(http::field::content_type, "text/plain; charset=utf-8");
  res.body() = std::move(body);
  res.keep_alive(false);
  return res;
}

}  // namespace

std::optional<tcp::endpoint> parse_listen_address(const std::string& address, std::string& error) {
  const auto colon = address.rfind(':');
  if (colon == std::string::npos) {
    error = "listen address \"" + address + "\" needs a port, e.g. \":9712\"";
    return std::nullopt;
  }
  std::string host = address.substr(0, colon);
  const std::string port_text = address.substr(colon + 1);
  unsigned long port = 0;
  try {
    std::size_t used = 0;
    port = std::stoul(port_text, &used);
    if (used != port_text.size() || port > 65535) throw std::out_of_range("port");
  } catch (const std::exception&) {
    error = "listen address \"" + address + "\": bad port \"" + port_text + "\"";
    return std::nullopt;
  }
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  const auto port_number = static_cast<unsigned short>(port);
  if (host.empty()) return tcp::endpoint(asio::ip::address_v6::any(), port_number);
  boost::system::error_code ec;
  const auto ip = asio::ip::make_address(host, ec);
  if (!ec) return tcp::endpoint(ip, port_number);
  asio::io_context io;
  tcp::resolver resolver(io);
  const auto results = resolver.resolve(host, port_text, ec);
  if (ec || results.empty()) {
    error = "listen address \"" + address + "\": cannot resolve \"" + host + "\"";
    return std::nullopt;
  }
  return results.begin()->endpoint();
}

struct HttpServer::Impl : std::enable_shared_from_this<HttpServer::Impl> {
  class Session;

  Impl(asio::io_context& io_context, HttpServerOptions opts, Handler h)
      : io(io_context), options(std::move(opts)), handler(std::move(h)), acceptor(io_context) {}

  void accept();
  void admit(tcp::socket socket);

  asio::io_context& io;
  HttpServerOptions options;
  Handler handler;
  tcp::acceptor acceptor;
  // Oldest first: when the cap is reached the oldest connection makes room, so idle or slow
  // clients can never lock a scrape out.
  std::list<std::weak_ptr<Session>> sessions;
  bool stopped = false;
};

class HttpServer::Impl::Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, std::shared_ptr<Impl> server)
      : stream_(std::move(socket)), server_(std::move(server)) {}

  void start() { read(server_->options.read_timeout); }

  void close() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream_.close();
  }

 private:
  void read(std::chrono::seconds timeout) {
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(server_->options.header_limit));
    parser_->body_limit(16 * 1024);
    stream_.expires_after(timeout);
    http::async_read(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_read(ec); });
  }

  void on_read(beast::error_code ec) {
    if (ec == http::error::end_of_stream || ec == beast::error::timeout ||
        ec == asio::error::operation_aborted || ec == asio::error::connection_reset ||
        ec == asio::error::eof) {
      return close();
    }
    if (ec == http::error::header_limit) {
      return write(plain_response(http::status::request_header_fields_too_large, Request{},
                                  "request header too large\n"));
    }
    if (ec == http::error::body_limit) {
      return write(plain_response(http::status::payload_too_large, Request{}, "body too large\n"));
    }
    if (ec) {
      return write(plain_response(http::status::bad_request, Request{}, "bad request\n"));
    }
    const Request& req = parser_->get();
    if (req.method() != http::verb::get && req.method() != http::verb::head) {
      Response res = plain_response(http::status::method_not_allowed, req, "only GET and HEAD\n");
      res.set(http::field::allow, "GET, HEAD");
      return write(std::move(res));
    }
    Response res = server_->handler(req);
    res.version(req.version());
    res.keep_alive(req.keep_alive() && res.keep_alive());
    res.prepare_payload();
    if (req.method() == http::verb::head) {
      const auto length = res.body().size();
      res.body().clear();
      res.content_length(length);
    }
    write(std::move(res));
  }

  void write(Response res) {
    response_ = std::move(res);
    if (response_.find(http::field::content_length) == response_.end()) response_.prepare_payload();
    stream_.expires_after(server_->options.read_timeout);
    http::async_write(stream_, response_,
                      [self = shared_from_this()](beast::error_code ec, std::size_t) {
                        if (ec || !self->response_.keep_alive()) return self->close();
                        self->read(self->server_->options.idle_timeout);
                      });
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_{8192};
  std::optional<http::request_parser<http::string_body>> parser_;
  Response response_;
  std::shared_ptr<Impl> server_;
};

void HttpServer::Impl::accept() {
  acceptor.async_accept([self = shared_from_this()](beast::error_code ec, tcp::socket socket) {
    if (self->stopped) return;
    if (!ec) self->admit(std::move(socket));
    self->accept();
  });
}

void HttpServer::Impl::admit(tcp::socket socket) {
  sessions.remove_if([](const std::weak_ptr<Session>& s) { return s.expired(); });
  while (sessions.size() >= options.max_connections && !sessions.empty()) {
    if (auto oldest = sessions.front().lock()) oldest->close();
    sessions.pop_front();
  }
  auto session = std::make_shared<Session>(std::move(socket), shared_from_this());
  sessions.push_back(session);
  session->start();
}

HttpServer::HttpServer(asio::io_context& io, HttpServerOptions options, Handler handler)
    : impl_(std::make_shared<Impl>(io, std::move(options), std::move(handler))) {}

HttpServer::~HttpServer() { stop(); }

std::optional<std::string> HttpServer::start() {
  std::string error;
  auto endpoint = parse_listen_address(impl_->options.listen_address, error);
  if (!endpoint) return error;
  beast::error_code ec;
  impl_->acceptor.open(endpoint->protocol(), ec);
  if (!ec && endpoint->address().is_v6()) impl_->acceptor.set_option(asio::ip::v6_only(false), ec);
  if (ec && endpoint->address().is_v6() && endpoint->address().is_unspecified()) {
    // No IPv6 on this host: all interfaces means all IPv4 ones.
    impl_->acceptor.close(ec);
    endpoint = tcp::endpoint(asio::ip::address_v4::any(), endpoint->port());
    impl_->acceptor.open(endpoint->protocol(), ec);
  }
  if (!ec) impl_->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) impl_->acceptor.bind(*endpoint, ec);
  if (!ec) impl_->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return "cannot listen on \"" + impl_->options.listen_address + "\": " + ec.message();
  }
  impl_->accept();
  return std::nullopt;
}

unsigned short HttpServer::port() const {
  beast::error_code ec;
  return impl_->acceptor.local_endpoint(ec).port();
}

void HttpServer::stop() {
  if (impl_->stopped) return;
  impl_->stopped = true;
  beast::error_code ec;
  impl_->acceptor.close(ec);
  for (auto& weak : impl_->sessions) {
    if (auto session = weak.lock()) session->close();
  }
  impl_->sessions.clear();
}

}  // namespace certwatch::exporter
