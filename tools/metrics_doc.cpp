// Writes docs/metrics.md's family table from what the code registers: a snapshot that holds
// every kind of series (certificates, checks, cross-checks, every source's own families, the
// exporter's health) is rendered by the daemon's own renderer, and each family's name, type,
// labels and help are read back from the exposition. tests/metrics_doc_test.cpp fails when the
// checked-in page and this output disagree; scripts/regen-docs.sh rewrites it.
// Usage: crdb-certwatch-metrics-doc  (the generated part, Markdown, on stdout)
#include <algorithm>
#include <cstdint>
#include <iostream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "core/metric_names.hpp"
#include "exporter/metrics.hpp"
#include "rules/rule.hpp"
#include "sources/cloud_client_ca_source.hpp"
#include "sources/cluster_source.hpp"
#include "sources/cmek_source.hpp"
#include "sources/probe_source.hpp"
#include "state/rotation.hpp"
#include "state/snapshot.hpp"

namespace certwatch {
namespace {

constexpr std::int64_t kNow = 1'800'000'000;
constexpr std::int64_t kDay = 86'400;

CertObservation certificate(const std::string& source, CertType type, std::string node_id,
                            std::string path, std::string user, bool is_ca) {
  CertObservation cert;
  cert.id = CertIdentity{source, type, std::move(node_id), std::move(path), "0", std::move(user)};
  auto facts = std::make_shared<CertificateFacts>();
  facts->subject_cn = is_ca ? "Cockroach CA" : "node";
  facts->issuer_cn = "Cockroach CA";
  facts->serial_hex = "01";
  facts->fingerprint_sha256 = std::string(64, 'a');
  facts->not_before = kNow - 100 * kDay;
  facts->not_after = kNow + 20 * kDay;
  facts->is_ca = is_ca;
  cert.not_after = facts->not_after;
  cert.not_before = facts->not_before;
  cert.facts = std::move(facts);
  return cert;
}

std::shared_ptr<const sources::PollResult> file_result() {
  auto result = std::make_shared<sources::PollResult>();
  result->source = "file";
  result->certificates.push_back(certificate("file", CertType::ca, "", "/certs/ca.crt", "", true));
  result->certificates.push_back(
      certificate("file", CertType::node, "", "/certs/node.crt", "", false));
  // One past the per-file series cap, so the overflow family shows too.
  for (std::size_t i = 0; i <= exporter::kMaxFileErrorSeries; ++i) {
    result->file_errors.push_back(
        FileError{"/certs/broken-" + std::to_string(i) + ".crt", FileErrorReason::bad_pem, ""});
  }
  result->cut["certificates"] = 1;
  return result;
}

std::shared_ptr<const sources::PollResult> cluster_result() {
  auto result = std::make_shared<sources::PollResult>();
  result->source = "cluster";
  result->certificates.push_back(certificate("cluster", CertType::node, "1", "", "", false));
  auto facts = std::make_shared<sources::ClusterFacts>();
  facts->nodes.push_back(sources::NodeInfo{"1", "db1:26257", "v24.1.0", double(kNow)});
  facts->secure = true;
  facts->cluster_id = "3f2a";
  facts->cluster_name = "prod";
  auto vars = std::make_shared<sources::NodeVarsFacts>();
  vars->nodes.push_back(
      sources::NodeVarsFacts::Node{"1", "db1:8080", std::nullopt, 0.1, true, true});
  vars->clients.push_back(sources::ClientCertificate{"app", kNow + 20 * kDay, {"1"}});
  vars->seen_by_user["app"] = 1;
  vars->errors_total[{"1", ErrorReason::timeout}] = 1;
  facts->node_vars = std::move(vars);
  result->facts = std::move(facts);
  return result;
}

std::shared_ptr<const sources::PollResult> probe_result() {
  auto result = std::make_shared<sources::PollResult>();
  result->source = "probe";
  auto facts = std::make_shared<sources::ProbeFacts>();
  sources::ProbeOutcome ok;
  ok.target.address = "db1:26257";
  ok.target.node_id = "1";
  ok.duration = 0.01;
  ok.tls_version = "TLSv1.3";
  ok.cipher = "TLS_AES_256_GCM_SHA384";
  facts->outcomes.push_back(ok);
  facts->errors_total[{"db1:26257", ErrorReason::timeout}] = 1;
  result->facts = std::move(facts);
  return result;
}

std::shared_ptr<const sources::PollResult> cmek_result() {
  auto result = std::make_shared<sources::PollResult>();
  result->source = "cmek";
  auto facts = std::make_shared<sources::CmekFacts>();
  facts->cluster_id = "3f2a";
  facts->info.status = "ENABLED";
  sources::CmekKeyInfo key;
  key.status = "ENABLED";
  key.type = "AWS_KMS";
  key.uri = "arn:aws:kms:us-east-1:000000000000:key/k";
  key.updated_at = double(kNow);
  facts->info.regions.push_back(sources::CmekRegionInfo{"us-east-1", "ENABLED", {key}});
  result->facts = std::move(facts);
  return result;
}

std::shared_ptr<const sources::PollResult> cloud_result() {
  auto result = std::make_shared<sources::PollResult>();
  result->source = "cloud";
  result->certificates.push_back(certificate("cloud", CertType::client_ca, "",
                                             "/api/v1/clusters/3f2a/client-ca-cert", "", true));
  auto facts = std::make_shared<sources::CloudClientCaFacts>();
  facts->cluster_id = "3f2a";
  facts->status = "IS_SET";
  facts->certificates = 1;
  result->facts = std::move(facts);
  return result;
}

state::Snapshot every_kind_of_series() {
  state::SnapshotInputs in;
  in.results = {file_result(), cluster_result(), probe_result(), cmek_result(), cloud_result()};
  for (const auto& result : in.results) {
    state::SourceHealth health;
    health.source = result->source;
    health.polled = true;
    health.up = true;
    health.last_success = health.last_poll = double(kNow);
    health.errors_total[ErrorReason::timeout] = 1;
    health.overruns = 1;
    health.truncated_total["certificates"] = 1;
    in.health.push_back(std::move(health));
  }
  in.rules = rules::default_rules();
  in.build = state::BuildInfo{"0.0.0", "0000000", "OpenSSL 3"};
  state::Snapshot s = *state::make_snapshot(in, double(kNow));
  // What cross-checks, checks and the rotation tracker would add, so their families render.
  const CertObservation& ca = *s.certificates.at(0);
  const CertObservation& node = *s.certificates.at(1);
  s.states.at(1).managed_by = "cert-manager";
  s.states.at(1).renewal_expected = kNow - kDay;
  s.check_failures.push_back(rules::CheckFailure{node.id, "san_missing", Severity::warning, ""});
  s.ca_usage.push_back(rules::CaUsage{&ca, 1, false});
  s.reload_pending.push_back(
      rules::ReloadPending{"1", CertType::node, "/certs/node.crt", kNow + 90 * kDay, kNow});
  s.served_mismatch.push_back(rules::ServedMismatch{"1", "db1:26257", "disk", kNow, kNow + kDay});
  auto rotations = std::make_shared<state::RotationRecord>();
  rotations->series.push_back(state::RotationSeries{node.id, double(kNow - kDay), 1});
  s.rotations = std::move(rotations);
  return s;
}

struct FamilyDoc {
  std::string type;
  std::string help;
  std::vector<std::string> labels;  // in order of first appearance
};

// Reads HELP, TYPE and label names back from a text exposition, families in order.
std::vector<std::pair<std::string, FamilyDoc>> families_of(const std::string& text) {
  std::vector<std::pair<std::string, FamilyDoc>> out;
  std::map<std::string, std::size_t> index;
  const auto entry = [&](const std::string& name) -> FamilyDoc& {
    auto [it, inserted] = index.emplace(name, out.size());
    if (inserted) out.emplace_back(name, FamilyDoc{});
    return out[it->second].second;
  };
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.starts_with("# HELP ") || line.starts_with("# TYPE ")) {
      const std::string rest = line.substr(7);
      const auto space = rest.find(' ');
      FamilyDoc& doc = entry(rest.substr(0, space));
      (line[2] == 'H' ? doc.help : doc.type) = rest.substr(space + 1);
      continue;
    }
    const auto brace = line.find('{');
    if (line.empty() || brace == std::string::npos) continue;
    FamilyDoc& doc = entry(line.substr(0, brace));
    std::size_t at = brace + 1;
    while (at < line.size() && line[at] != '}') {
      const auto eq = line.find('=', at);
      const std::string label = line.substr(at, eq - at);
      if (std::find(doc.labels.begin(), doc.labels.end(), label) == doc.labels.end()) {
        doc.labels.push_back(label);
      }
      // Skip the quoted value (escapes: \\ \" \n).
      at = eq + 2;
      while (at < line.size() && line[at] != '"') at += line[at] == '\\' ? 2 : 1;
      at += 1;
      if (at < line.size() && line[at] == ',') ++at;
    }
  }
  return out;
}

std::string cell(const std::string& text) {
  std::string out;
  for (char c : text) out += c == '|' ? std::string("\\|") : std::string(1, c);
  return out;
}

}  // namespace
}  // namespace certwatch

int main() {
  using namespace certwatch;  // NOLINT: main of a one-function tool
  const state::Snapshot snapshot = every_kind_of_series();
  const std::string text =
      exporter::render_metrics(snapshot).text + exporter::render_http_refusals(0, 0);
  std::cout << "| metric | type | labels | help |\n|---|---|---|---|\n";
  for (const auto& [name, doc] : families_of(text)) {
    std::string labels;
    for (const std::string& label : doc.labels)
      labels += (labels.empty() ? "`" : ", `") + label + "`";
    std::cout << "| `" << name << "` | " << doc.type << " | " << (labels.empty() ? "-" : labels)
              << " | " << cell(doc.help) << " |\n";
  }
  return 0;
}
