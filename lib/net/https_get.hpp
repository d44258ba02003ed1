// One HTTPS GET with every resource bounded: one deadline for the whole exchange (resolve,
// connect, handshake, request, response), the server verified against a CA file or the system
// store (host name or IP checked), and the response counted byte by byte as it arrives: reading
// stops at the header limit and at the body limit however the server frames the body (one
// segment with the header, split, chunked, a Content-Length that lies either way).
//
// Beast's parser alone does not hold the body limit (1.74 drops the body_limit error when eager
// parsing goes on in the same buffer), so the limits are enforced here and the parser is only
// fed what was counted.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/types.hpp"

namespace certwatch::net {

struct HttpsGetRequest {
  std::string host;  // a DNS name or an IP literal (IPv6 without brackets)
  std::string port = "443";
  std::string target;  // origin-form: /path, already validated by the caller
  // Extra request headers (Authorization, Accept); values must be free of control characters
  // (the config validates what it lets through).
  std::vector<std::pair<std::string, std::string>> headers;
  std::string ca_file;  // empty: the system's trust store
  // A client certificate chain and its key (PEM files), for a server that asks for one; empty:
  // none is offered.
  std::string client_cert_file;
  std::string client_key_file;
  std::chrono::milliseconds timeout{10000};
  std::uint64_t body_limit = 1024 * 1024;  // decoded body bytes
  std::uint32_t header_limit = 64 * 1024;  // status line and header fields
};

struct HttpsResponse {
  unsigned status = 0;
  std::string body;
  std::string retry_after;  // the Retry-After header, empty when absent
};

// The whole body, or why not: connect_failed (resolve, connect, send, read, a peer that closed
// early), handshake_failed, bad_response (malformed, or past a limit: the message says "larger than
// the limit"), timeout, bad_config (the CA file). Messages name host:port, never a header value.
struct HttpsGetResult {
  std::optional<SourceError> error;
  HttpsResponse response;
};

// Blocks the calling thread for at most request.timeout (it runs a private io_context).
HttpsGetResult https_get(const HttpsGetRequest& request);

// Bytes on the wire that a response may take besides its header and decoded body: chunk framing
// and trailers. A chunked body framed in smaller pieces than this allows is refused as too large.
inline constexpr std::uint64_t kFramingAllowance = 64 * 1024;

}  // namespace certwatch::net
