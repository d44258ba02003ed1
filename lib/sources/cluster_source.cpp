#include "sources/cluster_source.hpp"

#include <libpq-fe.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <climits>
#include <cmath>
#include <filesystem>
#include <pqxx/pqxx>
#include <set>
#include <utility>

#include "core/clock.hpp"
#include "core/libpq_handles.hpp"
#include "core/metric_names.hpp"
#include "core/names.hpp"
#include "core/text.hpp"

namespace certwatch::sources {
namespace {

constexpr std::size_t kFixedColumns = 4;  // node_id, address, server_version, updated_at

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) {
    if (!out.empty()) out += ", ";
    out += item;
  }
  return out;
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
                                 std::chrono::seconds node_stale_after, ClusterIdentity identity) {
  PollResult result;
  auto facts = std::make_shared<ClusterFacts>();
  facts->node_stale_after = node_stale_after;
  facts->cluster_id = std::move(identity.id);
  facts->cluster_name = std::move(identity.name);
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
  if (!config.files.certs_dirs.empty()) options.certs_dir = config.files.certs_dirs.front();
  out.push_back(std::make_shared<ClusterSource>(*config.cluster, std::move(options)));
}

bool ClusterSource::same_config(const Source& next) const {
  const auto* other = dynamic_cast<const ClusterSource*>(&next);
  return other != nullptr && other->cfg_ == cfg_ &&
         other->options_.node_stale_after == options_.node_stale_after &&
         other->options_.certs_dir == options_.certs_dir;
}

ClusterSource::~ClusterSource() = default;

PollResult ClusterSource::failed(const Failure& failure) const {
  return PollResult::failed(failure.reason, failure.message);
}

std::optional<ClusterSource::Failure> ClusterSource::connect() {
  conn_.reset();
  cluster_id_.clear();
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
  const auto id_error = read_cluster_id();
  PollResult result = interpret_node_status(rows, cfg_.local_node_id, options_.host_identity,
                                            options_.node_stale_after, {cluster_id_, cfg_.name});
  if (id_error) result.partial_errors.push_back(*id_error);
  if (cfg_.node_vars.enabled) add_node_vars(result);
  return result;
}

void ClusterSource::add_node_vars(PollResult& result) {
  const auto* cluster = facts_as<ClusterFacts>(result);
  if (cluster == nullptr) return;
  const config::NodeVarsConfig& cfg = cfg_.node_vars;
  NodeVarsOptions options;
  options.http_port = cfg.http_port;
  options.ca_file = cfg.ca_file;
  if (options.ca_file.empty() && !options_.certs_dir.empty()) {
    // The DB Console serves ui.crt, signed by ca-ui.crt, when the node has one (DESIGN.md).
    const std::filesystem::path dir(options_.certs_dir);
    std::error_code ec;
    options.ca_file = std::filesystem::is_regular_file(dir / "ca-ui.crt", ec)
                          ? (dir / "ca-ui.crt").string()
                          : (dir / "ca.crt").string();
  }
  options.client_cert = cfg.client_cert;
  options.client_key = cfg.client_key;
  options.timeout = cfg.timeout;
  options.concurrency = cfg.concurrency;
  options.max_bytes = cfg.max_bytes;
  // What is left of the interval once the query is paid for, less two node timeouts: the nodes
  // started last run up to one timeout past the budget, and the poll ends within its interval.
  const auto reserved = cfg_.connect_timeout + cfg_.statement_timeout + 2 * cfg.timeout;
  options.budget = std::max<std::chrono::milliseconds>(cfg.timeout, cfg_.poll_interval - reserved);
  const auto now = static_cast<std::int64_t>(unix_now());
  const auto scrapes = scrape_node_vars(cluster->nodes, options, now);
  NodeVarsOutcome outcome = interpret_node_vars(scrapes, node_vars_errors_);
  auto facts = std::make_shared<ClusterFacts>(*cluster);
  facts->node_vars = std::move(outcome.facts);
  for (CertObservation& cert : outcome.certificates) {
    cert.local_node = false;  // a client's certificate: nothing on this host to compare it with
    result.certificates.push_back(std::move(cert));
  }
  for (SourceError& error : outcome.partial_errors)
    result.partial_errors.push_back(std::move(error));
  result.facts = std::move(facts);
}

std::optional<SourceError> ClusterSource::read_cluster_id() {
  if (!cluster_id_.empty() || !conn_) return std::nullopt;
  try {
    pqxx::nontransaction tx{conn_->conn};
    const pqxx::result result = tx.exec(std::string(kClusterIdQuery));
    if (result.size() == 1 && result.columns() == 1 && !result[0][0].is_null()) {
      // A UUID: anything longer is not one, and would only bloat a label.
      cluster_id_ = std::string(result[0][0].c_str()).substr(0, 64);
      return std::nullopt;
    }
    return SourceError{ErrorReason::query_failed, "crdb_internal.cluster_id() returned no value"};
  } catch (const pqxx::broken_connection& e) {
    conn_.reset();
    return SourceError{ErrorReason::connect_failed, "connection lost: " + clean_message(e.what())};
  } catch (const std::exception& e) {
    return SourceError{ErrorReason::query_failed,
                       "reading crdb_internal.cluster_id(): " + clean_message(e.what())};
  }
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
  Family info{std::string(metric::kClusterInfo),
              "Which cluster this is: cluster_id from crdb_internal.cluster_id() (empty when it "
              "could not be read), cluster_name from cluster.name. Always 1."};
  info.series.push_back({{{"cluster_id", cluster_id}, {"cluster_name", cluster_name}}, 1});
  std::vector<Family> out{std::move(node_info), std::move(updated), std::move(secure_family),
                          std::move(info)};
  if (node_vars) {
    for (Family& family : node_vars->families()) out.push_back(std::move(family));
  }
  return out;
}

std::vector<Table> ClusterFacts::tables() const {
  Table table{"Cluster nodes", {"Node", "Address", "Version", "Last status update"}, {}};
  for (const NodeInfo& node : nodes) {
    table.rows.push_back(
        {Cell{node.node_id, {}, false, node.node_id == local_node_id ? "(this host)" : ""},
         Cell{node.address, {}, true, ""}, Cell{node.server_version, {}, false, ""},
         Cell{"", node.updated_at, false, ""}});
  }
  std::vector<Table> out{std::move(table)};
  if (node_vars) {
    for (Table& vars : node_vars->tables()) out.push_back(std::move(vars));
  }
  return out;
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
  if (node_vars) {
    for (Finding& finding : node_vars->findings()) out.push_back(std::move(finding));
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

namespace certwatch {
namespace {

constexpr ConditionRow kNodeStale{
    "node_stale", Severity::warning, "CrdbCertClusterNodeStale",
    "The node has not reported recently: its certificate figures are stale.",
    "Check the node: cockroach node status --certs-dir=<certs dir>; a dead or partitioned node "
    "reports nothing."};
constexpr ConditionRow kClusterInsecure{
    "cluster_insecure", Severity::critical, "CrdbCertClusterInsecure",
    "The cluster runs without TLS: anyone on the network can connect as any user.",
    "Restart the nodes in secure mode (cockroach start --certs-dir=<certs dir>, without "
    "--insecure) after issuing a CA, node and client certificates."};
constexpr ConditionRow kClientChildMetricsOff{
    "client_child_metrics_off", Severity::info, "CrdbCertClientChildMetricsOff",
    "Without per-user child metrics the nodes do not say which SQL user's client certificate "
    "expires when: an application's certificate can expire unseen.",
    "As an admin, in a SQL shell: SET CLUSTER SETTING server.child_metrics.enabled = true; "
    "(before v24.3.9 also set server.client_cert_expiration_cache.capacity above 0). If it is "
    "on already, no client has connected with a certificate since the nodes started."};

}  // namespace

const Condition Condition::node_stale{kNodeStale};
const Condition Condition::client_child_metrics_off{kClientChildMetricsOff};
const Condition Condition::cluster_insecure{kClusterInsecure};

}  // namespace certwatch
