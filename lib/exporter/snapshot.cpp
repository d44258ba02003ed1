#include "exporter/snapshot.hpp"

#include <algorithm>
#include <cmath>

#include "exporter/compress.hpp"
#include "exporter/metrics.hpp"

namespace certwatch::exporter {

bool Snapshot::ready() const {
  return std::all_of(health.begin(), health.end(), [](const SourceHealth& h) { return h.polled; });
}

const std::string& Snapshot::metrics_gzip() const {
  std::call_once(gzip_once_, [this] { metrics_gzip_ = gzip_compress(metrics_text); });
  return metrics_gzip_;
}

Severity Snapshot::worst_severity() const {
  Severity worst = Severity::none;
  for (const rules::CertState& state : states) worst = std::max(worst, state.severity);
  return worst;
}

std::shared_ptr<const Snapshot> make_snapshot(const SnapshotInputs& inputs, double now) {
  auto snapshot = std::make_shared<Snapshot>();
  snapshot->generated_at = now;
  std::vector<CertObservation> file_certs;
  std::vector<CertObservation> cluster_certs;
  for (const sources::PollResult& result : inputs.results) {
    snapshot->certificates.insert(snapshot->certificates.end(), result.certificates.begin(),
                                  result.certificates.end());
    snapshot->file_errors.insert(snapshot->file_errors.end(), result.file_errors.begin(),
                                 result.file_errors.end());
    if (result.cluster) snapshot->cluster = result.cluster;
    if (result.kind == SourceKind::file) {
      file_certs.insert(file_certs.end(), result.certificates.begin(), result.certificates.end());
    } else if (result.kind == SourceKind::cluster) {
      cluster_certs.insert(cluster_certs.end(), result.certificates.begin(),
                           result.certificates.end());
    }
  }
  const auto now_seconds = static_cast<std::int64_t>(std::floor(now));
  snapshot->states.reserve(snapshot->certificates.size());
  for (const CertObservation& cert : snapshot->certificates) {
    snapshot->states.push_back(rules::evaluate(cert, inputs.rules, now_seconds));
  }
  if (snapshot->cluster) {
    snapshot->reload_pending =
        rules::find_reload_pending(file_certs, cluster_certs, snapshot->cluster->local_node_id);
  }
  snapshot->health = inputs.health;
  snapshot->config_reload_ok = inputs.config_reload_ok;
  snapshot->config_reload_success_at = inputs.config_reload_success_at;
  snapshot->build = inputs.build;
  snapshot->metrics_text = render_text(metric_families(*snapshot));
  return snapshot;
}

}  // namespace certwatch::exporter
