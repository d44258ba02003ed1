// A strict reader of the Prometheus text exposition format (version 0.0.4), for the bodies a
// CockroachDB node serves on /_status/vars. Every line is checked; only the samples of the
// families the caller names are kept. A body that is not the format (an HTML page, JSON, bytes cut
// mid-line, a hostile flood) is an error value naming the line, never a crash and never a partial
// result. Pure: a string in, values out.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/report.hpp"

namespace certwatch::sources {

struct PromSample {
  std::string name;
  LabelPairs labels;  // in the order written, values unescaped
  double value = 0;

  friend bool operator==(const PromSample&, const PromSample&) = default;
};

// What one body may cost. Past a limit the body is refused (an error), not cut: a truncated view
// of a node could hide the user whose certificate expires first.
struct PromLimits {
  std::size_t max_line_bytes = 64 * 1024;
  std::size_t max_labels = 32;                // per sample
  std::size_t max_label_value_bytes = 1024;   // SQL user names are at most 63 bytes
  std::size_t max_kept_samples = 100 * 1000;  // of the kept families
};

struct PromParse {
  std::optional<std::string> error;        // "line 12: ..."; when set, the rest is empty
  std::vector<PromSample> samples;         // of the kept families, in body order
  std::vector<std::string> families_seen;  // kept families with a HELP, TYPE or sample line
  std::size_t lines = 0;
};

// `keep` names whole metric names (a sample's name must equal one to be kept; HELP and TYPE lines
// name the family). The last line must end in a newline: a body cut at the byte limit or by a
// dropped connection is refused as truncated.
PromParse parse_prom_text(std::string_view body, const std::vector<std::string_view>& keep,
                          const PromLimits& limits = {});

}  // namespace certwatch::sources
