// Test-only: a small blocking HTTP/1.1 client on raw sockets, for talking to the daemon over
// real loopback TCP. Raw on purpose: tests also send what a library would refuse to (20 KiB
// headers, methods the server rejects) and hold connections open without sending anything.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>

namespace certwatch::testing {

// An open TCP connection to 127.0.0.1; closed when the object dies.
class LoopbackConnection {
 public:
  // Connects with send/receive timeouts; connected() says whether it worked.
  LoopbackConnection(int port, std::chrono::milliseconds timeout);
  ~LoopbackConnection();
  LoopbackConnection(LoopbackConnection&& other) noexcept;
  LoopbackConnection& operator=(LoopbackConnection&&) = delete;
  LoopbackConnection(const LoopbackConnection&) = delete;
  LoopbackConnection& operator=(const LoopbackConnection&) = delete;

  bool connected() const { return fd_ >= 0; }
  // The socket, for a test that speaks TLS on it with OpenSSL directly.
  int native_handle() const { return fd_; }
  bool send_all(const std::string& bytes);
  // Reads until the peer closes, the timeout passes or an error; returns what arrived.
  std::string read_until_close();

 private:
  int fd_ = -1;
};

struct HttpResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // names lowercased
  std::string body;                            // raw bytes after the header block (dechunked)

  std::string header(const std::string& lowercase_name) const;
};

// Parses a complete response (as read_until_close returns it); nullopt if it is not HTTP.
std::optional<HttpResponse> parse_http_response(const std::string& raw);

// Sends `raw_request` verbatim on a fresh connection and reads the response until the server
// closes; nullopt when nothing usable arrives within `timeout`.
std::optional<HttpResponse> http_exchange(int port, const std::string& raw_request,
                                          std::chrono::milliseconds timeout);

// "METHOD target HTTP/1.1" with Host and Connection: close.
std::optional<HttpResponse> http_request(int port, const std::string& method,
                                         const std::string& target,
                                         std::chrono::milliseconds timeout);
inline std::optional<HttpResponse> http_get(
    int port, const std::string& target,
    std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
  return http_request(port, "GET", target, timeout);
}

// The Authorization header value for HTTP basic auth: "Basic " + base64(user:password).
std::string basic_authorization(const std::string& user, const std::string& password);

// A port that was free a moment ago on 127.0.0.1 (bind to port 0, read it back, close).
int find_free_port();

}  // namespace certwatch::testing
