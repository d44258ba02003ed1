// GCC 12 reports a false -Wnull-dereference inside asio's scheduler (compensating_work_started)
// when a thread pool posts back to an io_context; silenced for the asio headers only.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>
#pragma GCC diagnostic pop

#include <poll.h>

#include <atomic>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>
#include <list>
#include <optional>
#include <type_traits>

#include "core/logging.hpp"
#include "exporter/compress.hpp"
#include "exporter/metrics.hpp"
#include "http/http_server.hpp"

namespace certwatch::web {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;

// Password checks queued or running on the verifier thread, at most. Enough for a few scrapers
// logging in at once after a start (a valid login is cached afterwards, see BasicAuth), while a
// flood of wrong passwords holds at most this many bcrypt runs of work (about half a second at
// cost 10) before it is refused.
constexpr std::size_t kMaxPendingVerifications = 8;

// How long a TLS connection gets for the close_notify exchange before its socket is closed anyway.
constexpr std::chrono::seconds kTlsShutdownTimeout{1};

// What makes room when the connection cap is reached: the lowest rank, the oldest first.
enum class EvictionRank {
  closing,           // done; only its close_notify exchange is left
  before_hello,      // TLS handshake without a whole ClientHello yet: what a flood looks like
  handshake,         // TLS handshake under way
  awaiting_request,  // idle keep-alive, or a request still arriving
  never,             // completing a request: evicting it would drop a scrape
};

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

namespace {

// What the connection list needs from a session, whatever its stream type.
class SessionBase {
 public:
  virtual ~SessionBase() = default;
  // Closes the socket at once (eviction, server stop); queued work for it is dropped.
  virtual void close() = 0;
  virtual EvictionRank eviction_rank() const = 0;
};

using SslStream = beast::ssl_stream<beast::tcp_stream>;

}  // namespace

struct HttpServer::Impl : std::enable_shared_from_this<HttpServer::Impl> {
  template <class Stream>
  class Session;

  Impl(asio::io_context& io_context, HttpServerOptions opts, Handler h)
      : io(io_context), options(std::move(opts)), handler(std::move(h)), acceptor(io_context) {}

  void accept();
  // accept() failed: out of descriptors (EMFILE, ENFILE) or memory fails again at once while the
  // connection waits in the backlog, so retrying at once spins a core. Waits 50 ms, doubling to
  // 1 s, and says so once per episode.
  void accept_failed(const beast::error_code& ec);
  void admit(tcp::socket socket);
  // Evicts until a new connection fits; false when every connection is completing a request.
  bool make_room();
  // Appends the server's own metric family to an exposition response (see kExpositionContentType).
  void append_own_metrics(Response& res);

  asio::io_context& io;
  HttpServerOptions options;
  Handler handler;
  tcp::acceptor acceptor;
  std::shared_ptr<const EndpointSecurity> security;
  asio::thread_pool* verifier = nullptr;  // owned by HttpServer; null once stopped
  // Oldest first: when the cap is reached the connection with the lowest EvictionRank makes
  // room, oldest first, so idle, slow or stuck clients can never lock a scrape out.
  std::list<std::weak_ptr<SessionBase>> sessions;
  std::size_t pending_verifications = 0;
  std::uint64_t refused_auth_queue_full = 0;
  std::uint64_t refused_connection_limit = 0;
  // The rendered family, kept until a count changes: most scrapes reuse it as it is.
  struct OwnMetrics {
    std::uint64_t auth_queue_full = 0;
    std::uint64_t connection_limit = 0;
    std::shared_ptr<const std::string> text;
    std::shared_ptr<const std::string> gzip;
  };
  OwnMetrics own_metrics;
  asio::steady_timer accept_retry{io};
  std::chrono::milliseconds accept_backoff{0};  // 0: the last accept succeeded
  std::uint64_t accept_failures = 0;            // in the current episode
  bool stopped = false;
};

template <class Stream>
class HttpServer::Impl::Session : public SessionBase,
                                  public std::enable_shared_from_this<Session<Stream>> {
 public:
  static constexpr bool kTls = std::is_same_v<Stream, SslStream>;

  Session(tcp::socket socket, std::shared_ptr<Impl> server) requires(!kTls)
      : stream_(std::move(socket)), server_(std::move(server)) {}

  Session(tcp::socket socket, std::shared_ptr<asio::ssl::context> context,
          std::shared_ptr<Impl> server) requires(kTls)
      : stream_(std::move(socket), *context),
        context_(std::move(context)),
        server_(std::move(server)) {}

  void start() {
    if constexpr (kTls) {
      phase_ = Phase::handshake;
      lowest().expires_after(server_->options.handshake_timeout);
      stream_.async_handshake(asio::ssl::stream_base::server,
                              [self = this->shared_from_this()](beast::error_code ec) {
                                if (ec) return self->close();
                                self->read(self->server_->options.read_timeout);
                              });
    } else {
      read(server_->options.read_timeout);
    }
  }

  void close() override {
    if (verification_) verification_->store(true);
    beast::error_code ec;
    lowest().socket().shutdown(tcp::socket::shutdown_both, ec);
    lowest().close();
  }

  EvictionRank eviction_rank() const override {
    switch (phase_) {
      case Phase::handshake:
        return awaiting_client_hello() ? EvictionRank::before_hello : EvictionRank::handshake;
      case Phase::awaiting_request:
        return EvictionRank::awaiting_request;
      case Phase::busy:
        return EvictionRank::never;
      case Phase::closing:
        return EvictionRank::closing;
    }
    return EvictionRank::never;
  }

 private:
  enum class Phase { handshake, awaiting_request, busy, closing };

  beast::tcp_stream& lowest() { return beast::get_lowest_layer(stream_); }
  const beast::tcp_stream& lowest() const { return beast::get_lowest_layer(stream_); }

  // Whether the TLS client has yet to deliver a whole ClientHello: a real client sends it in one
  // go, a flood drips it. OpenSSL stays in these states until it has answered one.
  bool awaiting_client_hello() const {
    if constexpr (kTls) {
      const OSSL_HANDSHAKE_STATE state =
          SSL_get_state(const_cast<Stream&>(stream_).native_handle());
      return state == TLS_ST_BEFORE || state == TLS_ST_SR_CLNT_HELLO;
    }
    return false;
  }

  // Ends a connection after a response or at the client's request: TLS says close_notify first
  // (an orderly end the client can tell from a truncation), within a short deadline.
  void finish() {
    if constexpr (kTls) {
      if (!server_->stopped) {
        phase_ = Phase::closing;
        lowest().expires_after(kTlsShutdownTimeout);
        stream_.async_shutdown(
            [self = this->shared_from_this()](beast::error_code) { self->close(); });
        return;
      }
    }
    close();
  }

  // While credentials wait for the verifier, notices a client that hangs up (FIN or RST), so
  // its check is skipped instead of paid for. Data that arrives instead (a pipelined request)
  // ends the watch: the check then runs.
  void watch_for_departure(std::shared_ptr<std::atomic<bool>> gone) {
    lowest().socket().async_wait(tcp::socket::wait_read,
                                 [self = this->shared_from_this(), gone](beast::error_code ec) {
                                   if (!ec && self->verification_ == gone && self->client_gone())
                                     self->close();
                                 });
  }

  // Whether the client has hung up (FIN or RST), without reading: whatever it sent stays queued.
  bool client_gone() {
    pollfd descriptor{lowest().socket().native_handle(), POLLRDHUP, 0};
    return ::poll(&descriptor, 1, 0) == 1 &&
           (descriptor.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
  }

  void read(std::chrono::seconds timeout) {
    phase_ = Phase::awaiting_request;
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(server_->options.header_limit));
    parser_->body_limit(16 * 1024);
    lowest().expires_after(timeout);
    http::async_read(stream_, buffer_, *parser_,
                     [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                       self->on_read(ec);
                     });
  }

  void on_read(beast::error_code ec) {
    if (server_->stopped || ec == beast::error::timeout || ec == asio::error::operation_aborted ||
        ec == asio::error::connection_reset || ec == asio::ssl::error::stream_truncated) {
      return close();
    }
    // The client ended the connection (over TLS with its own close_notify): answer in kind.
    if (ec == http::error::end_of_stream || ec == asio::error::eof) return finish();
    phase_ = Phase::busy;
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
    const auto security = server_->security;
    if (!security || !security->auth) return respond();
    const auto header = req[http::field::authorization];
    auto credentials = parse_basic_authorization(std::string_view(header.data(), header.size()));
    if (!credentials) return write(unauthorized(req));
    if (security->auth->known_good(*credentials)) return respond();
    // A flood sends its guess and hangs up at once: nothing to check, nobody to answer.
    if (server_->verifier == nullptr || client_gone()) return close();
    if (server_->pending_verifications >= kMaxPendingVerifications) {
      ++server_->refused_auth_queue_full;
      Response res = plain_response(http::status::service_unavailable, req,
                                    "Too many password checks pending, retry shortly\n");
      res.set(http::field::retry_after, "1");
      return write(std::move(res));
    }
    ++server_->pending_verifications;
    auto gone = std::make_shared<std::atomic<bool>>(false);
    verification_ = gone;
    watch_for_departure(gone);
    // bcrypt takes tens of milliseconds: off the event loop, then back to it with the verdict.
    asio::post(*server_->verifier, [self = this->shared_from_this(), auth = security->auth,
                                    credentials = std::move(*credentials), gone]() mutable {
      // A client that left while queued costs nothing.
      const bool ok = !gone->load() && auth->verify(credentials);
      auto& io = self->server_->io;
      asio::post(io, [self = std::move(self), ok, gone] {
        --self->server_->pending_verifications;
        if (self->server_->stopped || gone->load()) return self->close();
        self->verification_.reset();
        beast::error_code ignored;
        self->lowest().socket().cancel(ignored);  // the departure watch
        if (ok) return self->respond();
        self->write(unauthorized(self->parser_->get()));
      });
    });
  }

  static Response unauthorized(const Request& req) {
    Response res = plain_response(http::status::unauthorized, req, "Unauthorized\n");
    res.set(http::field::www_authenticate, R"(Basic realm="crdb-certwatch", charset="UTF-8")");
    return res;
  }

  void respond() {
    const Request& req = parser_->get();
    Response res = server_->handler(req);
    server_->append_own_metrics(res);
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
    if (const auto security = server_->security) {
      for (const auto& [name, value] : security->headers) response_.set(name, value);
    }
    lowest().expires_after(server_->options.read_timeout);
    http::async_write(stream_, response_,
                      [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                        if (ec) return self->close();
                        if (!self->response_.keep_alive()) return self->finish();
                        self->read(self->server_->options.idle_timeout);
                      });
  }

  Stream stream_;
  std::shared_ptr<asio::ssl::context> context_;  // outlives the stream's SSL object
  beast::flat_buffer buffer_{8192};
  std::optional<http::request_parser<http::string_body>> parser_;
  Response response_;
  std::shared_ptr<Impl> server_;
  Phase phase_ = Phase::awaiting_request;
  // Set while credentials wait for the verifier; true once the client is gone.
  std::shared_ptr<std::atomic<bool>> verification_;
};

void HttpServer::Impl::accept() {
  acceptor.async_accept([self = shared_from_this()](beast::error_code ec, tcp::socket socket) {
    if (self->stopped) return;
    if (ec && ec != asio::error::connection_aborted) {
      self->accept_failed(ec);
      return;
    }
    if (!ec) {
      if (self->accept_failures > 0) {
        logger("http")->info("accepting connections again after {} failed accepts",
                             self->accept_failures);
      }
      self->accept_backoff = std::chrono::milliseconds{0};
      self->accept_failures = 0;
      self->admit(std::move(socket));
    }
    self->accept();
  });
}

void HttpServer::Impl::accept_failed(const beast::error_code& ec) {
  using std::chrono::milliseconds;
  ++accept_failures;
  if (accept_backoff == milliseconds{0}) {
    accept_backoff = milliseconds{50};
    logger("http")->warn(
        "accepting a connection failed: {}; retrying every 50 ms to 1 s until it works "
        "(out of file descriptors? raise the open-files limit, LimitNOFILE under systemd)",
        ec.message());
  } else {
    accept_backoff = std::min(accept_backoff * 2, milliseconds{1000});
  }
  accept_retry.expires_after(accept_backoff);
  accept_retry.async_wait([self = shared_from_this()](const beast::error_code& wait_ec) {
    if (wait_ec || self->stopped) return;
    self->accept();
  });
}

bool HttpServer::Impl::make_room() {
  sessions.remove_if([](const std::weak_ptr<SessionBase>& s) { return s.expired(); });
  while (sessions.size() >= options.max_connections) {
    auto victim = sessions.end();
    EvictionRank lowest = EvictionRank::never;
    for (auto it = sessions.begin(); it != sessions.end(); ++it) {
      const auto session = it->lock();
      if (session && session->eviction_rank() < lowest) {
        lowest = session->eviction_rank();
        victim = it;
      }
    }
    if (victim == sessions.end()) return false;
    victim->lock()->close();
    sessions.erase(victim);
  }
  return true;
}

void HttpServer::Impl::append_own_metrics(Response& res) {
  const auto content_type = res[http::field::content_type];
  if (std::string_view(content_type.data(), content_type.size()) != kExpositionContentType) return;
  if (!own_metrics.text || own_metrics.auth_queue_full != refused_auth_queue_full ||
      own_metrics.connection_limit != refused_connection_limit) {
    own_metrics.auth_queue_full = refused_auth_queue_full;
    own_metrics.connection_limit = refused_connection_limit;
    own_metrics.text = std::make_shared<const std::string>(
        exporter::render_http_refusals(refused_auth_queue_full, refused_connection_limit));
    own_metrics.gzip.reset();
  }
  if (res[http::field::content_encoding] == "gzip") {
    // A second gzip member: RFC 1952 readers, Prometheus' included, read the members in turn.
    if (!own_metrics.gzip) {
      own_metrics.gzip =
          std::make_shared<const std::string>(exporter::gzip_compress(*own_metrics.text));
    }
    res.body().append(own_metrics.gzip);
  } else {
    res.body().append(own_metrics.text);
  }
}

void HttpServer::Impl::admit(tcp::socket socket) {
  if (!make_room()) {
    ++refused_connection_limit;
    beast::error_code ec;
    socket.close(ec);
    return;
  }
  beast::error_code ec;
  socket.set_option(tcp::no_delay(true), ec);
  std::shared_ptr<SessionBase> base;
  if (security && security->tls) {
    auto session = std::make_shared<Session<SslStream>>(
        std::move(socket), security->tls->context_for_new_connection(), shared_from_this());
    session->start();
    base = session;
  } else {
    auto session =
        std::make_shared<Session<beast::tcp_stream>>(std::move(socket), shared_from_this());
    session->start();
    base = session;
  }
  sessions.push_back(base);
}

HttpServer::HttpServer(asio::io_context& io, HttpServerOptions options, Handler handler)
    : impl_(std::make_shared<Impl>(io, std::move(options), std::move(handler))),
      verifier_(std::make_unique<asio::thread_pool>(1)) {
  impl_->verifier = verifier_.get();
}

void HttpServer::set_security(std::shared_ptr<const EndpointSecurity> security) {
  const auto& previous = impl_->security;
  if (security && security->auth && previous && previous->auth) {
    security->auth->keep_verified_from(*previous->auth);
  }
  impl_->security = std::move(security);
}

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
  impl_->accept_retry.cancel();
  for (auto& weak : impl_->sessions) {
    if (auto session = weak.lock()) session->close();
  }
  impl_->sessions.clear();
  impl_->verifier = nullptr;
  verifier_->stop();
  verifier_->join();
}

}  // namespace certwatch::web
