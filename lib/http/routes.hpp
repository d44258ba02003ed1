// The exporter's routes: the metrics path, the status page and the health endpoints.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "exporter/snapshot.hpp"
#include "http/http_server.hpp"

namespace certwatch::web {

using SnapshotProvider = std::function<std::shared_ptr<const exporter::Snapshot>()>;

struct WebOptions {
  std::string telemetry_path = "/metrics";
};

// Routes: telemetry path, "/" (status page), "/-/healthy", "/-/ready"; 404 otherwise.
Handler make_web_handler(WebOptions options, SnapshotProvider snapshot);

}  // namespace certwatch::web
