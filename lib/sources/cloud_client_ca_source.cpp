#include "sources/cloud_client_ca_source.hpp"

#include <nlohmann/json.hpp>
#include <utility>

#include "core/clock.hpp"
#include "core/metric_names.hpp"
#include "net/https_get.hpp"
#include "sources/cmek_source.hpp"
#include "x509/parse.hpp"

namespace certwatch::sources {
namespace {

using nlohmann::json;

// A real ClientCACertInfo is one flat object; anything far deeper is not the API.
constexpr int kMaxJsonDepth = 8;
// No status comes near this; a longer one is not the API's.
constexpr std::size_t kMaxStatusBytes = 64;
// A client CA bundle is a few certificates; more is no upload anyone made.
constexpr std::size_t kMaxCertificates = 32;

std::string where_of(const CloudClientCaFacts& facts) {
  return "the client CA of CockroachDB Cloud cluster " + facts.cluster_id;
}

}  // namespace

ClientCaParse parse_client_ca_cert_info(std::string_view body) {
  if (json_depth(body, kMaxJsonDepth) > kMaxJsonDepth) {
    return {std::nullopt,
            "response nests deeper than " + std::to_string(kMaxJsonDepth) + " levels"};
  }
  const json root = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (root.is_discarded()) return {std::nullopt, "response is not valid JSON"};
  if (!root.is_object()) return {std::nullopt, "response is not a JSON object"};
  ClientCaCertInfo info;
  const auto status = root.find("status");
  if (status == root.end() || !status->is_string() ||
      status->get_ref<const std::string&>().empty()) {
    return {std::nullopt, "response has no client CA status"};
  }
  info.status = status->get<std::string>();
  if (info.status.size() > kMaxStatusBytes) {
    return {std::nullopt, "response's status is longer than any the API defines"};
  }
  if (const auto pem = root.find("x509_pem_cert"); pem != root.end()) {
    if (pem->is_string()) {
      info.x509_pem_cert = pem->get<std::string>();
    } else if (!pem->is_null()) {
      return {std::nullopt, "response's x509_pem_cert is not a string"};
    }
  }
  return {std::move(info), {}};
}

SourceError classify_client_ca_http_status(unsigned status) {
  const std::string code = "HTTP " + std::to_string(status);
  if (status == 401 || status == 403) {
    return {ErrorReason::auth_failed,
            code +
                ": the API key was refused or its service account lacks a role that can read "
                "the client CA (CLUSTER_ADMIN or CLUSTER_OPERATOR_WRITER on this cluster); "
                "check cmek.api_key_file"};
  }
  if (status == 429) return {ErrorReason::rate_limited, code + ": rate limited by the API"};
  if (status >= 500 && status <= 599) {
    return {ErrorReason::server_error, code + ": the Cloud API failed; the next poll asks again"};
  }
  return {ErrorReason::bad_response, code + ": unexpected status"};
}

// --- CloudClientCaFacts -------------------------------------------------------------------------

std::vector<Family> CloudClientCaFacts::families() const {
  Family family{std::string(metric::kCloudClientCaStatus),
                "Status of the client CA uploaded to CockroachDB Cloud (NOT_SET, IS_SET, "
                "PENDING, FAILED), as the Cloud API reports it. Always 1."};
  family.series.push_back({{{"cluster_id", cluster_id}, {"status", status}}, 1});
  return {std::move(family)};
}

std::vector<Table> CloudClientCaFacts::tables() const {
  Table table{
      std::string(kCloudClientCaTableTitle), {"Cluster", "Status", "Certificates", "Note"}, {}};
  std::string note;
  if (not_found) {
    note = "no client CA uploaded (the API answered 404)";
  } else if (!pem_error.empty()) {
    note = pem_error;
  } else if (status == "PENDING" && pending_since) {
    note = "an update is in flight";
  }
  table.rows.push_back(
      {Cell{cluster_id, {}, true}, Cell{status}, Cell{std::to_string(certificates)}, Cell{note}});
  return {std::move(table)};
}

std::vector<Finding> CloudClientCaFacts::findings(double now) const {
  std::vector<Finding> out;
  const std::string where = where_of(*this);
  if (status == "NOT_SET" || not_found) {
    out.push_back({Condition::cloud_client_ca_not_set, cluster_id,
                   "No client CA is uploaded to CockroachDB Cloud cluster " + cluster_id +
                       ": clients cannot authenticate with certificates. If they should, upload "
                       "your client CA (POST /api/v1/clusters/" +
                       cluster_id + "/client-ca-cert); otherwise nothing to do."});
  } else if (status == "FAILED") {
    out.push_back({Condition::cloud_client_ca_failed, cluster_id,
                   "The last update of " + where +
                       " FAILED: the cluster may still trust the previous CA. Check the PEM (a "
                       "CA certificate, not a leaf) and upload it again (PATCH "
                       "/api/v1/clusters/" +
                       cluster_id + "/client-ca-cert)."});
  } else if (status == "PENDING" && pending_since &&
             now - *pending_since > static_cast<double>(pending_for.count())) {
    out.push_back({Condition::cloud_client_ca_pending, cluster_id,
                   "An update of " + where + " has been PENDING for longer than " +
                       config::format_duration(pending_for) +
                       ": check it in the CockroachDB Cloud Console, then contact Cockroach Labs "
                       "support."});
  }
  if (!pem_error.empty()) {
    out.push_back({Condition::cloud_client_ca_failed, cluster_id,
                   "The API reports " + status + " for " + where + " but its PEM " + pem_error +
                       ": its expiry cannot be watched. Upload the CA certificate again."});
  }
  return out;
}

std::vector<Notice> CloudClientCaFacts::notices() const {
  return {{"cloud client_ca " + cluster_id, status != "IS_SET",
           "client CA of cluster " + cluster_id + " is " + status +
               (not_found ? " (API: 404)" : "") + ", " + std::to_string(certificates) +
               " certificate(s)"}};
}

// --- CloudClientCaSource ------------------------------------------------------------------------

CloudClientCaSource::CloudClientCaSource(config::CmekConfig cfg, std::chrono::seconds pending_for,
                                         CloudClientCaSourceOptions options)
    : Source(std::string(kSourceCloud)),
      cfg_(std::move(cfg)),
      pending_for_(pending_for),
      options_(std::move(options)) {}

void CloudClientCaSource::from_config(const config::Config& config,
                                      std::vector<std::shared_ptr<Source>>& out) {
  if (config.cmek) {
    out.push_back(
        std::make_shared<CloudClientCaSource>(*config.cmek, config.alerting.cmek_transition_for));
  }
}

bool CloudClientCaSource::same_config(const Source& next) const {
  const auto* other = dynamic_cast<const CloudClientCaSource*>(&next);
  return other != nullptr && other->cfg_ == cfg_ && other->pending_for_ == pending_for_;
}

std::string CloudClientCaSource::resource() const {
  std::string base = cfg_.api_url;
  while (base.ends_with('/')) base.pop_back();
  return base + "/api/v1/clusters/" + cfg_.cluster_id + "/client-ca-cert";
}

double CloudClientCaSource::wall_now() const {
  if (options_.wall_clock) return options_.wall_clock();
  return unix_now();
}

PollResult CloudClientCaSource::poll() {
  const auto now = options_.now();
  if (now < not_before_) {
    const auto wait = std::chrono::duration_cast<std::chrono::seconds>(not_before_ - now);
    return PollResult::failed(last_error_.reason,
                              last_error_.message + " (no request for another " +
                                  config::format_duration(wait + std::chrono::seconds{1}) + ")");
  }
  net::HttpsGetRequest request;
  request.host = cfg_.host;
  request.port = cfg_.port;
  request.target = cfg_.base_path + "/api/v1/clusters/" + cfg_.cluster_id + "/client-ca-cert";
  request.headers = {{"Authorization", "Bearer " + cfg_.api_key},
                     {"Accept", "application/json"},
                     {"User-Agent", "crdb-certwatch"}};
  request.ca_file = cfg_.ca_file;
  request.timeout = cfg_.timeout;
  request.body_limit = options_.body_limit;
  net::HttpsGetResult outcome = net::https_get(request);
  if (outcome.error) {
    last_error_ = *outcome.error;
    return PollResult::failed(outcome.error->reason, std::move(outcome.error->message));
  }

  auto facts = std::make_shared<CloudClientCaFacts>();
  facts->cluster_id = cfg_.cluster_id;
  facts->pending_for = pending_for_;
  PollResult result;
  if (outcome.response.status == 404) {
    // No client CA was ever uploaded (an unknown cluster id fails the CMEK source, which reads
    // the same cluster): information, not an error.
    facts->status = "NOT_SET";
    facts->not_found = true;
    pending_since_.reset();
    result.facts = std::move(facts);
    return result;
  }
  if (outcome.response.status != 200) {
    SourceError error = classify_client_ca_http_status(outcome.response.status);
    if (error.reason == ErrorReason::rate_limited) {
      if (const auto wait = parse_retry_after(outcome.response.retry_after)) {
        not_before_ = now + *wait;
        error.message += " (Retry-After " + config::format_duration(*wait) + ")";
      }
    }
    last_error_ = error;
    return PollResult::failed(error.reason, std::move(error.message));
  }
  ClientCaParse parsed = parse_client_ca_cert_info(outcome.response.body);
  if (!parsed.info) {
    last_error_ = {ErrorReason::bad_response, parsed.error};
    return PollResult::failed(ErrorReason::bad_response, parsed.error);
  }
  facts->status = parsed.info->status;
  if (facts->status == "PENDING") {
    if (!pending_since_) pending_since_ = wall_now();
    facts->pending_since = pending_since_;
  } else {
    pending_since_.reset();
  }

  const std::string& pem = parsed.info->x509_pem_cert;
  if (!pem.empty()) {
    x509::BundleResult bundle = x509::parse_pem_bundle(pem);
    if (bundle.certificates.empty()) {
      facts->pem_error = bundle.error == x509::ParseError::no_certificate
                             ? "holds no CERTIFICATE block"
                             : "does not decode (" + bundle.detail.substr(0, 200) + ")";
    }
    const std::string path = resource();
    for (std::size_t i = 0; i < bundle.certificates.size() && i < kMaxCertificates; ++i) {
      CertObservation observation;
      observation.id.source = std::string(kSourceCloud);
      observation.id.cert_type = CertType::client_ca;
      observation.id.path = path;
      observation.id.index = std::to_string(bundle.indices[i]);
      observation.not_after = bundle.certificates[i].not_after;
      observation.not_before = bundle.certificates[i].not_before;
      observation.facts =
          std::make_shared<const CertificateFacts>(std::move(bundle.certificates[i]));
      result.certificates.push_back(std::move(observation));
    }
    facts->certificates = result.certificates.size();
  }
  result.facts = std::move(facts);
  return result;
}

}  // namespace certwatch::sources

namespace certwatch {
namespace {

constexpr ConditionRow kCloudClientCaNotSet{
    "cloud_client_ca_not_set", Severity::info, "CrdbCloudClientCaNotSet",
    "No client CA is uploaded: clients of this Cloud cluster cannot authenticate with "
    "certificates (only passwords or SSO).",
    "Nothing to do unless clients should use certificates; then upload your client CA: curl -X "
    "POST https://cockroachlabs.cloud/api/v1/clusters/<cluster_id>/client-ca-cert -H "
    "\"Authorization: Bearer $API_KEY\" --data '{\"x509_pem_cert\": \"<PEM>\"}' (or the Cloud "
    "Console, ccloud, Terraform cockroach_client_ca_cert)."};
constexpr ConditionRow kCloudClientCaFailed{
    "cloud_client_ca_failed", Severity::warning, "CrdbCloudClientCaFailed",
    "The client CA upload failed: the cluster may still trust the old CA, and clients issued "
    "from the new one are refused.",
    "Check that the PEM holds the CA certificate(s) only (no key, no leaf), then upload it again: "
    "curl -X PATCH https://cockroachlabs.cloud/api/v1/clusters/<cluster_id>/client-ca-cert -H "
    "\"Authorization: Bearer $API_KEY\" --data '{\"x509_pem_cert\": \"<PEM>\"}'; contact "
    "Cockroach Labs support if it fails again."};
constexpr ConditionRow kCloudClientCaPending{
    "cloud_client_ca_pending", Severity::warning, "CrdbCloudClientCaPending",
    "A client CA update has not finished in the configured time: which CA the cluster trusts "
    "is uncertain.",
    "Check the cluster's status in the CockroachDB Cloud Console; do not issue client "
    "certificates from the new CA until the status is IS_SET; contact Cockroach Labs support if "
    "it stays PENDING."};

}  // namespace

const Condition Condition::cloud_client_ca_not_set{kCloudClientCaNotSet};
const Condition Condition::cloud_client_ca_failed{kCloudClientCaFailed};
const Condition Condition::cloud_client_ca_pending{kCloudClientCaPending};

}  // namespace certwatch
