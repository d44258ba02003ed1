// Test-only: a local stand-in for the CockroachDB Cloud API's CMEK endpoint (the one part of the
// system that cannot run here): HTTPS on 127.0.0.1 port 0 with a test-made CA, answering every
// request with a switchable reply (a documented state, an HTTP error, a hang).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace certwatch::testing {

class TempDir;
struct GeneratedCert;

// One key of the documented CMEKClusterInfo in `status`, as JSON (with an unknown field).
std::string cmek_key_json(std::string_view status, std::string_view uri,
                          std::string_view message = "");
// The documented CMEKClusterInfo with one region and one key in `key_status`.
std::string cmek_cluster_json(std::string_view key_status, std::string_view message = "");

// The documented ClientCACertInfo: `status` and the uploaded PEM (with an unknown field).
std::string client_ca_json(std::string_view status, std::string_view pem);

// What the stand-in answers the next requests with.
struct Reply {
  unsigned status = 200;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  bool hang = false;  // read the request, then answer nothing until the mode changes
  // Raw mode, for responses no well-behaved server sends (when `raw` is not empty): each string
  // is written as it is, one write each, instead of the response above; then `stream_bytes` more
  // bytes of JSON-ish filler in 64 KiB writes (each framed as a chunk when `stream_chunked`),
  // made as they go so the stand-in itself stays small.
  std::vector<std::string> raw;
  std::uint64_t stream_bytes = 0;
  bool stream_chunked = false;
};

// One connection at a time on a thread of its own; starts answering cmek_cluster_json("ENABLED").
class FakeCloudApi {
 public:
  // Writes its CA to dir/api-ca.crt; a CA given is used instead of a new one (stand-ins that share
  // one CA file, as a cluster's nodes do).
  explicit FakeCloudApi(const TempDir& dir, const GeneratedCert* ca = nullptr);
  ~FakeCloudApi();
  FakeCloudApi(const FakeCloudApi&) = delete;
  FakeCloudApi& operator=(const FakeCloudApi&) = delete;

  void set(Reply reply);
  // The reply to requests whose target ends with `suffix` (e.g. "/client-ca-cert"), instead of
  // the one set(): the CMEK and client CA endpoints of one stand-in answer differently.
  void set_for(std::string suffix, Reply reply);
  // Requests whose target ended with `suffix`.
  int requests_for(const std::string& suffix);
  int port() const { return port_; }
  const std::string& ca_file() const { return ca_file_; }
  int requests() const { return requests_; }
  std::string last_authorization();
  std::string last_target();
  // Bytes the stand-in wrote in raw mode to the last connection before the peer stopped reading.
  std::uint64_t raw_bytes_sent() const { return raw_bytes_sent_; }

 private:
  struct Server;  // Asio and Beast stay out of this header
  void serve();

  std::unique_ptr<Server> server_;
  std::string ca_file_;
  int port_ = 0;
  std::mutex mutex_;
  std::condition_variable changed_;
  Reply reply_;
  std::map<std::string, Reply> replies_by_suffix_;
  std::map<std::string, int> requests_by_suffix_;
  bool stopping_ = false;
  std::atomic<int> requests_{0};
  std::atomic<std::uint64_t> raw_bytes_sent_{0};
  std::string last_authorization_;
  std::string last_target_;
  std::thread thread_;
};

}  // namespace certwatch::testing
