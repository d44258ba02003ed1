#include "sources/cluster_source.hpp"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <libpq-fe.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <climits>
#include <cmath>
#include <mutex>
#include <pqxx/pqxx>
#include <regex>
#include <set>
#include <utility>

#include "core/libpq_handles.hpp"
#include "core/metric_names.hpp"
#include "core/names.hpp"
#include "core/text.hpp"
#include "net/resolver.hpp"

namespace certwatch::sources {
namespace {

constexpr std::string_view kApplicationName = "crdb-certwatch";
constexpr std::size_t kFixedColumns = 4;  // node_id, address, server_version, updated_at

std::string lowercase(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

bool contains(std::string_view haystack, std::string_view needle) {
  return haystack.find(needle) != std::string_view::npos;
}

// libpq messages span lines ("...failed: Connection refused\n\tIs the server running..."): one
// line reads better in logs and on the status page.
std::string one_line(std::string_view text) {
  std::string out;
  bool pending_space = false;
  for (const char c : text) {
    if (std::isspace(static_cast<unsigned char>(c)) != 0) {
      pending_space = !out.empty();
      continue;
    }
    if (pending_space) out += ' ';
    pending_space = false;
    out += c;
  }
  return out;
}

std::string clean_message(std::string_view text) { return scrub_secrets(one_line(text)); }

std::string quote_conninfo_value(std::string_view value) {
  std::string out = "'";
  for (const char c : value) {
    if (c == '\\' || c == '\'') out += '\\';
    out += c;
  }
  out += '\'';
  return out;
}

// PQconninfoParse's messages may quote a piece of the DSN (`missing "=" after "..."`), which could
// be a password; only the name of an unknown option is safe to repeat.
std::string describe_conninfo_error(const char* error) {
  const std::string_view text = error == nullptr ? std::string_view{} : std::string_view{error};
  constexpr std::string_view kUnknownOption = "invalid connection option";
  std::string out = "the DSN is not a valid libpq connection string";
  if (text.starts_with(kUnknownOption)) out += ": " + one_line(text);
  return out;
}

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) {
    if (!out.empty()) out += ", ";
    out += item;
  }
  return out;
}

void add_unique(std::vector<std::string>& items, std::string item) {
  if (!item.empty() && std::find(items.begin(), items.end(), item) == items.end()) {
    items.push_back(std::move(item));
  }
}

std::string sockaddr_text(const sockaddr* address) {
  char buffer[INET6_ADDRSTRLEN] = {};
  if (address->sa_family == AF_INET) {
    const auto* v4 = reinterpret_cast<const sockaddr_in*>(address);
    if (inet_ntop(AF_INET, &v4->sin_addr, buffer, sizeof buffer) != nullptr) return buffer;
  } else if (address->sa_family == AF_INET6) {
    const auto* v6 = reinterpret_cast<const sockaddr_in6*>(address);
    if (inet_ntop(AF_INET6, &v6->sin6_addr, buffer, sizeof buffer) != nullptr) return buffer;
  }
  return {};
}

std::string format_seconds(std::chrono::seconds value) {
  return std::to_string(std::max<std::chrono::seconds::rep>(value.count(), 1));
}

}  // namespace

const std::string& node_status_query() {
  static const std::string query = [] {
    std::string q =
        "SELECT node_id, address, server_version, extract(epoch FROM updated_at) AS updated_at";
    for (const auto& metric : kClusterCertMetrics) {
      std::string alias(metric.suffix);
      std::replace(alias.begin(), alias.end(), '-', '_');
      q += ", metrics->>'security.certificate.expiration.";
      q += metric.suffix;
      q += "' AS expiration_" + alias;
    }
    q += " FROM crdb_internal.kv_node_status ORDER BY node_id";
    return q;
  }();
  return query;
}

std::string address_host(std::string_view address) {
  if (address.starts_with('[')) {
    const auto close = address.find(']');
    if (close != std::string_view::npos) return std::string(address.substr(1, close - 1));
    return std::string(address);
  }
  const auto colon = address.find(':');
  // More than one colon without brackets: a bare IPv6 address, no port.
  if (colon == std::string_view::npos || address.find(':', colon + 1) != std::string_view::npos) {
    return std::string(address);
  }
  return std::string(address.substr(0, colon));
}

std::optional<std::int64_t> parse_unix_seconds(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front())) != 0) {
    text.remove_prefix(1);
  }
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back())) != 0) {
    text.remove_suffix(1);
  }
  if (text.starts_with('+')) text.remove_prefix(1);
  double value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc{} || end != text.data() + text.size() || !std::isfinite(value)) {
    return std::nullopt;
  }
  // Far beyond any certificate's notAfter (year 9999 is 2.5e11); keeps llround defined.
  if (std::fabs(value) > 1e15) return std::nullopt;
  return static_cast<std::int64_t>(std::llround(value));
}

HostIdentityLookup::HostIdentityLookup() {
  char hostname[256] = {};
  if (gethostname(hostname, sizeof hostname - 1) == 0 && hostname[0] != '\0') {
    hostname_ = hostname;
    lookup_ = std::make_unique<net::Prefetch>(hostname_);
  }
}

HostIdentityLookup::~HostIdentityLookup() = default;

HostIdentity HostIdentityLookup::get(std::chrono::milliseconds wait) {
  HostIdentity host;
  if (!hostname_.empty()) add_unique(host.names, hostname_);
  if (lookup_) {
    if (const auto found = lookup_->take(wait); found && found->error.empty()) {
      if (!found->canonical_name.empty()) add_unique(host.names, found->canonical_name);
      for (const auto& endpoint : found->endpoints) {
        add_unique(host.addresses, sockaddr_text(endpoint.data()));
      }
    }
  }
  ifaddrs* interfaces = nullptr;
  if (getifaddrs(&interfaces) == 0) {
    const std::unique_ptr<ifaddrs, decltype(&freeifaddrs)> owner{interfaces, &freeifaddrs};
    for (const ifaddrs* entry = interfaces; entry != nullptr; entry = entry->ifa_next) {
      if (entry->ifa_addr != nullptr) add_unique(host.addresses, sockaddr_text(entry->ifa_addr));
    }
  }
  return host;
}

HostIdentity current_host_identity() { return HostIdentityLookup().get(std::chrono::seconds{5}); }

LocalNodeDetection detect_local_node(const std::vector<NodeInfo>& nodes, const HostIdentity& host) {
  std::set<std::string> names;
  for (const auto& name : host.names) names.insert(canonical_dns_name(name));
  std::set<std::string> addresses;
  for (const auto& address : host.addresses) {
    if (auto ip = canonical_ip(address)) addresses.insert(*ip);
  }

  std::vector<std::string> matches;
  for (const auto& node : nodes) {
    const std::string node_host = address_host(node.address);
    if (node_host.empty()) continue;
    const auto ip = canonical_ip(node_host);
    const bool local = ip ? addresses.contains(*ip) : names.contains(canonical_dns_name(node_host));
    if (local) matches.push_back(node.node_id);
  }

  if (matches.size() == 1) return {matches.front(), {}};
  if (matches.empty()) {
    return {{},
            "no node's address matches this host (names: " + join(host.names) +
                "; addresses: " + join(host.addresses) + "); set cluster.local_node_id"};
  }
  return {{},
          "several nodes' addresses match this host (node ids " + join(matches) +
              "); set cluster.local_node_id"};
}

PollResult interpret_node_status(const std::vector<NodeStatusRow>& rows,
                                 const std::optional<std::string>& configured_local_node_id,
                                 const std::function<HostIdentity()>& host,
                                 std::chrono::seconds node_stale_after) {
  PollResult result;
  auto facts = std::make_shared<ClusterFacts>();
  facts->node_stale_after = node_stale_after;
  for (const auto& row : rows) {
    NodeInfo node{row.node_id, row.address, row.server_version, 0};
    if (row.updated_at) {
      double updated_at = 0;
      const std::string_view text = *row.updated_at;
      const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), updated_at);
      if (error == std::errc{} && std::isfinite(updated_at)) node.updated_at = updated_at;
    }
    facts->nodes.push_back(std::move(node));

    for (std::size_t i = 0; i < kClusterCertMetrics.size(); ++i) {
      const auto& reported = row.expirations[i];
      if (!reported) continue;  // not registered: insecure mode or an older version
      // Any reported key, even 0, means the node runs with certificate metrics: secure mode.
      facts->secure = true;
      const auto not_after = parse_unix_seconds(*reported);
      const auto& metric = kClusterCertMetrics[i];
      if (!not_after || *not_after < 0) {
        // Nothing CockroachDB writes (NaN, 1e308, an object, a negative time): said with the
        // node and the value, never dropped unseen; a required certificate counts as not
        // loadable, as a 0 does.
        std::string value = reported->substr(0, 64);
        if (reported->size() > 64) value += "...";
        facts->bad_expiries.push_back("node " + row.node_id + " reported expiration." +
                                      std::string(metric.suffix) + " = " +
                                      escape_for_display(value) + ", not a unix time");
        result.partial_errors.push_back({ErrorReason::bad_response, facts->bad_expiries.back()});
        if (!metric.required) continue;
      }
      CertObservation observation;
      observation.id.source = std::string(kSourceCluster);
      observation.id.cert_type = metric.cert_type;
      observation.id.node_id = row.node_id;
      if (not_after && *not_after > 0) {
        observation.not_after = *not_after;
      } else if (metric.required) {
        observation.load_failed = true;
      } else {
        continue;  // optional file absent: CockroachDB falls back, nothing to export
      }
      result.certificates.push_back(std::move(observation));
    }
  }

  if (configured_local_node_id) {
    facts->local_node_id = *configured_local_node_id;
    const bool listed = std::any_of(facts->nodes.begin(), facts->nodes.end(), [&](const auto& n) {
      return n.node_id == *configured_local_node_id;
    });
    if (!listed) {
      facts->local_node_note =
          "the configured local_node_id " + *configured_local_node_id + " is not among the nodes";
    }
  } else if (facts->nodes.empty()) {
    facts->local_node_note = "the cluster reported no nodes";
  } else {
    auto detection = detect_local_node(facts->nodes, host ? host() : HostIdentity{});
    facts->local_node_id = std::move(detection.node_id);
    facts->local_node_note = std::move(detection.note);
  }
  for (CertObservation& observation : result.certificates) {
    observation.local_node =
        !facts->local_node_id.empty() && observation.id.node_id == facts->local_node_id;
  }
  result.facts = std::move(facts);
  return result;
}

ConninfoResult build_conninfo(const std::string& dsn, std::chrono::seconds connect_timeout,
                              std::chrono::seconds statement_timeout) {
  char* raw_error = nullptr;
  const libpq::ConninfoPtr parsed{PQconninfoParse(dsn.c_str(), &raw_error)};
  const libpq::MemPtr error{raw_error};
  if (!parsed) return {std::nullopt, describe_conninfo_error(error.get())};

  std::vector<std::pair<std::string, std::string>> options;
  for (const PQconninfoOption* option = parsed.get(); option->keyword != nullptr; ++option) {
    if (option->val != nullptr) options.emplace_back(option->keyword, option->val);
  }
  const auto set = [&](std::string_view key, std::string value, bool override_dsn) {
    const auto found = std::find_if(options.begin(), options.end(),
                                    [&](const auto& option) { return option.first == key; });
    if (found == options.end()) {
      options.emplace_back(std::string(key), std::move(value));
    } else if (override_dsn) {
      found->second = std::move(value);
    }
  };
  // The configured timeout is the one that bounds a poll, so it wins over the DSN's.
  set("connect_timeout", format_seconds(connect_timeout), true);
  set("application_name", std::string(kApplicationName), false);
  // A peer that vanishes mid-query (partition, power loss) never answers: keepalives turn that into
  // an error within about statement_timeout + 3 * connect_timeout instead of a hung poll.
  set("keepalives", "1", false);
  set("keepalives_idle", format_seconds(statement_timeout), false);
  set("keepalives_interval", format_seconds(connect_timeout), false);
  set("keepalives_count", "3", false);

  std::string conninfo;
  for (const auto& [key, value] : options) {
    if (!conninfo.empty()) conninfo += ' ';
    conninfo += key + '=' + quote_conninfo_value(value);
  }
  return {std::move(conninfo), {}};
}

ErrorReason classify_connect_error(std::string_view message) {
  const std::string text = lowercase(message);
  if (contains(text, "timeout expired") || contains(text, "timed out")) return ErrorReason::timeout;
  if (contains(text, "authentication failed") || contains(text, "no password supplied") ||
      contains(text, "pg_hba.conf") || contains(text, "rejected by configuration") ||
      contains(text, "authentication rejected")) {
    return ErrorReason::auth_failed;
  }
  if (contains(text, "permission denied")) return ErrorReason::permission_denied;
  return ErrorReason::connect_failed;
}

ErrorReason classify_sql_error(std::string_view sqlstate, std::string_view message) {
  if (sqlstate == "57014") return ErrorReason::timeout;
  if (sqlstate == "42501") return ErrorReason::permission_denied;
  if (sqlstate.starts_with("28")) return ErrorReason::auth_failed;
  // Connection exceptions and the server shutting down or starting up.
  if (sqlstate.starts_with("08") || sqlstate == "57P01" || sqlstate == "57P02" ||
      sqlstate == "57P03") {
    return ErrorReason::connect_failed;
  }
  if (sqlstate.empty()) {
    const std::string text = lowercase(message);
    if (contains(text, "statement timeout")) return ErrorReason::timeout;
    if (contains(text, "permission denied") || contains(text, "privilege")) {
      return ErrorReason::permission_denied;
    }
  }
  return ErrorReason::query_failed;
}

std::string scrub_secrets(std::string message) {
  static const std::regex keyword_password{R"((password\s*=\s*)('(\\.|[^'\\])*'|[^\s]+))",
                                           std::regex::icase};
  static const std::regex uri_password{R"((://[^\s/:@]*:)[^\s/@]*@)"};
  message = std::regex_replace(message, keyword_password, "$1<redacted>");
  return std::regex_replace(message, uri_password, "$1<redacted>@");
}

struct ClusterSource::Connection {
  explicit Connection(const std::string& conninfo) : conn(conninfo) {}
  pqxx::connection conn;
};

ClusterSource::ClusterSource(config::ClusterConfig cfg, ClusterSourceOptions options)
    : Source(std::string(kSourceCluster)),
      cfg_(std::move(cfg)),
      options_(std::move(options)),
      backoff_(options_.initial_backoff) {}

void ClusterSource::from_config(const config::Config& config,
                                std::vector<std::shared_ptr<Source>>& out) {
  if (!config.cluster) return;
  ClusterSourceOptions options;
  options.node_stale_after = config.alerting.node_stale_after;
  out.push_back(std::make_shared<ClusterSource>(*config.cluster, std::move(options)));
}

bool ClusterSource::same_config(const Source& next) const {
  const auto* other = dynamic_cast<const ClusterSource*>(&next);
  return other != nullptr && other->cfg_ == cfg_ &&
         other->options_.node_stale_after == options_.node_stale_after;
}

ClusterSource::~ClusterSource() = default;

PollResult ClusterSource::failed(const Failure& failure) const {
  return PollResult::failed(failure.reason, failure.message);
}

std::optional<ClusterSource::Failure> ClusterSource::connect() {
  conn_.reset();
  std::optional<Failure> failure;
  const auto conninfo = build_conninfo(cfg_.dsn, cfg_.connect_timeout, cfg_.statement_timeout);
  if (!conninfo.conninfo) {
    failure = Failure{ErrorReason::connect_failed, conninfo.error};
  } else {
    try {
      auto conn = std::make_unique<Connection>(*conninfo.conninfo);
      {
        pqxx::nontransaction session{conn->conn};
        session.exec("SET statement_timeout = '" + format_seconds(cfg_.statement_timeout) + "s'");
      }
      try {
        // CockroachDB v25.4+ may gate crdb_internal behind this; older versions and PostgreSQL
        // reject the unknown variable (42704), which is fine. Its own statement, outside any
        // transaction, so the rejection cannot abort anything else.
        pqxx::nontransaction session{conn->conn};
        session.exec("SET allow_unsafe_internals = true");
      } catch (const pqxx::broken_connection&) {
        throw;
      } catch (const pqxx::sql_error&) {
      }
      conn_ = std::move(conn);
    } catch (const pqxx::broken_connection& e) {
      failure = Failure{classify_connect_error(e.what()), "connecting: " + clean_message(e.what())};
    } catch (const pqxx::sql_error& e) {
      failure = Failure{classify_sql_error(e.sqlstate(), e.what()),
                        "preparing the session: " + clean_message(e.what())};
    } catch (const std::exception& e) {
      failure = Failure{ErrorReason::connect_failed, "connecting: " + clean_message(e.what())};
    }
  }

  if (failure) {
    last_connect_error_ = failure->message;
    last_connect_reason_ = failure->reason;
    next_connect_attempt_ = options_.now() + backoff_;
    // Capped below the poll interval: the scheduler's jitter (up to 5%) can bring the next poll
    // early, and a poll that lands inside the backoff would skip its attempt, noticing a
    // recovered database one whole interval late.
    const auto cap =
        std::chrono::duration_cast<std::chrono::milliseconds>(cfg_.poll_interval) * 9 / 10;
    backoff_ = std::max(options_.initial_backoff, std::min(backoff_ * 2, cap));
    return failure;
  }
  backoff_ = options_.initial_backoff;
  last_connect_error_.clear();
  return std::nullopt;
}

std::optional<ClusterSource::Failure> ClusterSource::query(std::vector<NodeStatusRow>& rows) {
  rows.clear();
  try {
    pqxx::result result;
    {
      pqxx::nontransaction tx{conn_->conn};
      result = tx.exec(node_status_query());
    }
    if (result.columns() != kFixedColumns + kClusterCertMetrics.size()) {
      return Failure{
          ErrorReason::query_failed,
          "unexpected column count " + std::to_string(result.columns()) + " in the result"};
    }
    rows.reserve(result.size());
    for (const auto& tuple : result) {
      NodeStatusRow row;
      const auto text = [&](std::size_t column) -> std::optional<std::string> {
        const auto field = tuple[static_cast<pqxx::row::size_type>(column)];
        if (field.is_null()) return std::nullopt;
        return std::string(field.c_str(), field.size());
      };
      row.node_id = text(0).value_or("");
      row.address = text(1).value_or("");
      row.server_version = text(2).value_or("");
      row.updated_at = text(3);
      for (std::size_t i = 0; i < kClusterCertMetrics.size(); ++i) {
        row.expirations[i] = text(kFixedColumns + i);
      }
      rows.push_back(std::move(row));
    }
    return std::nullopt;
  } catch (const pqxx::broken_connection& e) {
    conn_.reset();
    return Failure{ErrorReason::connect_failed, "connection lost: " + clean_message(e.what())};
  } catch (const pqxx::sql_error& e) {
    const auto reason = classify_sql_error(e.sqlstate(), e.what());
    if (reason == ErrorReason::connect_failed || !conn_->conn.is_open()) conn_.reset();
    return Failure{reason, "querying crdb_internal.kv_node_status: " + clean_message(e.what())};
  } catch (const std::exception& e) {
    if (!conn_->conn.is_open()) conn_.reset();
    return Failure{ErrorReason::query_failed,
                   "querying crdb_internal.kv_node_status: " + clean_message(e.what())};
  }
}

PollResult ClusterSource::poll() {
  // libpqxx 6 would silently reopen a closed connection and lose the session settings: a closed
  // connection is replaced here, through connect(), instead.
  if (conn_ && !conn_->conn.is_open()) conn_.reset();
  bool fresh = false;
  if (!conn_) {
    const auto now = options_.now();
    if (now < next_connect_attempt_) {
      const auto wait =
          std::chrono::duration_cast<std::chrono::milliseconds>(next_connect_attempt_ - now);
      return failed({last_connect_reason_,
                     "waiting " + std::to_string(wait.count()) +
                         " ms before reconnecting; last error: " + last_connect_error_});
    }
    if (auto failure = connect()) return failed(*failure);
    fresh = true;
  }

  std::vector<NodeStatusRow> rows;
  auto failure = query(rows);
  if (failure && !conn_ && !fresh) {
    // The kept connection had died since the last poll (say, a server restart): one fresh
    // connection now, so a restart between polls costs no failed poll.
    if (auto connect_failure = connect()) return failed(*connect_failure);
    failure = query(rows);
  }
  if (failure) return failed(*failure);
  return interpret_node_status(rows, cfg_.local_node_id, options_.host_identity,
                               options_.node_stale_after);
}

}  // namespace certwatch::sources

namespace certwatch::sources {

std::vector<Family> ClusterFacts::families() const {
  Family node_info{std::string(metric::kClusterNodeInfo),
                   "One series per row of crdb_internal.kv_node_status. Always 1."};
  Family updated{std::string(metric::kClusterNodeUpdated),
                 "When the node last reported its status (kv_node_status.updated_at); an old "
                 "value means the node is down and its numbers are stale."};
  for (const NodeInfo& node : nodes) {
    node_info.series.push_back({{{"node_id", node.node_id},
                                 {"address", node.address},
                                 {"server_version", node.server_version}},
                                1});
    updated.series.push_back({{{"node_id", node.node_id}}, node.updated_at});
  }
  Family secure_family{std::string(metric::kClusterSecure),
                       "1 when nodes report certificate metrics, 0 when none do (insecure mode)."};
  secure_family.series.push_back({{}, secure ? 1.0 : 0.0});
  return {std::move(node_info), std::move(updated), std::move(secure_family)};
}

std::vector<Table> ClusterFacts::tables() const {
  Table table{"Cluster nodes", {"Node", "Address", "Version", "Last status update"}, {}};
  for (const NodeInfo& node : nodes) {
    table.rows.push_back(
        {Cell{node.node_id, {}, false, node.node_id == local_node_id ? "(this host)" : ""},
         Cell{node.address, {}, true, ""}, Cell{node.server_version, {}, false, ""},
         Cell{"", node.updated_at, false, ""}});
  }
  return {std::move(table)};
}

std::vector<Finding> ClusterFacts::findings(double now) const {
  std::vector<Finding> out;
  if (!secure) {
    out.push_back({Condition::cluster_insecure, "",
                   "The cluster is insecure: no node reports certificates."});
  }
  for (const NodeInfo& node : nodes) {
    const double age = now - node.updated_at;
    if (age > static_cast<double>(node_stale_after.count())) {
      out.push_back({Condition::node_stale, node.node_id,
                     "Node " + node.node_id + " has not reported its status for " +
                         std::to_string(static_cast<std::int64_t>(age)) +
                         " s: it is down or partitioned, and its numbers are stale."});
    }
  }
  return out;
}

std::vector<Notice> ClusterFacts::notices() const {
  std::vector<Notice> out;
  // Reload-pending detection needs the local node: say once why it is unknown, or which it is.
  if (local_node_id.empty()) {
    out.push_back({"local_node", true,
                   "local node not identified, so reload-pending checks are off: " +
                       local_node_note + " (set cluster.local_node_id)"});
  } else {
    out.push_back({"local_node", false, "local node is node " + local_node_id});
  }
  if (!bad_expiries.empty()) {
    std::string text = std::to_string(bad_expiries.size()) +
                       " certificate expiry values are no unix time (a required one counts as "
                       "not loadable): " +
                       bad_expiries.front();
    if (bad_expiries.size() > 1)
      text += "; and " + std::to_string(bad_expiries.size() - 1) + " more";
    out.push_back({"bad_expiry", true, std::move(text)});
  }
  return out;
}

std::vector<std::string> ClusterFacts::local_node_names() const {
  if (local_node_id.empty()) return {};
  for (const NodeInfo& node : nodes) {
    if (node.node_id != local_node_id) continue;
    std::string host = address_host(node.address);
    if (host.empty()) return {};
    return {std::move(host)};
  }
  return {};
}

}  // namespace certwatch::sources
