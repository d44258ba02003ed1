// The cluster source: every node's certificate expiry as CockroachDB reports it in
// crdb_internal.kv_node_status, read over SQL with libpqxx.
//
// The I/O shell (ClusterSource) is thin; what rows mean (interpret_node_status), how errors are
// classified (classify_*), how the connection string is completed (build_conninfo) and how the
// local node is found (detect_local_node) are pure functions, tested without a server.
#pragma once

#include <array>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"
#include "sources/host_identity.hpp"
#include "sources/node_vars.hpp"
#include "sources/pg_session.hpp"
#include "sources/source.hpp"

namespace certwatch::sources {

// One row of crdb_internal.kv_node_status, as much as the daemon needs.
struct NodeInfo {
  std::string node_id;
  std::string address;
  std::string server_version;
  double updated_at = 0;  // unix seconds
};

// What the cluster source knows besides certificates, and how it shows: the node table and
// series, the insecure-cluster and stale-node findings, which node is this host's.
class ClusterFacts final : public SourceFacts {
 public:
  std::vector<NodeInfo> nodes;
  bool secure = false;  // at least one node reports certificate metrics
  // The node this daemon runs beside: from config, or detected by address; empty if unknown.
  std::string local_node_id;
  // Why local_node_id is empty (no node or several nodes matched this host); for the log.
  std::string local_node_note;
  // A node whose status is older than this is stale (alerting.node_stale_after).
  std::chrono::seconds node_stale_after{600};
  // Expiry values that are no unix time ("node 1 reported expiration.ca = NaN, ..."): a warning
  // notice, and each a partial error of the poll (bad_response).
  std::vector<std::string> bad_expiries;
  // cluster.node_vars: what the nodes' /_status/vars said (null when node vars are off).
  std::shared_ptr<const NodeVarsFacts> node_vars;
  // crdb_cert_cluster_info: the id CockroachDB reports (crdb_internal.cluster_id(); empty when it
  // could not be read) and cluster.name from the config (empty when unset).
  std::string cluster_id;
  std::string cluster_name;

  std::vector<Family> families() const override;
  std::vector<Table> tables() const override;
  std::vector<Finding> findings(double now) const override;
  std::vector<Notice> notices() const override;
  // The host part of the local node's address (its advertise address), when the local node is
  // known and among the nodes.
  std::vector<std::string> local_node_names() const override;
};

// The `security.certificate.expiration.<suffix>` metrics the query extracts, in column order, and
// the cert_type each maps to (docs/metrics.md).
struct ClusterCertMetric {
  std::string_view suffix;
  CertType cert_type;
  // For `ca` and `node` a 0 means the node runs without a loadable certificate; for the optional
  // types 0 means the file does not exist and CockroachDB falls back to another one.
  bool required;
};
inline constexpr std::array<ClusterCertMetric, 8> kClusterCertMetrics{{
    {"ca", CertType::ca, true},
    {"client-ca", CertType::client_ca, false},
    {"ui-ca", CertType::ui_ca, false},
    {"node", CertType::node, true},
    {"node-client", CertType::node_client, false},
    {"ui", CertType::ui, false},
    {"ca-client-tenant", CertType::tenant_ca, false},
    {"client-tenant", CertType::tenant_client, false},
}};

// The one statement per poll. Valid for CockroachDB and PostgreSQL: `->>` extracts the keys server
// side (never the whole metrics JSON), `extract(epoch from ...)` turns the TIMESTAMP into unix
// seconds. Columns: node_id, address, server_version, updated_at, then kClusterCertMetrics.
const std::string& node_status_query();

// The cluster's own id, read once per connection (it never changes while the cluster lives).
// Valid for CockroachDB and for the PostgreSQL test harness, which defines the function.
inline constexpr std::string_view kClusterIdQuery = "SELECT crdb_internal.cluster_id()";

// Who the cluster is, for crdb_cert_cluster_info.
struct ClusterIdentity {
  std::string id;
  std::string name;
};

// One row of the query, as text (NULL = nullopt), before interpretation.
struct NodeStatusRow {
  std::string node_id;
  std::string address;
  std::string server_version;
  std::optional<std::string> updated_at;  // unix seconds as decimal text
  std::array<std::optional<std::string>, kClusterCertMetrics.size()> expirations;
};

struct LocalNodeDetection {
  std::string node_id;  // empty when not exactly one node matched
  std::string note;     // why node_id is empty (for the log); empty on success
};
// Matches each node's address host (`host:port`, `[v6]:port`) against the host's names
// (case-insensitive, trailing dot ignored) and addresses (compared in canonical form).
LocalNodeDetection detect_local_node(const std::vector<NodeInfo>& nodes, const HostIdentity& host);

// Decimal text such as "1700000000", "1.7e9" or "1700000000.25" -> rounded unix seconds.
std::optional<std::int64_t> parse_unix_seconds(std::string_view text);

// Turns the rows into observations and cluster facts (docs/metrics.md "Cluster source"): a NULL key
// gives nothing; 0 gives a load_failed observation for required types and nothing otherwise; a
// positive value gives a not_after observation. `local_node_id` from config wins over detection;
// `host` is only consulted when it is unset.
PollResult interpret_node_status(const std::vector<NodeStatusRow>& rows,
                                 const std::optional<std::string>& configured_local_node_id,
                                 const std::function<HostIdentity()>& host,
                                 std::chrono::seconds node_stale_after = std::chrono::seconds{600},
                                 ClusterIdentity identity = {});

struct ClusterSourceOptions {
  // First wait after a failed connection attempt; doubles up to the poll interval.
  std::chrono::milliseconds initial_backoff{1000};
  std::function<std::chrono::steady_clock::time_point()> now = std::chrono::steady_clock::now;
  std::function<HostIdentity()> host_identity = current_host_identity;
  // alerting.node_stale_after: when a node's status counts as stale.
  std::chrono::seconds node_stale_after{600};
  // The first certs dir: node vars' default ca_file (ca-ui.crt there, else ca.crt).
  std::string certs_dir;
};

// Thread-safety: like every Source, poll() is called from one worker thread at a time. It blocks
// for at most about connect_timeout + statement_timeout (twice when a kept connection turns out to
// be dead and is replaced within the same poll). The connection is kept between polls.
class ClusterSource final : public Source {
 public:
  explicit ClusterSource(config::ClusterConfig cfg, ClusterSourceOptions options = {});
  // The registry entry: one cluster source when the config has a `cluster:` section.
  static void from_config(const config::Config& config, std::vector<std::shared_ptr<Source>>& out);
  ~ClusterSource() override;
  ClusterSource(const ClusterSource&) = delete;
  ClusterSource& operator=(const ClusterSource&) = delete;
  ClusterSource(ClusterSource&&) = delete;
  ClusterSource& operator=(ClusterSource&&) = delete;

  std::chrono::seconds interval() const override { return cfg_.poll_interval; }
  PollResult poll() override;
  bool same_config(const Source& next) const override;

 private:
  struct Failure {
    ErrorReason reason;
    std::string message;
  };
  // Connects and prepares the session; on failure schedules the next attempt (backoff).
  std::optional<Failure> connect();
  std::optional<Failure> query(std::vector<NodeStatusRow>& rows);
  // Reads cluster_id_ when the connection has not yet; a failure is the poll's partial error.
  std::optional<SourceError> read_cluster_id();
  PollResult failed(const Failure& failure) const;
  // cluster.node_vars: reads every node's /_status/vars and adds what they say to `result`.
  void add_node_vars(PollResult& result);

  // The libpqxx connection, kept out of this header.
  struct Connection;

  config::ClusterConfig cfg_;
  ClusterSourceOptions options_;
  std::unique_ptr<Connection> conn_;
  std::string cluster_id_;  // of the current connection; empty until read
  std::chrono::steady_clock::time_point next_connect_attempt_{};
  std::chrono::milliseconds backoff_;
  std::string last_connect_error_;
  // A poll skipped by the backoff fails for the reason the last attempt did (a wrong password
  // stays auth_failed), not for a reason of its own.
  ErrorReason last_connect_reason_ = ErrorReason::connect_failed;
  NodeVarsErrorCounts node_vars_errors_;  // per node and reason, since the daemon started
};

}  // namespace certwatch::sources
