// The CMEK source: the state of the customer-managed key that wraps a CockroachDB Cloud Advanced
// cluster's data at rest, from the Cloud API (GET /api/v1/clusters/{id}/cmek).
//
// The I/O shell (CmekSource: one GET through net/https_get.hpp) is thin; what a response
// means (parse_cmek_cluster_info, classify_http_status) and how the state shows (CmekFacts) are
// pure and tested without a server. The audit report reads CmekFacts through facts_as<>.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"
#include "sources/source.hpp"

namespace certwatch::sources {

// The Cloud API's CMEKClusterInfo, as much as the daemon needs. Status values are kept as the API
// spells them (ENABLED, ROTATING, REVOKED, ...), unknown ones included; a field that is missing
// or of the wrong type is empty.
struct CmekKeyInfo {
  std::string status;
  std::string user_message;
  std::optional<double> created_at;  // unix seconds; nullopt when missing or absurd
  std::optional<double> updated_at;
  std::string type;  // spec.type: AWS_KMS, GCP_CLOUD_KMS, AZURE_KEY_VAULT
  std::string uri;   // spec.uri
  std::string auth_principal;

  friend bool operator==(const CmekKeyInfo&, const CmekKeyInfo&) = default;
};

struct CmekRegionInfo {
  std::string region;
  std::string status;
  std::vector<CmekKeyInfo> keys;

  friend bool operator==(const CmekRegionInfo&, const CmekRegionInfo&) = default;
};

struct CmekClusterInfo {
  std::string status;
  std::vector<CmekRegionInfo> regions;

  friend bool operator==(const CmekClusterInfo&, const CmekClusterInfo&) = default;
};

// The title of the status page's (and `check`'s, and the audit's) CMEK section.
inline constexpr std::string_view kCmekTableTitle = "Data-at-rest key (CMEK)";

// Status classes the alerts and findings are about.
bool cmek_status_revoked(std::string_view status);       // REVOKED, REVOKING
bool cmek_status_failed(std::string_view status);        // any *_FAILED
bool cmek_status_transitional(std::string_view status);  // ENABLING, ROTATING, DISABLING

// What the CMEK source knows, and how it shows: the four crdb_cmek_ families, the per-region and
// per-key table, findings for revoked, failed and stuck keys.
class CmekFacts final : public SourceFacts {
 public:
  std::string cluster_id;
  CmekClusterInfo info;
  // Since when (unix seconds) each key's transitional status has been seen, by
  // cmek_key_subject(): the source tracks it across polls.
  std::map<std::string, double> transitional_since;
  std::chrono::seconds transition_for{3600};  // alerting.cmek_transition_for

  std::vector<Family> families() const override;
  std::vector<Table> tables() const override;
  std::vector<Finding> findings(double now) const override;
  std::vector<Notice> notices() const override;
};

// "key <uri> in <region>": a key's subject in findings and CmekFacts::transitional_since.
std::string cmek_key_subject(const CmekRegionInfo& region, const CmekKeyInfo& key);

struct CmekParse {
  std::optional<CmekClusterInfo> info;
  std::string error;  // why not, when info is empty (never quotes the body)
};
// Parses a response body. Hostile input (not JSON, nesting deeper than a real response, wrong
// types, absurd timestamps) gives an error or empty fields, never an exception or a crash.
CmekParse parse_cmek_cluster_info(std::string_view body);

// Nesting depth of a JSON text, brackets inside strings not counted; stops counting past `limit`
// (checked before parsing a response, so a hostile one cannot cost stack). Shared with the cloud
// source.
int json_depth(std::string_view text, int limit);

// RFC 3339 ("2024-05-01T12:00:00Z", "...T12:00:00.5+02:00") -> unix seconds, for years 1970-9999.
std::optional<double> parse_rfc3339(std::string_view text);

// An HTTP status other than 200 -> reason and a message for people.
SourceError classify_http_status(unsigned status);

// A Retry-After value (delta seconds; an HTTP date is not honoured) -> seconds, bounded to a day.
std::optional<std::chrono::seconds> parse_retry_after(std::string_view value);

struct CmekSourceOptions {
  std::function<std::chrono::steady_clock::time_point()> now = std::chrono::steady_clock::now;
  std::function<double()> wall_clock;  // unix seconds; empty: the system clock
  // Upper bound of the wait after repeated server errors (never below the poll interval).
  std::chrono::seconds max_backoff{3600};
  // The largest response body read; a larger one is bad_response.
  std::uint64_t body_limit = 1024 * 1024;
};

// Thread-safety: like every Source, poll() runs on one worker at a time. It blocks for at most
// the configured timeout (connect, TLS handshake, request and response together). The API key is
// sent only in the Authorization header of this one request, never logged nor put in an error.
class CmekSource final : public Source {
 public:
  explicit CmekSource(config::CmekConfig cfg, std::chrono::seconds transition_for,
                      CmekSourceOptions options = {});
  // The registry entry: one CMEK source when the config has a `cmek:` section.
  static void from_config(const config::Config& config, std::vector<std::shared_ptr<Source>>& out);

  std::chrono::seconds interval() const override { return cfg_.poll_interval; }
  PollResult poll() override;
  bool same_config(const Source& next) const override;

 private:
  PollResult failed(SourceError error);
  double wall_now() const;

  config::CmekConfig cfg_;
  std::chrono::seconds transition_for_;
  CmekSourceOptions options_;
  // No request before this (Retry-After, server-error backoff); a poll before it fails for the
  // reason the last request did.
  std::chrono::steady_clock::time_point not_before_{};
  SourceError last_error_;
  int server_errors_in_a_row_ = 0;
  std::map<std::string, std::pair<std::string, double>> transitional_;  // subject -> status, since
};

}  // namespace certwatch::sources
