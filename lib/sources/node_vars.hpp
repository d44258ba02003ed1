// The node vars part of the cluster source (issue 27): the client certificates CockroachDB saw per
// SQL user. For each node kv_node_status lists, GET https://HOST:http_port/_status/vars (HOST from
// the node's address), parse the Prometheus text strictly (sources/prom_text.hpp) and keep
// security_certificate_expiration_client and security_certificate_ttl_client, whose sql_user
// children carry the lowest expiry each node has seen for that user (with
// server.child_metrics.enabled on). Each (user, distinct expiry) becomes a certificate with
// source="cluster", cert_type="client", `user` and node_id the lowest node that reported it.
//
// Pure parts (read_node_vars, interpret_node_vars, client_inventory) are tested on strings; the
// I/O (scrape_node_vars) uses net/https_get, bounded in time, bytes and concurrency.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/report.hpp"
#include "core/types.hpp"

namespace certwatch::sources {

struct NodeInfo;

inline constexpr std::string_view kClientExpirationFamily =
    "security_certificate_expiration_client";
inline constexpr std::string_view kClientTtlFamily = "security_certificate_ttl_client";
// The SET that turns per-user children on (the child-metrics finding and its fix quote it).
inline constexpr std::string_view kChildMetricsStatement =
    "SET CLUSTER SETTING server.child_metrics.enabled = true;";
// The status page's and the audit's section title.
inline constexpr std::string_view kClientInventoryTitle = "Client certificates in use";

struct ClientCertSeen {
  std::string user;
  std::int64_t not_after = 0;  // unix seconds

  friend bool operator==(const ClientCertSeen&, const ClientCertSeen&) = default;
};

// What one node's body says about client certificates.
struct NodeVarsReading {
  bool families_present = false;      // either family appears (HELP, TYPE or a sample)
  bool per_user = false;              // at least one sample with a sql_user label
  std::vector<ClientCertSeen> certs;  // one per user, sorted by user

  friend bool operator==(const NodeVarsReading&, const NodeVarsReading&) = default;
};

struct NodeVarsRead {
  std::optional<SourceError> error;  // bad_response: the body is not Prometheus text
  NodeVarsReading reading;
};

// Pure: one body. The expiration sample gives notAfter; a user with only a TTL sample gets
// now + ttl. A value of 0 (or below) means no certificate and is skipped; a user given twice keeps
// the lowest expiry. A sample without sql_user is the family's parent aggregate: it shows the
// family is there, nothing more.
NodeVarsRead read_node_vars(std::string_view body, std::int64_t now);

// One node's scrape.
struct NodeScrape {
  std::string node_id;
  std::string target;  // the HOST:PORT dialed ([v6]:PORT)
  std::optional<SourceError> error;
  double duration = 0;  // seconds
  NodeVarsReading reading;
};

struct NodeVarsOptions {
  int http_port = 8080;
  std::string ca_file;  // resolved; empty: the system store
  std::string client_cert;
  std::string client_key;
  std::chrono::milliseconds timeout{10000};  // per node, everything included
  int concurrency = 8;
  std::uint64_t max_bytes = 16 * 1024 * 1024;
  // No node is started once this much of the wall clock has passed (zero: no budget): those left
  // fail as timeout, so a poll with many hanging nodes ends about one timeout after the budget.
  std::chrono::milliseconds budget{0};
  // A node's port when it is not http_port, by node id: the seam that lets tests give each node a
  // stand-in of its own on 127.0.0.1 (a real cluster's DB Consoles share one port).
  std::map<std::string, int> port_by_node;
};

// Reads every node's /_status/vars on up to `concurrency` threads of its own (each body is parsed
// and freed on its thread, so at most concurrency * max_bytes is held). Blocks for at most about
// timeout * ceil(nodes / concurrency), and about budget + timeout with a budget. One result per
// node, in node order.
std::vector<NodeScrape> scrape_node_vars(const std::vector<NodeInfo>& nodes,
                                         const NodeVarsOptions& options, std::int64_t now);

// One (user, expiry) the cluster reports, and the nodes that reported it (numeric order).
struct ClientCertificate {
  std::string user;
  std::int64_t not_after = 0;
  std::vector<std::string> node_ids;

  friend bool operator==(const ClientCertificate&, const ClientCertificate&) = default;
};

// Per-node scrape failures since the daemon started, per node and reason.
using NodeVarsErrorCounts = std::map<std::pair<std::string, ErrorReason>, std::uint64_t>;

// What the node vars part knows besides certificates; the cluster source's facts carry it.
class NodeVarsFacts {
 public:
  struct Node {
    std::string node_id;
    std::string target;
    std::optional<SourceError> error;
    double duration = 0;
    bool families_present = false;
    bool per_user = false;
  };
  std::vector<Node> nodes;
  std::vector<ClientCertificate> clients;           // by user, then expiry
  std::map<std::string, std::size_t> seen_by_user;  // how many nodes reported the user
  NodeVarsErrorCounts errors_total;

  // Whether some node's body was read and none carried per-user children.
  bool child_metrics_off() const;
  std::vector<Family> families() const;
  std::vector<Finding> findings() const;
  std::vector<Table> tables() const;  // per-node scrape results
};

struct NodeVarsOutcome {
  std::vector<CertObservation> certificates;
  std::vector<SourceError> partial_errors;  // one per failed node
  std::shared_ptr<const NodeVarsFacts> facts;
};

// Pure: the scrapes as certificates (one per user and distinct expiry, node_id the lowest node
// that reported it) and facts. `errors_total` is the running count, updated with this poll's
// failures and pruned to the nodes still listed.
NodeVarsOutcome interpret_node_vars(const std::vector<NodeScrape>& scrapes,
                                    NodeVarsErrorCounts& errors_total);

// The "Client certificates in use" section: per user the earliest expiry, the nodes that saw the
// user, and whether a client.<user>.crt read by the file source on this host has one of the
// reported expiries. Null when there are no client certificates to show.
std::optional<Table> client_inventory(const std::vector<ClientCertificate>& clients,
                                      const std::vector<const CertObservation*>& certificates);

}  // namespace certwatch::sources
