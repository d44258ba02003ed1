#include "exporter/metrics.hpp"

#include <prometheus/metric_family.h>
#include <prometheus/text_serializer.h>

#include <algorithm>
#include <map>
#include <sstream>

#include "core/caps.hpp"
#include "core/metric_names.hpp"
#include "core/text.hpp"
#include "exporter/compress.hpp"
#include "state/snapshot.hpp"

namespace certwatch::exporter {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;
using Labels = std::vector<ClientMetric::Label>;

constexpr std::string_view kCached =
    " Cached from the last successful poll of its source; while a source is down its last good "
    "data stays (see crdb_cert_source_up).";

using state::Snapshot;

Labels identity_labels(const CertIdentity& id) {
  return {{"source", id.source},   {"cert_type", std::string(to_string(id.cert_type))},
          {"node_id", id.node_id}, {"path", id.path},
          {"index", id.index},     {"user", id.user}};
}

ClientMetric gauge(Labels labels, double value) {
  ClientMetric metric;
  metric.label = std::move(labels);
  metric.gauge.value = value;
  return metric;
}

ClientMetric counter(Labels labels, double value) {
  ClientMetric metric;
  metric.label = std::move(labels);
  metric.counter.value = value;
  return metric;
}

MetricFamily family(std::string_view name, std::string_view help,
                    MetricType type = MetricType::Gauge, bool cached = false) {
  std::string text(help);
  if (cached) text += kCached;
  return MetricFamily{std::string(name), std::move(text), type, {}};
}

// A source's own family, in prometheus-cpp's model.
MetricFamily from_source(const Family& source) {
  const bool is_counter = source.type == Family::Type::counter;
  MetricFamily out = family(source.name, source.help,
                            is_counter ? MetricType::Counter : MetricType::Gauge, source.cached);
  out.metric.reserve(source.series.size());
  for (const Series& series : source.series) {
    Labels labels;
    labels.reserve(series.labels.size());
    for (const auto& [name, value] : series.labels) labels.push_back({name, value});
    out.metric.push_back(is_counter ? counter(std::move(labels), series.value)
                                    : gauge(std::move(labels), series.value));
  }
  return out;
}

// Writes families into one text exposition as they are made; a family without series says
// nothing and is left out. Every label value of every family passes here, and Prometheus
// rejects a whole scrape over one label value that is not UTF-8 (a file name is any bytes), so
// this is where label values are made valid UTF-8.
class TextWriter {
 public:
  TextWriter(std::string_view prefix, std::size_t expected_size) {
    std::string buffer;
    buffer.reserve(std::max(expected_size, prefix.size()) + 4096);
    buffer.append(prefix);
    out_ = std::ostringstream(std::move(buffer), std::ios::out | std::ios::ate);
    one_.resize(1);
  }

  void add(MetricFamily&& family) {
    if (family.metric.empty()) return;
    for (ClientMetric& metric : family.metric) {
      for (ClientMetric::Label& label : metric.label) {
        escape_invalid_utf8_in_place(label.value);
        caps::bound_label_value(label.value);  // core/caps.hpp: no value past its cap
      }
    }
    one_[0] = std::move(family);
    serializer_.Serialize(out_, one_);
    one_[0] = MetricFamily{};
  }

  std::size_t size() { return static_cast<std::size_t>(out_.tellp()); }
  std::string take() && { return std::move(out_).str(); }

 private:
  std::ostringstream out_;
  prometheus::TextSerializer serializer_;
  std::vector<MetricFamily> one_;
};

// One family at a time: each holds one series per certificate.
void add_certificate_families(const Snapshot& s, TextWriter& out) {
  {
    auto not_after = family(metric::kNotAfter, "Certificate notAfter (expiry) as unix seconds.",
                            MetricType::Gauge, true);
    for (const CertObservation* cert : s.certificates) {
      if (cert->not_after && !cert->load_failed) {
        not_after.metric.push_back(
            gauge(identity_labels(cert->id), static_cast<double>(*cert->not_after)));
      }
    }
    out.add(std::move(not_after));
  }
  {
    auto not_before = family(metric::kNotBefore,
                             "Certificate notBefore as unix seconds (file and probe sources).",
                             MetricType::Gauge, true);
    for (const CertObservation* cert : s.certificates) {
      if (cert->not_before && !cert->load_failed) {
        not_before.metric.push_back(
            gauge(identity_labels(cert->id), static_cast<double>(*cert->not_before)));
      }
    }
    out.add(std::move(not_before));
  }
  {
    auto info = family(metric::kInfo,
                       "Certificate identity: subject and issuer CN, serial (lowercase hex), "
                       "SHA-256 fingerprint, CA flag. Always 1.",
                       MetricType::Gauge, true);
    for (const CertObservation* cert : s.certificates) {
      if (!cert->facts) continue;
      Labels labels = identity_labels(cert->id);
      labels.push_back({"subject_cn", cert->facts->subject_cn});
      labels.push_back({"issuer_cn", cert->facts->issuer_cn});
      labels.push_back({"serial", cert->facts->serial_hex});
      labels.push_back({"fingerprint_sha256", cert->facts->fingerprint_sha256});
      labels.push_back({"is_ca", cert->facts->is_ca ? "true" : "false"});
      info.metric.push_back(gauge(std::move(labels), 1));
    }
    out.add(std::move(info));
  }
  {
    auto state = family(metric::kExpiryState,
                        "Current state of each certificate under the rotation rules: exactly one "
                        "series per certificate, always 1; the action and severity labels say "
                        "what to do. Evaluated at the last poll.",
                        MetricType::Gauge, true);
    for (std::size_t i = 0; i < s.certificates.size(); ++i) {
      Labels labels = identity_labels(s.certificates[i]->id);
      labels.push_back({"action", s.states[i].action});
      labels.push_back({"severity", std::string(to_string(s.states[i].severity))});
      state.metric.push_back(gauge(std::move(labels), 1));
    }
    out.add(std::move(state));
  }
  {
    auto renewal = family(metric::kRenewalExpected,
                          "When the automation that manages the certificate (managed_by, the "
                          "automation entry's name) should renew it: notAfter - renew_before, "
                          "unix seconds. Managed certificates only.",
                          MetricType::Gauge, true);
    for (std::size_t i = 0; i < s.certificates.size(); ++i) {
      const rules::CertState& state = s.states[i];
      if (!state.renewal_expected) continue;
      Labels labels = identity_labels(s.certificates[i]->id);
      labels.push_back({"managed_by", state.managed_by});
      renewal.metric.push_back(
          gauge(std::move(labels), static_cast<double>(*state.renewal_expected)));
    }
    out.add(std::move(renewal));
  }
}

// Rotation evidence: what the daemon's tracker saw (the journal's history included).
void add_rotation_families(const Snapshot& s, TextWriter& out) {
  if (!s.rotations) return;
  auto last = family(metric::kLastRotation,
                     "When a new certificate was last seen at this identity (index 0 of a leaf "
                     "file; per node and type for the cluster and probe sources), unix seconds; "
                     "kept across restarts by the rotation journal.");
  auto total =
      family(metric::kRotations, "Rotations seen at this identity since the process started.",
             MetricType::Counter);
  for (const state::RotationSeries& series : s.rotations->series) {
    last.metric.push_back(gauge(identity_labels(series.id), series.last_rotation));
    total.metric.push_back(
        counter(identity_labels(series.id), static_cast<double>(series.rotations)));
  }
  out.add(std::move(last));
  out.add(std::move(total));
}

// The failing posture checks and the CA rotation progress.
void add_check_families(const Snapshot& s, TextWriter& out) {
  auto failed = family(metric::kCheckFailed,
                       "1 for each failing posture check of each certificate (check, severity, "
                       "detail); absent while the check passes. Evaluated at the last poll.",
                       MetricType::Gauge, true);
  for (const rules::CheckFailure& f : s.check_failures) {
    Labels labels = identity_labels(f.id);
    labels.push_back({"check", f.check});
    labels.push_back({"severity", std::string(to_string(f.severity))});
    labels.push_back({"detail", f.detail});
    failed.metric.push_back(gauge(std::move(labels), 1));
  }
  out.add(std::move(failed));
  auto issued = family(metric::kCaIssued,
                       "How many of the certificates read verify through this CA (itself not "
                       "counted). In a combined CA bundle, the old CA at 0 can be removed.",
                       MetricType::Gauge, true);
  for (const rules::CaUsage& usage : s.ca_usage) {
    issued.metric.push_back(
        gauge(identity_labels(usage.ca->id), static_cast<double>(usage.issued)));
  }
  out.add(std::move(issued));
}

// The sources' own families, then the cross-checks between sources.
void add_source_families(const Snapshot& s, TextWriter& out) {
  for (const Family& source_family : s.families) out.add(from_source(source_family));
  auto pending = family(metric::kReloadPending,
                        "1 when the local node's certificate on disk differs from what the node "
                        "reports it has loaded: replaced on disk, not reloaded. Send SIGHUP to the "
                        "cockroach process. Absent otherwise.",
                        MetricType::Gauge, true);
  for (const rules::ReloadPending& p : s.reload_pending) {
    pending.metric.push_back(gauge({{"node_id", p.node_id},
                                    {"cert_type", std::string(to_string(p.cert_type))},
                                    {"path", p.path}},
                                   1));
  }
  out.add(std::move(pending));
  auto mismatch = family(metric::kServedMismatch,
                         "1 when the leaf a node serves (probe source) differs from this host's "
                         "node.crt (against=disk: restart or SIGHUP the node) or from the expiry "
                         "the node reports (against=cluster). Absent otherwise.",
                         MetricType::Gauge, true);
  for (const rules::ServedMismatch& m : s.served_mismatch) {
    mismatch.metric.push_back(
        gauge({{"node_id", m.node_id}, {"target", m.target}, {"against", m.against}}, 1));
  }
  out.add(std::move(mismatch));
}

void add_file_error_family(const Snapshot& s, TextWriter& out) {
  auto errors = family(metric::kFileError,
                       "1 per certificate file that could not be used in the last poll, by reason.",
                       MetricType::Gauge, true);
  // One series per file up to kMaxFileErrorSeries, the first by path (the same files from poll
  // to poll); the rest counted by reason, so 200,000 empty .crt files cost a few series.
  std::vector<const FileError*> shown(s.file_errors.begin(), s.file_errors.end());
  std::map<std::string, double> dropped;
  if (shown.size() > kMaxFileErrorSeries) {
    const auto by_path = [](const FileError* a, const FileError* b) { return a->path < b->path; };
    std::nth_element(shown.begin(), shown.begin() + kMaxFileErrorSeries, shown.end(), by_path);
    for (auto it = shown.begin() + kMaxFileErrorSeries; it != shown.end(); ++it) {
      dropped[std::string(to_string((*it)->reason))] += 1;
    }
    shown.resize(kMaxFileErrorSeries);
    std::sort(shown.begin(), shown.end(), by_path);
  }
  for (const FileError* error : shown) {
    errors.metric.push_back(
        gauge({{"path", error->path}, {"reason", std::string(to_string(error->reason))}}, 1));
  }
  out.add(std::move(errors));
  auto over_cap = family(metric::kFileErrorsDropped,
                         "Files that could not be used in the last poll beyond the " +
                             std::to_string(kMaxFileErrorSeries) + " shown in " +
                             std::string(metric::kFileError) + ", by reason. Absent when none.",
                         MetricType::Gauge, true);
  for (const auto& [reason, count] : dropped) {
    over_cap.metric.push_back(gauge({{"reason", reason}}, count));
  }
  out.add(std::move(over_cap));
}

void add_exporter_families(const Snapshot& s, TextWriter& out) {
  auto up = family(metric::kSourceUp, "1 when the last poll of the source succeeded.");
  auto last_success =
      family(metric::kSourceLastSuccess, "Unix time of the last successful poll of the source.");
  auto duration = family(metric::kSourceDuration, "How long the last poll of the source took.");
  auto errors =
      family(metric::kSourceErrors, "Failed polls of the source, by reason.", MetricType::Counter);
  auto overruns = family(metric::kSourceOverruns,
                         "Polls of the source still running when their interval had passed.",
                         MetricType::Counter);
  auto truncated =
      family(metric::kSourceTruncated,
             "Successful polls of the source whose result a cap cut (docs/metrics.md), "
             "by the kind of cap in `limit`; what the last poll lost is "
             "crdb_cert_source_items_cut.",
             MetricType::Counter);
  for (const state::SourceHealth& h : s.health) {
    const std::string& source = h.source;
    up.metric.push_back(gauge({{"source", source}}, h.up ? 1 : 0));
    if (h.last_success > 0)
      last_success.metric.push_back(gauge({{"source", source}}, h.last_success));
    if (h.polled) duration.metric.push_back(gauge({{"source", source}}, h.last_duration));
    overruns.metric.push_back(counter({{"source", source}}, static_cast<double>(h.overruns)));
    for (const auto& [limit, count] : h.truncated_total) {
      truncated.metric.push_back(
          counter({{"source", source}, {"limit", limit}}, static_cast<double>(count)));
    }
    for (const auto& [reason, count] : h.errors_total) {
      errors.metric.push_back(
          counter({{"source", source}, {"reason", std::string(to_string(reason))}},
                  static_cast<double>(count)));
    }
  }
  auto reload_ok =
      family(metric::kConfigReloadSuccessful,
             "0 after a rejected configuration reload (the old config stays in force).");
  reload_ok.metric.push_back(gauge({}, s.config_reload_ok ? 1 : 0));
  auto reload_at = family(metric::kConfigReloadTimestamp,
                          "Unix time of the last successful configuration load.");
  reload_at.metric.push_back(gauge({}, s.config_reload_success_at));
  auto build =
      family(metric::kBuildInfo,
             "Version, git revision and OpenSSL version of the running exporter. Always 1.");
  build.metric.push_back(gauge({{"version", s.build.version},
                                {"revision", s.build.revision},
                                {"openssl_version", s.build.openssl_version}},
                               1));
  for (auto* f : {&up, &last_success, &duration, &errors, &overruns, &truncated, &reload_ok,
                  &reload_at, &build}) {
    out.add(std::move(*f));
  }
}

}  // namespace

RenderedText render_metrics(const Snapshot& snapshot,
                            std::optional<std::string_view> certificate_text) {
  // About 900 bytes per certificate (four series); reserving once avoids regrowing the text.
  TextWriter out(certificate_text.value_or(""), snapshot.certificates.size() * 1024 + 16 * 1024);
  if (!certificate_text) add_certificate_families(snapshot, out);
  RenderedText rendered;
  rendered.certificate_text_size = out.size();
  add_check_families(snapshot, out);
  add_rotation_families(snapshot, out);
  add_source_families(snapshot, out);
  add_file_error_family(snapshot, out);
  add_exporter_families(snapshot, out);
  rendered.text = std::move(out).take();
  return rendered;
}

const std::string& Exposition::gzip() const {
  std::call_once(gzip_once_, [this] { gzip_ = gzip_compress(text); });
  return gzip_;
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

std::shared_ptr<const Exposition> make_exposition(std::shared_ptr<const Snapshot> snapshot,
                                                  const Exposition* previous) {
  auto exposition = std::make_shared<Exposition>();
  std::optional<std::string_view> reusable;
  if (previous != nullptr && previous->snapshot &&
      same_certificates(*snapshot, *previous->snapshot)) {
    reusable = std::string_view(previous->text).substr(0, previous->certificate_text_size);
  }
  RenderedText rendered = render_metrics(*snapshot, reusable);
  exposition->text = std::move(rendered.text);
  exposition->certificate_text_size = rendered.certificate_text_size;
  exposition->snapshot = std::move(snapshot);
  return exposition;
}

std::string render_http_refusals(std::uint64_t auth_queue_full, std::uint64_t connection_limit) {
  auto refused = family(metric::kHttpRequestsRefused,
                        "Requests and connections the HTTP endpoint refused instead of serving, "
                        "by reason: auth_queue_full (too many password checks pending), "
                        "connection_limit (every connection slot busy answering a request).",
                        MetricType::Counter);
  refused.metric = {
      counter({{"reason", "auth_queue_full"}}, static_cast<double>(auth_queue_full)),
      counter({{"reason", "connection_limit"}}, static_cast<double>(connection_limit))};
  TextWriter out({}, 512);
  out.add(std::move(refused));
  return std::move(out).take();
}

}  // namespace certwatch::exporter
