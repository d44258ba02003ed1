#include "support/http_client.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string_view>

namespace certwatch::testing {
namespace {

sockaddr_in loopback(int port) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return address;
}

std::string lowercase(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

std::string trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\r')) {
    text.remove_suffix(1);
  }
  return std::string(text);
}

std::optional<std::string> decode_chunked(std::string_view body) {
  std::string out;
  while (true) {
    const auto line_end = body.find("\r\n");
    if (line_end == std::string_view::npos) return std::nullopt;
    std::size_t size = 0;
    try {
      size = std::stoul(std::string(body.substr(0, line_end)), nullptr, 16);
    } catch (const std::exception&) {
      return std::nullopt;
    }
    body.remove_prefix(line_end + 2);
    if (size == 0) return out;
    if (body.size() < size + 2) return std::nullopt;
    out += body.substr(0, size);
    body.remove_prefix(size + 2);
  }
}

}  // namespace

std::string basic_authorization(const std::string& user, const std::string& password) {
  const std::string plain = user + ":" + password;
  std::string encoded(4 * ((plain.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(encoded.data()),
                                reinterpret_cast<const unsigned char*>(plain.data()),
                                static_cast<int>(plain.size()));
  encoded.resize(static_cast<std::size_t>(n));
  return "Basic " + encoded;
}

LoopbackConnection::LoopbackConnection(int port, std::chrono::milliseconds timeout) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return;
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((timeout.count() % 1000) * 1000);
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  const sockaddr_in address = loopback(port);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
    ::close(fd);
    return;
  }
  fd_ = fd;
}

LoopbackConnection::~LoopbackConnection() {
  if (fd_ >= 0) ::close(fd_);
}

LoopbackConnection::LoopbackConnection(LoopbackConnection&& other) noexcept : fd_(other.fd_) {
  other.fd_ = -1;
}

bool LoopbackConnection::send_all(const std::string& bytes) {
  if (fd_ < 0) return false;
  for (std::size_t sent = 0; sent < bytes.size();) {
    const ssize_t n = ::send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    sent += static_cast<std::size_t>(n);
  }
  return true;
}

std::string LoopbackConnection::read_until_close() {
  std::string raw;
  if (fd_ < 0) return raw;
  char buffer[16384];
  while (true) {
    const ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
    if (n < 0 && errno == EINTR) continue;
    // 0: orderly close. <0: timeout, or a reset after the server answered a request it would
    // not read to the end (431): what arrived before is still the answer.
    if (n <= 0) break;
    raw.append(buffer, static_cast<std::size_t>(n));
  }
  return raw;
}

std::string HttpResponse::header(const std::string& lowercase_name) const {
  const auto it = headers.find(lowercase_name);
  return it == headers.end() ? "" : it->second;
}

std::optional<HttpResponse> parse_http_response(const std::string& raw) {
  const auto header_end = raw.find("\r\n\r\n");
  if (header_end == std::string::npos || raw.rfind("HTTP/1.", 0) != 0) return std::nullopt;
  HttpResponse response;
  const auto first_line_end = raw.find("\r\n");
  const std::string status_line = raw.substr(0, first_line_end);
  const auto space = status_line.find(' ');
  if (space == std::string::npos) return std::nullopt;
  try {
    response.status = std::stoi(status_line.substr(space + 1, 3));
  } catch (const std::exception&) {
    return std::nullopt;
  }
  std::size_t pos = first_line_end + 2;
  while (pos < header_end) {
    const auto line_end = raw.find("\r\n", pos);
    const std::string line = raw.substr(pos, line_end - pos);
    const auto colon = line.find(':');
    if (colon != std::string::npos) {
      response.headers[lowercase(line.substr(0, colon))] = trim(line.substr(colon + 1));
    }
    pos = line_end + 2;
  }
  response.body = raw.substr(header_end + 4);
  if (lowercase(response.header("transfer-encoding")) == "chunked") {
    auto decoded = decode_chunked(response.body);
    if (!decoded) return std::nullopt;
    response.body = std::move(*decoded);
  }
  return response;
}

std::optional<HttpResponse> http_exchange(int port, const std::string& raw_request,
                                          std::chrono::milliseconds timeout) {
  LoopbackConnection connection(port, timeout);
  if (!connection.connected()) return std::nullopt;
  // A server may answer and close before reading all of an oversized request, so a failed send
  // is not yet a failure: the answer decides.
  connection.send_all(raw_request);
  return parse_http_response(connection.read_until_close());
}

std::optional<HttpResponse> http_request(int port, const std::string& method,
                                         const std::string& target,
                                         std::chrono::milliseconds timeout) {
  return http_exchange(
      port, method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
      timeout);
}

int find_free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
  sockaddr_in address = loopback(0);
  socklen_t length = sizeof address;
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    const int error = errno;
    ::close(fd);
    throw std::runtime_error(std::string("bind 127.0.0.1:0: ") + std::strerror(error));
  }
  ::close(fd);
  return ntohs(address.sin_port);
}

}  // namespace certwatch::testing
