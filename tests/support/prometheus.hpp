// Test-only: the real daemon and a real Prometheus (Debian's package) scraping it, for tests that
// prove what Prometheus computes from the exposition (alerts, dashboard queries).
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "support/http_client.hpp"
#include "support/process.hpp"
#include "support/tempdir.hpp"

namespace certwatch::testing {

// The port the daemon logs once it listens (it is started on port 0); nullopt when it exits or
// says nothing within `timeout` (the caller shows daemon.log()).
std::optional<int> wait_for_listening_port(ChildProcess& daemon,
                                           std::chrono::seconds timeout = std::chrono::seconds{15});

// Prometheus on a free 127.0.0.1 port, scraping every exporter port every second under job
// `crdb-certwatch` and evaluating `rule_files` (paths relative to dir) every second; its
// configuration, data and log live in `dir`. Stopped when the object dies.
class PrometheusServer {
 public:
  // `cluster`, when set, is the targets' `cluster` label, as deploy/prometheus sets it.
  PrometheusServer(const TempDir& dir, const std::vector<int>& exporter_ports,
                   const std::vector<std::string>& rule_files = {},
                   const std::string& cluster = {});

  int port() const { return port_; }
  bool running() { return process_.running(); }
  std::string log() const { return process_.log(); }

  // Whether it answers 200 on /-/ready within `timeout` (false at once when it exited).
  bool wait_until_ready(std::chrono::seconds timeout);

  // GET on its HTTP API (`/api/v1/...`); `params` are percent-encoded into the query string.
  std::optional<HttpResponse> api_get(
      std::string_view path, const std::vector<std::pair<std::string, std::string>>& params) const;

 private:
  int port_;
  ChildProcess process_;
};

// RFC 3986 percent-encoding of everything but unreserved characters.
std::string percent_encode(std::string_view text);

}  // namespace certwatch::testing
