#include "exporter/snapshot.hpp"

#include <algorithm>
#include <cmath>
#include <span>

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

namespace {

// Whether `previous` exported exactly these certificates in exactly these states, so its
// per-certificate text is this snapshot's too.
bool same_certificates(const Snapshot& next, const Snapshot& previous) {
  if (next.states != previous.states) return false;
  return std::equal(
      next.certificates.begin(), next.certificates.end(), previous.certificates.begin(),
      previous.certificates.end(),
      [](const CertObservation* a, const CertObservation* b) { return a == b || *a == *b; });
}

}  // namespace

std::shared_ptr<const Snapshot> make_snapshot(const SnapshotInputs& inputs, double now,
                                              const Snapshot* previous) {
  auto snapshot = std::make_shared<Snapshot>();
  snapshot->generated_at = now;
  snapshot->results = inputs.results;
  std::span<const CertObservation> file_certs;
  std::span<const CertObservation> cluster_certs;
  std::size_t total = 0;
  for (const SharedPollResult& result : inputs.results) total += result->certificates.size();
  snapshot->certificates.reserve(total);
  for (const SharedPollResult& result : inputs.results) {
    for (const CertObservation& cert : result->certificates) {
      snapshot->certificates.push_back(&cert);
    }
    for (const FileError& error : result->file_errors) snapshot->file_errors.push_back(&error);
    if (result->cluster) snapshot->cluster = &*result->cluster;
    if (result->kind == SourceKind::file) {
      file_certs = result->certificates;
    } else if (result->kind == SourceKind::cluster) {
      cluster_certs = result->certificates;
    }
  }
  const auto now_seconds = static_cast<std::int64_t>(std::floor(now));
  snapshot->states.reserve(snapshot->certificates.size());
  for (const CertObservation* cert : snapshot->certificates) {
    snapshot->states.push_back(rules::evaluate(*cert, inputs.rules, now_seconds));
  }
  if (snapshot->cluster) {
    snapshot->reload_pending =
        rules::find_reload_pending(file_certs, cluster_certs, snapshot->cluster->local_node_id);
  }
  snapshot->health = inputs.health;
  snapshot->config_reload_ok = inputs.config_reload_ok;
  snapshot->config_reload_success_at = inputs.config_reload_success_at;
  snapshot->build = inputs.build;
  std::optional<std::string_view> reusable;
  if (previous != nullptr && same_certificates(*snapshot, *previous)) {
    reusable = std::string_view(previous->metrics_text).substr(0, previous->certificate_text_size);
  }
  RenderedText text = render_metrics(*snapshot, reusable);
  snapshot->metrics_text = std::move(text.text);
  snapshot->certificate_text_size = text.certificate_text_size;
  return snapshot;
}

}  // namespace certwatch::exporter
