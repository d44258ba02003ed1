// The exporter's routes: the metrics path, the status page and the health endpoints.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "exporter/http_server.hpp"
#include "exporter/snapshot.hpp"

namespace certwatch::exporter {

using SnapshotProvider = std::function<std::shared_ptr<const Snapshot>()>;

struct WebOptions {
  std::string telemetry_path = "/metrics";
};

// Routes: telemetry path, "/" (status page), "/-/healthy", "/-/ready"; 404 otherwise.
Handler make_web_handler(WebOptions options, SnapshotProvider snapshot);

// The status page: every certificate with its state, file errors, source health.
std::string render_status_page(const Snapshot& snapshot, const std::string& telemetry_path);

}  // namespace certwatch::exporter
