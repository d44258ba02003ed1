// The exporter's routes: the metrics path, the status page and the health endpoints.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "exporter/metrics.hpp"
#include "http/http_server.hpp"

namespace certwatch::web {

// The exposition being served now (never null); each request reads it once.
using ExpositionProvider = std::function<std::shared_ptr<const exporter::Exposition>()>;

struct WebOptions {
  std::string telemetry_path = "/metrics";
};

// Routes: telemetry path, "/" (status page), "/runbooks/<Alert>" (deploy/runbooks as HTML),
// "/-/healthy", "/-/ready"; 404 otherwise.
Handler make_web_handler(WebOptions options, ExpositionProvider exposition);

}  // namespace certwatch::web
