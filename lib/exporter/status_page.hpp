// The status page: every certificate with its state, file errors, source health, as HTML.
#pragma once

#include <string>

#include "state/snapshot.hpp"

namespace certwatch::exporter {

std::string render_status_page(const state::Snapshot& snapshot, const std::string& telemetry_path);

}  // namespace certwatch::exporter
