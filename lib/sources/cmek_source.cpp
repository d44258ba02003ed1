#include "sources/cmek_source.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <nlohmann/json.hpp>
#include <set>
#include <utility>

#include "core/clock.hpp"
#include "core/metric_names.hpp"
#include "net/https_get.hpp"

namespace certwatch::sources {
namespace {

using nlohmann::json;

// A real CMEKClusterInfo nests four levels (object, region list, region, key list, key, spec);
// anything far deeper is not the API, and parsing it would only cost stack and memory.
constexpr int kMaxJsonDepth = 32;
// No status, region or URI comes near this; a longer string is cut (at a character boundary) so a
// hostile response cannot bloat every scrape.
constexpr std::size_t kMaxFieldBytes = 2048;
constexpr std::chrono::seconds kMaxRetryAfter{24 * 3600};
constexpr std::chrono::seconds kInitialBackoff{30};

// Cuts at most kMaxFieldBytes, never inside a UTF-8 sequence (the parser already checked the
// encoding).
std::string bounded(std::string text) {
  if (text.size() <= kMaxFieldBytes) return text;
  std::size_t end = kMaxFieldBytes;
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
  text.resize(end);
  return text;
}

// The string member `key` of `object`; empty when it is missing or not a string.
std::string text_of(const json& object, std::string_view key) {
  if (!object.is_object()) return {};
  const auto it = object.find(key);
  if (it == object.end() || !it->is_string()) return {};
  return bounded(it->get<std::string>());
}

// The array member `key` of `object`; empty when missing or not an array.
const json& array_of(const json& object, std::string_view key) {
  static const json empty = json::array();
  if (!object.is_object()) return empty;
  const auto it = object.find(key);
  return it != object.end() && it->is_array() ? *it : empty;
}

CmekKeyInfo key_of(const json& item) {
  CmekKeyInfo key;
  key.status = text_of(item, "status");
  key.user_message = text_of(item, "user_message");
  key.created_at = parse_rfc3339(text_of(item, "created_at"));
  key.updated_at = parse_rfc3339(text_of(item, "updated_at"));
  if (item.is_object()) {
    if (const auto spec = item.find("spec"); spec != item.end()) {
      key.type = text_of(*spec, "type");
      key.uri = text_of(*spec, "uri");
      key.auth_principal = text_of(*spec, "auth_principal");
    }
  }
  return key;
}

bool digits_at(std::string_view text, std::size_t pos, std::size_t count, int& out) {
  if (pos + count > text.size()) return false;
  const auto* begin = text.data() + pos;
  const auto [end, error] = std::from_chars(begin, begin + count, out);
  return error == std::errc() && end == begin + count;
}

// The label set of a series, to keep one series per label set whatever the response repeats.
class SeriesSet {
 public:
  explicit SeriesSet(Family& family) : family_(family) {}
  void add(LabelPairs labels, double value) {
    if (seen_.insert(labels).second) family_.series.push_back({std::move(labels), value});
  }

 private:
  Family& family_;
  std::set<LabelPairs> seen_;
};

std::string key_where(const CmekRegionInfo& region, const CmekKeyInfo& key) {
  return "CMEK key " + (key.uri.empty() ? std::string("(no uri)") : key.uri) + " in region " +
         (region.region.empty() ? std::string("(unnamed)") : region.region);
}

// --- The HTTPS exchange -------------------------------------------------------------------------

net::HttpsGetResult fetch(const config::CmekConfig& cfg, std::uint64_t body_limit) {
  net::HttpsGetRequest request;
  request.host = cfg.host;
  request.port = cfg.port;
  request.target = cfg.base_path + "/api/v1/clusters/" + cfg.cluster_id + "/cmek";
  request.headers = {{"Authorization", "Bearer " + cfg.api_key},
                     {"Accept", "application/json"},
                     {"User-Agent", "crdb-certwatch"}};
  request.ca_file = cfg.ca_file;
  request.timeout = cfg.timeout;
  request.body_limit = body_limit;
  return net::https_get(request);
}

}  // namespace

// --- Pure parts ---------------------------------------------------------------------------------

// Nesting depth of a JSON text, brackets inside strings not counted; stops counting past `limit`.
int json_depth(std::string_view text, int limit) {
  int depth = 0;
  int deepest = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < text.size() && deepest <= limit; ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      deepest = std::max(deepest, ++depth);
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return deepest;
}

bool cmek_status_revoked(std::string_view status) {
  return status == "REVOKED" || status == "REVOKING";
}
bool cmek_status_failed(std::string_view status) { return status.ends_with("_FAILED"); }
bool cmek_status_transitional(std::string_view status) {
  return status == "ENABLING" || status == "ROTATING" || status == "DISABLING";
}

std::optional<double> parse_rfc3339(std::string_view text) {
  // YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  if (text.size() < 20 || !digits_at(text, 0, 4, year) || text[4] != '-' ||
      !digits_at(text, 5, 2, month) || text[7] != '-' || !digits_at(text, 8, 2, day) ||
      (text[10] != 'T' && text[10] != 't') || !digits_at(text, 11, 2, hour) || text[13] != ':' ||
      !digits_at(text, 14, 2, minute) || text[16] != ':' || !digits_at(text, 17, 2, second)) {
    return std::nullopt;
  }
  std::size_t pos = 19;
  double fraction = 0;
  if (text[pos] == '.') {
    const std::size_t start = ++pos;
    double scale = 0.1;
    for (; pos < text.size() && text[pos] >= '0' && text[pos] <= '9'; ++pos, scale /= 10) {
      fraction += (text[pos] - '0') * scale;
    }
    if (pos == start) return std::nullopt;
  }
  int offset = 0;
  const std::string_view zone = text.substr(pos);
  if (zone == "Z" || zone == "z") {
    offset = 0;
  } else if (int zh = 0, zm = 0; zone.size() == 6 && (zone[0] == '+' || zone[0] == '-') &&
                                 digits_at(zone, 1, 2, zh) && zone[3] == ':' &&
                                 digits_at(zone, 4, 2, zm) && zh < 24 && zm < 60) {
    offset = (zone[0] == '+' ? 1 : -1) * (zh * 3600 + zm * 60);
  } else {
    return std::nullopt;
  }
  using namespace std::chrono;
  const year_month_day date{std::chrono::year{year},
                            std::chrono::month{static_cast<unsigned>(month)},
                            std::chrono::day{static_cast<unsigned>(day)}};
  if (year < 1970 || !date.ok() || hour > 23 || minute > 59 || second > 60) return std::nullopt;
  const auto days = sys_days{date}.time_since_epoch();
  const double seconds_since_epoch = static_cast<double>(duration_cast<seconds>(days).count()) +
                                     hour * 3600.0 + minute * 60.0 + second + fraction - offset;
  if (seconds_since_epoch < 0) return std::nullopt;
  return seconds_since_epoch;
}

CmekParse parse_cmek_cluster_info(std::string_view body) {
  if (json_depth(body, kMaxJsonDepth) > kMaxJsonDepth) {
    return {std::nullopt,
            "response nests deeper than " + std::to_string(kMaxJsonDepth) + " levels"};
  }
  const json root = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (root.is_discarded()) return {std::nullopt, "response is not valid JSON"};
  if (!root.is_object()) return {std::nullopt, "response is not a JSON object"};
  CmekClusterInfo info;
  info.status = text_of(root, "status");
  if (info.status.empty()) return {std::nullopt, "response has no CMEK status"};
  for (const json& region_item : array_of(root, "region_infos")) {
    CmekRegionInfo region;
    region.region = text_of(region_item, "region");
    region.status = text_of(region_item, "status");
    for (const json& key_item : array_of(region_item, "key_infos")) {
      region.keys.push_back(key_of(key_item));
    }
    info.regions.push_back(std::move(region));
  }
  return {std::move(info), {}};
}

SourceError classify_http_status(unsigned status) {
  const std::string code = "HTTP " + std::to_string(status);
  if (status == 401 || status == 403) {
    return {ErrorReason::auth_failed,
            code +
                ": the API key was refused or its service account lacks a role that can read "
                "CMEK (CLUSTER_ADMIN or CLUSTER_OPERATOR_WRITER on this cluster)"};
  }
  if (status == 404) {
    return {ErrorReason::not_found,
            code +
                ": no such cluster, or CMEK is not enabled on it (CMEK can only be enabled "
                "when the cluster is created); check cmek.cluster_id"};
  }
  if (status == 429) return {ErrorReason::rate_limited, code + ": rate limited by the API"};
  if (status >= 500 && status <= 599) {
    return {ErrorReason::server_error, code + ": the Cloud API failed; retrying with backoff"};
  }
  return {ErrorReason::bad_response, code + ": unexpected status"};
}

std::optional<std::chrono::seconds> parse_retry_after(std::string_view value) {
  std::uint64_t seconds = 0;
  const auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), seconds);
  if (value.empty() || error == std::errc::invalid_argument || end != value.data() + value.size()) {
    return std::nullopt;
  }
  if (error == std::errc::result_out_of_range ||
      seconds > static_cast<std::uint64_t>(kMaxRetryAfter.count())) {
    return kMaxRetryAfter;
  }
  return std::chrono::seconds{seconds};
}

std::string cmek_key_subject(const CmekRegionInfo& region, const CmekKeyInfo& key) {
  return "key " + key.uri + " in " + region.region;
}

// --- CmekFacts ----------------------------------------------------------------------------------

std::vector<Family> CmekFacts::families() const {
  Family cluster{std::string(metric::kCmekClusterStatus),
                 "CMEK status of the cluster as the CockroachDB Cloud API reports it. Always 1."};
  Family regions{std::string(metric::kCmekRegionStatus), "CMEK status per region. Always 1."};
  Family keys{std::string(metric::kCmekKeyInfo),
              "One series per customer-managed key of each region, with its status. Always 1."};
  Family updated{std::string(metric::kCmekKeyUpdated),
                 "When the key's CMEK state last changed (updated_at), unix seconds."};
  SeriesSet cluster_series(cluster), region_series(regions), key_series(keys),
      updated_series(updated);
  cluster_series.add({{"cluster_id", cluster_id}, {"status", info.status}}, 1);
  for (const CmekRegionInfo& region : info.regions) {
    region_series.add(
        {{"cluster_id", cluster_id}, {"region", region.region}, {"status", region.status}}, 1);
    for (const CmekKeyInfo& key : region.keys) {
      key_series.add({{"cluster_id", cluster_id},
                      {"region", region.region},
                      {"type", key.type},
                      {"uri", key.uri},
                      {"auth_principal", key.auth_principal},
                      {"status", key.status}},
                     1);
      if (key.updated_at) {
        updated_series.add(
            {{"cluster_id", cluster_id}, {"region", region.region}, {"uri", key.uri}},
            *key.updated_at);
      }
    }
  }
  return {std::move(cluster), std::move(regions), std::move(keys), std::move(updated)};
}

std::vector<Table> CmekFacts::tables() const {
  Table table{
      std::string(kCmekTableTitle),
      {"Region", "Status", "Key type", "Key URI", "Principal", "Key status", "Updated", "Message"},
      {}};
  table.rows.push_back({Cell{"(cluster)", {}, false, cluster_id}, Cell{info.status}, Cell{}, Cell{},
                        Cell{}, Cell{}, Cell{}, Cell{}});
  for (const CmekRegionInfo& region : info.regions) {
    if (region.keys.empty()) {
      table.rows.push_back({Cell{region.region}, Cell{region.status}, Cell{}, Cell{}, Cell{},
                            Cell{}, Cell{}, Cell{}});
    }
    for (const CmekKeyInfo& key : region.keys) {
      table.rows.push_back({Cell{region.region}, Cell{region.status}, Cell{key.type},
                            Cell{key.uri, {}, true}, Cell{key.auth_principal, {}, true},
                            Cell{key.status}, Cell{"", key.updated_at}, Cell{key.user_message}});
    }
  }
  return {std::move(table)};
}

// Per key: the alerts are per key too (cluster and region states are in the table and metrics).
std::vector<Finding> CmekFacts::findings(double now) const {
  std::vector<Finding> out;
  for (const CmekRegionInfo& region : info.regions) {
    for (const CmekKeyInfo& key : region.keys) {
      const std::string where = key_where(region, key);
      if (cmek_status_revoked(key.status)) {
        out.push_back({Condition::cmek_key_revoked, cmek_key_subject(region, key),
                       where + " is " + key.status +
                           ": data becomes permanently inaccessible once the provider's grace "
                           "period passes. Restore the key in the KMS and check its key policy "
                           "or IAM grant to " +
                           key.auth_principal + "."});
      } else if (cmek_status_failed(key.status)) {
        out.push_back({Condition::cmek_failed, cmek_key_subject(region, key),
                       where + " is " + key.status +
                           (key.user_message.empty() ? "" : ": " + key.user_message)});
      } else if (cmek_status_transitional(key.status)) {
        const auto since = transitional_since.find(cmek_key_subject(region, key));
        if (since != transitional_since.end() &&
            now - since->second > static_cast<double>(transition_for.count())) {
          out.push_back({Condition::cmek_transition_stuck, cmek_key_subject(region, key),
                         where + " has been " + key.status + " for longer than " +
                             config::format_duration(transition_for) +
                             ": check the operation in the CockroachDB Cloud Console"});
        }
      }
    }
  }
  return out;
}

std::vector<Notice> CmekFacts::notices() const {
  std::vector<Notice> out;
  out.push_back({"cmek cluster " + cluster_id, info.status != "ENABLED",
                 "CMEK status of cluster " + cluster_id + " is " + info.status});
  for (const CmekRegionInfo& region : info.regions) {
    for (const CmekKeyInfo& key : region.keys) {
      out.push_back({"cmek " + cmek_key_subject(region, key), key.status != "ENABLED",
                     key_where(region, key) + " is " + key.status});
    }
  }
  return out;
}

// --- CmekSource ---------------------------------------------------------------------------------

CmekSource::CmekSource(config::CmekConfig cfg, std::chrono::seconds transition_for,
                       CmekSourceOptions options)
    : Source("cmek"),
      cfg_(std::move(cfg)),
      transition_for_(transition_for),
      options_(std::move(options)) {}

void CmekSource::from_config(const config::Config& config,
                             std::vector<std::shared_ptr<Source>>& out) {
  if (config.cmek) {
    out.push_back(std::make_shared<CmekSource>(*config.cmek, config.alerting.cmek_transition_for));
  }
}

bool CmekSource::same_config(const Source& next) const {
  const auto* other = dynamic_cast<const CmekSource*>(&next);
  return other != nullptr && other->cfg_ == cfg_ && other->transition_for_ == transition_for_;
}

double CmekSource::wall_now() const {
  if (options_.wall_clock) return options_.wall_clock();
  return unix_now();
}

PollResult CmekSource::failed(SourceError error) {
  const auto now = options_.now();
  if (error.reason == ErrorReason::server_error) {
    // 30s, 1m, 2m, ... capped: the first retries come at the poll interval anyway; a long outage
    // is asked less and less often.
    const int doublings = std::min(server_errors_in_a_row_++, 16);
    const auto backoff = std::min(kInitialBackoff * (1 << doublings),
                                  std::max(options_.max_backoff, cfg_.poll_interval));
    not_before_ = std::max(not_before_, now + backoff);
  }
  last_error_ = error;
  return PollResult::failed(error.reason, std::move(error.message));
}

PollResult CmekSource::poll() {
  const auto now = options_.now();
  if (now < not_before_) {
    const auto wait = std::chrono::duration_cast<std::chrono::seconds>(not_before_ - now);
    return PollResult::failed(last_error_.reason,
                              last_error_.message + " (no request for another " +
                                  config::format_duration(wait + std::chrono::seconds{1}) + ")");
  }
  net::HttpsGetResult outcome = fetch(cfg_, options_.body_limit);
  if (outcome.error) return failed(std::move(*outcome.error));
  if (outcome.response.status != 200) {
    SourceError error = classify_http_status(outcome.response.status);
    if (error.reason == ErrorReason::rate_limited) {
      const auto wait = parse_retry_after(outcome.response.retry_after);
      if (wait) {
        not_before_ = now + *wait;
        error.message += " (Retry-After " + config::format_duration(*wait) + ")";
      }
    }
    return failed(std::move(error));
  }
  CmekParse parsed = parse_cmek_cluster_info(outcome.response.body);
  if (!parsed.info) return failed({ErrorReason::bad_response, parsed.error});
  server_errors_in_a_row_ = 0;

  auto facts = std::make_shared<CmekFacts>();
  facts->cluster_id = cfg_.cluster_id;
  facts->info = std::move(*parsed.info);
  facts->transition_for = transition_for_;
  // A transitional status keeps the time it was first seen while it lasts; any other forgets it.
  const double wall = wall_now();
  std::map<std::string, std::pair<std::string, double>> still;
  for (const CmekRegionInfo& region : facts->info.regions) {
    for (const CmekKeyInfo& key : region.keys) {
      if (!cmek_status_transitional(key.status)) continue;
      const std::string subject = cmek_key_subject(region, key);
      const auto known = transitional_.find(subject);
      const double since = known != transitional_.end() && known->second.first == key.status
                               ? known->second.second
                               : wall;
      still[subject] = {key.status, since};
      facts->transitional_since[subject] = since;
    }
  }
  transitional_ = std::move(still);
  PollResult result;
  result.facts = std::move(facts);
  return result;
}

}  // namespace certwatch::sources

namespace certwatch {
namespace {

constexpr ConditionRow kCmekKeyRevoked{
    "cmek_key_revoked", Severity::critical, "CrdbCmekKeyRevoked",
    "The data-at-rest key is revoked: once the KMS grace period passes the data is "
    "permanently inaccessible.",
    "Restore the key's access in your KMS (key state and IAM policy) now, and contact "
    "Cockroach Labs support."};
constexpr ConditionRow kCmekFailed{
    "cmek_failed", Severity::critical, "CrdbCmekOperationFailed",
    "A CMEK operation failed: the cluster may not use the key you expect.",
    "Check the key's IAM/key policy for the cluster's principal, then retry the operation "
    "(Cloud Console or API); contact support if it fails again."};
constexpr ConditionRow kCmekTransitionStuck{
    "cmek_transition_stuck", Severity::warning, "CrdbCmekTransitionStuck",
    "A CMEK transition has not finished in the configured time.",
    "Check the key's IAM/key policy and the cluster's status in the Cloud Console; contact "
    "Cockroach Labs support if it stays stuck."};
// The CMEK source's own source_down (the registry entry's down condition): the snapshot raises
// it instead of source_down when a CMEK poll fails, as the rules page CrdbCmekApiUnreachable.
constexpr ConditionRow kCmekApiUnreachable{
    "cmek_api_unreachable", Severity::warning, "CrdbCmekApiUnreachable",
    "The CMEK status is not being checked: a revoked key would go unnoticed.",
    "Check the service account API key (role CLUSTER_ADMIN or CLUSTER_OPERATOR_WRITER) and the "
    "network path to cockroachlabs.cloud."};

}  // namespace

const Condition Condition::cmek_key_revoked{kCmekKeyRevoked};
const Condition Condition::cmek_failed{kCmekFailed};
const Condition Condition::cmek_transition_stuck{kCmekTransitionStuck};
const Condition Condition::cmek_api_unreachable{kCmekApiUnreachable};

}  // namespace certwatch
