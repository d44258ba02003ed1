// The cloud source: the client CA a CockroachDB Cloud Advanced customer uploaded for certificate
// authentication (GET /api/v1/clusters/{id}/client-ca-cert), whose expiry is the customer's duty
// like the CMEK key's. It reuses the `cmek:` section's API settings (URL, key, cluster id, CA file,
// timeout, interval) and leaves the CMEK source, its section and its metrics as they are.
//
// Each certificate of the uploaded PEM is a certificate like any other: source="cloud",
// cert_type="client_ca", path = the API resource it was read from, index = its position in the
// PEM (a CA rotation uploads a bundle, new CA first). The expiry rules, checks and alerts apply.
// What the API says of the upload (NOT_SET, IS_SET, PENDING, FAILED) is CloudClientCaFacts.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"
#include "sources/source.hpp"

namespace certwatch::sources {

inline constexpr std::string_view kSourceCloud = "cloud";
// The title of the status page's (and `check`'s, and the audit's) client CA section.
inline constexpr std::string_view kCloudClientCaTableTitle = "Client CA (CockroachDB Cloud)";

// The Cloud API's ClientCACertInfo (cockroach-cloud-sdk-go ClientCACertStatus): status is kept
// as the API spells it, unknown values included; x509_pem_cert is the uploaded PEM.
struct ClientCaCertInfo {
  std::string status;
  std::string x509_pem_cert;

  friend bool operator==(const ClientCaCertInfo&, const ClientCaCertInfo&) = default;
};

struct ClientCaParse {
  std::optional<ClientCaCertInfo> info;
  std::string error;  // why not, when info is empty (never quotes the body)
};
// Parses a response body. Hostile input (not JSON, too deep, wrong types, a status longer than
// any real one) gives an error, never an exception.
ClientCaParse parse_client_ca_cert_info(std::string_view body);

// What the cloud source knows besides the certificates: the upload's status, since when it has
// been PENDING, why the PEM gave no certificate.
class CloudClientCaFacts final : public SourceFacts {
 public:
  std::string cluster_id;
  // NOT_SET, IS_SET, PENDING, FAILED (or what else the API says); NOT_SET also when the API
  // answered 404 (no client CA was ever uploaded).
  std::string status;
  bool not_found = false;  // the API answered 404
  std::size_t certificates = 0;
  std::string pem_error;                   // the PEM was there but held no usable certificate
  std::optional<double> pending_since;     // unix seconds, while PENDING
  std::chrono::seconds pending_for{3600};  // alerting.cmek_transition_for

  std::vector<Family> families() const override;
  std::vector<Table> tables() const override;
  std::vector<Finding> findings(double now) const override;
  std::vector<Notice> notices() const override;
};

// An HTTP status other than 200 and 404 -> reason and a message that says what to do.
SourceError classify_client_ca_http_status(unsigned status);

struct CloudClientCaSourceOptions {
  std::function<std::chrono::steady_clock::time_point()> now = std::chrono::steady_clock::now;
  std::function<double()> wall_clock;  // unix seconds; empty: the system clock
  std::uint64_t body_limit = 1024 * 1024;
};

// Thread-safety: like every Source, poll() runs on one worker at a time; it blocks for at most
// the cmek section's timeout. The API key goes only into this request's Authorization header.
class CloudClientCaSource final : public Source {
 public:
  CloudClientCaSource(config::CmekConfig cfg, std::chrono::seconds pending_for,
                      CloudClientCaSourceOptions options = {});
  // The registry entry: one cloud source when the config has a `cmek:` section.
  static void from_config(const config::Config& config, std::vector<std::shared_ptr<Source>>& out);

  std::chrono::seconds interval() const override { return cfg_.poll_interval; }
  PollResult poll() override;
  bool same_config(const Source& next) const override;

  // The `path` label of the certificates: the API resource they were read from.
  std::string resource() const;

 private:
  double wall_now() const;

  config::CmekConfig cfg_;
  std::chrono::seconds pending_for_;
  CloudClientCaSourceOptions options_;
  std::chrono::steady_clock::time_point not_before_{};  // Retry-After
  SourceError last_error_;
  std::optional<double> pending_since_;
};

}  // namespace certwatch::sources
