// Snapshot -> Prometheus metric families (METRICS.md) -> text exposition.
#pragma once

#include <prometheus/metric_family.h>

#include <string>
#include <vector>

namespace certwatch::exporter {

struct Snapshot;

std::vector<prometheus::MetricFamily> metric_families(const Snapshot& snapshot);
std::string render_text(const std::vector<prometheus::MetricFamily>& families);

}  // namespace certwatch::exporter
