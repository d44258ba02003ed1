#include "support/fake_cloud_api.hpp"

#include <sys/socket.h>
#include <sys/time.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <chrono>
#include <cstdio>

#include "support/certgen.hpp"
#include "support/http_client.hpp"
#include "support/tempdir.hpp"

namespace certwatch::testing {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;

std::string cmek_key_json(std::string_view status, std::string_view uri, std::string_view message) {
  return R"({"status":")" + std::string(status) + R"(","user_message":")" + std::string(message) +
         R"(","created_at":"2024-01-01T00:00:00Z","updated_at":"2024-05-01T12:00:00.5Z",)"
         R"("spec":{"type":"AWS_KMS","uri":")" +
         std::string(uri) + R"(","auth_principal":"arn:aws:iam::1:role/crl"},"extra":[1,2]})";
}

std::string cmek_cluster_json(std::string_view key_status, std::string_view message) {
  return R"({"status":"ENABLED","unknown_field":{"x":1},"region_infos":[{"region":"us-east-1",)"
         R"("status":"ENABLED","key_infos":[)" +
         cmek_key_json(key_status, "arn:aws:kms:us-east-1:1:key/k1", message) + "]}]}";
}

std::string client_ca_json(std::string_view status, std::string_view pem) {
  std::string escaped;
  for (char c : pem) {
    if (c == '\n') {
      escaped += "\\n";
    } else if (c == '"' || c == '\\') {
      escaped += '\\';
      escaped += c;
    } else {
      escaped += c;
    }
  }
  return R"({"status":")" + std::string(status) + R"(","x509_pem_cert":")" + escaped +
         R"(","future_field":{"x":[1]}})";
}

struct FakeCloudApi::Server {
  GeneratedCert ca;
  asio::io_context io;
  ssl::context tls{ssl::context::tls_server};
  asio::ip::tcp::acceptor acceptor{io};
};

FakeCloudApi::FakeCloudApi(const TempDir& dir, const GeneratedCert* ca)
    : server_(std::make_unique<Server>()) {
  CertSpec ca_spec;
  ca_spec.common_name = "Test Cloud CA";
  ca_spec.is_ca = true;
  server_->ca = ca != nullptr ? *ca : generate_cert(ca_spec);
  CertSpec leaf;
  leaf.common_name = "127.0.0.1";
  leaf.ip_addresses = {"127.0.0.1"};
  const GeneratedCert cert = generate_cert(leaf, &server_->ca);
  ca_file_ = dir.write("api-ca.crt", server_->ca.cert_pem).string();
  server_->tls.use_certificate_chain(asio::buffer(cert.cert_pem));
  server_->tls.use_private_key(asio::buffer(cert.key_pem), ssl::context::pem);
  server_->acceptor.open(asio::ip::tcp::v4());
  server_->acceptor.bind({asio::ip::make_address("127.0.0.1"), 0});
  server_->acceptor.listen();
  port_ = server_->acceptor.local_endpoint().port();
  reply_.body = cmek_cluster_json("ENABLED");
  thread_ = std::thread([this] { serve(); });
}

FakeCloudApi::~FakeCloudApi() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  // Wakes a blocked accept().
  LoopbackConnection wake(port_, std::chrono::milliseconds{1000});
  thread_.join();
}

void FakeCloudApi::set(Reply reply) {
  {
    std::lock_guard lock(mutex_);
    reply_ = std::move(reply);
  }
  changed_.notify_all();
}

void FakeCloudApi::set_for(std::string suffix, Reply reply) {
  {
    std::lock_guard lock(mutex_);
    replies_by_suffix_[std::move(suffix)] = std::move(reply);
  }
  changed_.notify_all();
}

int FakeCloudApi::requests_for(const std::string& suffix) {
  std::lock_guard lock(mutex_);
  const auto it = requests_by_suffix_.find(suffix);
  return it == requests_by_suffix_.end() ? 0 : it->second;
}

std::string FakeCloudApi::last_authorization() {
  std::lock_guard lock(mutex_);
  return last_authorization_;
}

std::string FakeCloudApi::last_target() {
  std::lock_guard lock(mutex_);
  return last_target_;
}

namespace {

// Writes `reply.raw`, then the filler; stops at the first failed write (the client hung up).
std::uint64_t send_raw(beast::ssl_stream<asio::ip::tcp::socket>& stream, const Reply& reply) {
  std::uint64_t sent = 0;
  beast::error_code ec;
  for (const std::string& segment : reply.raw) {
    sent += asio::write(stream, asio::buffer(segment), ec);
    if (ec) return sent;
  }
  const std::string filler(64 * 1024, ' ');
  for (std::uint64_t left = reply.stream_bytes; left > 0;) {
    const std::size_t size = static_cast<std::size_t>(std::min<std::uint64_t>(left, filler.size()));
    std::string piece;
    if (reply.stream_chunked) {
      char header[32];
      std::snprintf(header, sizeof header, "%zx\r\n", size);
      piece = header + filler.substr(0, size) + "\r\n";
    } else {
      piece = filler.substr(0, size);
    }
    sent += asio::write(stream, asio::buffer(piece), ec);
    if (ec) return sent;
    left -= size;
  }
  if (reply.stream_chunked) sent += asio::write(stream, asio::buffer(std::string("0\r\n\r\n")), ec);
  return sent;
}

}  // namespace

void FakeCloudApi::serve() {
  for (;;) {
    asio::ip::tcp::socket socket(server_->io);
    beast::error_code ec;
    server_->acceptor.accept(socket, ec);
    {
      std::lock_guard lock(mutex_);
      if (stopping_) return;
    }
    if (ec) continue;
    // A peer that stops mid-way cannot hold the stand-in for long.
    const timeval limit{5, 0};
    setsockopt(socket.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
    setsockopt(socket.native_handle(), SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof limit);
    beast::ssl_stream<asio::ip::tcp::socket> stream(std::move(socket), server_->tls);
    stream.handshake(ssl::stream_base::server, ec);
    if (ec) continue;
    beast::flat_buffer buffer;
    http::request<http::string_body> request;
    http::read(stream, buffer, request, ec);
    if (ec) continue;
    ++requests_;
    std::unique_lock lock(mutex_);
    last_authorization_ = std::string(request[http::field::authorization]);
    last_target_ = std::string(request.target());
    // The reply for this target: one set for its suffix, else the common one.
    const auto current = [this]() -> const Reply& {
      for (const auto& [suffix, reply] : replies_by_suffix_) {
        if (last_target_.ends_with(suffix)) return reply;
      }
      return reply_;
    };
    for (const auto& [suffix, reply] : replies_by_suffix_) {
      if (last_target_.ends_with(suffix)) ++requests_by_suffix_[suffix];
    }
    changed_.wait(lock, [&] { return stopping_ || !current().hang; });
    if (stopping_) return;
    const Reply reply = current();
    if (!reply.raw.empty()) {
      lock.unlock();
      raw_bytes_sent_ = send_raw(stream, reply);
      continue;
    }
    http::response<http::string_body> response{static_cast<http::status>(reply.status), 11};
    for (const auto& [name, value] : reply.headers) response.set(name, value);
    response.set(http::field::content_type, "application/json");
    response.body() = reply.body;
    lock.unlock();
    response.prepare_payload();
    http::write(stream, response, ec);
  }
}

}  // namespace certwatch::testing
