#include "sources/node_vars.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <exception>
#include <set>
#include <system_error>
#include <thread>

#include "core/metric_names.hpp"
#include "core/text.hpp"
#include "net/https_get.hpp"
#include "sources/cluster_source.hpp"
#include "sources/host_identity.hpp"
#include "sources/prom_text.hpp"

namespace certwatch::sources {
namespace {

using SteadyClock = std::chrono::steady_clock;

// Node ids are integers: "2" before "10"; anything else after, by text.
bool node_id_less(const std::string& a, const std::string& b) {
  const auto numeric = [](const std::string& s) {
    return !s.empty() &&
           std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
  };
  const bool na = numeric(a);
  const bool nb = numeric(b);
  if (na != nb) return na;
  if (na && a.size() != b.size()) return a.size() < b.size();
  return a < b;
}

std::string label_of(const LabelPairs& labels, std::string_view name) {
  for (const auto& [key, value] : labels) {
    if (key == name) return value;
  }
  return {};
}

bool has_label(const LabelPairs& labels, std::string_view name) {
  return std::any_of(labels.begin(), labels.end(), [&](const auto& l) { return l.first == name; });
}

// Far beyond any notAfter (year 9999 is 2.5e11); keeps the conversion defined.
std::optional<std::int64_t> whole_seconds(double value) {
  if (!std::isfinite(value) || value <= 0 || value > 1e15) return std::nullopt;
  return static_cast<std::int64_t>(std::llround(value));
}

NodeScrape scrape_one(const NodeInfo& node, const NodeVarsOptions& options, std::int64_t now) {
  NodeScrape scrape;
  scrape.node_id = node.node_id;
  const std::string host = address_host(node.address);
  const auto own_port = options.port_by_node.find(node.node_id);
  const std::string port =
      std::to_string(own_port != options.port_by_node.end() ? own_port->second : options.http_port);
  scrape.target = (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + port;
  if (host.empty()) {
    scrape.error =
        SourceError{ErrorReason::bad_config, "node " + node.node_id + "'s address " +
                                                 escape_for_display(node.address) + " has no host"};
    return scrape;
  }
  const auto started = SteadyClock::now();
  try {
    net::HttpsGetRequest request;
    request.host = host;
    request.port = port;
    request.target = "/_status/vars";
    request.headers = {{"Accept", "text/plain"}};
    request.ca_file = options.ca_file;
    request.client_cert_file = options.client_cert;
    request.client_key_file = options.client_key;
    request.timeout = options.timeout;
    request.body_limit = options.max_bytes;
    net::HttpsGetResult got = net::https_get(request);
    if (got.error) {
      scrape.error = std::move(got.error);
    } else if (got.response.status != 200) {
      const unsigned status = got.response.status;
      scrape.error = SourceError{
          status == 404                    ? ErrorReason::not_found
          : status >= 500                  ? ErrorReason::server_error
          : status == 401 || status == 403 ? ErrorReason::auth_failed
                                           : ErrorReason::bad_response,
          "HTTP " + std::to_string(status) + " from " + scrape.target + "/_status/vars"};
    } else {
      NodeVarsRead read = read_node_vars(got.response.body, now);
      if (read.error) {
        scrape.error = SourceError{read.error->reason,
                                   scrape.target + "/_status/vars: " + read.error->message};
      } else {
        scrape.reading = std::move(read.reading);
      }
    }
  } catch (const std::exception& e) {  // bad_alloc, thread or socket exhaustion
    scrape.error = SourceError{ErrorReason::internal_error,
                               "reading " + scrape.target + "/_status/vars: " + e.what()};
  }
  scrape.duration = std::chrono::duration<double>(SteadyClock::now() - started).count();
  return scrape;
}

}  // namespace

NodeVarsRead read_node_vars(std::string_view body, std::int64_t now) {
  NodeVarsRead out;
  const PromParse parsed = parse_prom_text(body, {kClientExpirationFamily, kClientTtlFamily});
  if (parsed.error) {
    out.error = SourceError{ErrorReason::bad_response, "not Prometheus text: " + *parsed.error};
    return out;
  }
  out.reading.families_present = !parsed.families_seen.empty();
  std::map<std::string, std::int64_t> by_expiry;
  std::map<std::string, std::int64_t> by_ttl;
  for (const PromSample& sample : parsed.samples) {
    if (!has_label(sample.labels, "sql_user")) continue;  // the parent aggregate
    out.reading.per_user = true;
    const std::string user = label_of(sample.labels, "sql_user");
    const auto seconds = whole_seconds(sample.value);
    if (user.empty() || !seconds) continue;  // no certificate (0), or no user to name
    auto& into = sample.name == kClientExpirationFamily ? by_expiry : by_ttl;
    const std::int64_t value = sample.name == kClientExpirationFamily ? *seconds : now + *seconds;
    auto [it, inserted] = into.emplace(user, value);
    if (!inserted) it->second = std::min(it->second, value);
  }
  for (const auto& [user, ttl_expiry] : by_ttl) by_expiry.emplace(user, ttl_expiry);
  for (const auto& [user, not_after] : by_expiry) out.reading.certs.push_back({user, not_after});
  return out;
}

std::vector<NodeScrape> scrape_node_vars(const std::vector<NodeInfo>& nodes,
                                         const NodeVarsOptions& options, std::int64_t now) {
  std::vector<NodeScrape> out(nodes.size());
  const auto started = SteadyClock::now();
  std::atomic<std::size_t> next{0};
  auto run = [&] {
    for (std::size_t i; (i = next.fetch_add(1)) < nodes.size();) {
      if (options.budget.count() > 0 && SteadyClock::now() - started >= options.budget) {
        out[i].node_id = nodes[i].node_id;
        out[i].target = address_host(nodes[i].address);
        out[i].error = SourceError{ErrorReason::timeout,
                                   "not read: the poll's budget of " +
                                       std::to_string(options.budget.count()) + " ms ran out"};
        continue;
      }
      out[i] = scrape_one(nodes[i], options, now);
    }
  };
  // Threads of this poll's own: each blocks in one https_get at a time (lib/core/parallel caps
  // its threads at the cores, which suits CPU work, not waiting on peers).
  const std::size_t threads = std::min<std::size_t>(
      static_cast<std::size_t>(std::max(options.concurrency, 1)), nodes.size());
  std::vector<std::thread> helpers;
  for (std::size_t t = 1; t < threads; ++t) {
    try {
      helpers.emplace_back(run);
    } catch (const std::system_error&) {
      break;  // TasksMax or RLIMIT_NPROC: the threads that exist do the work
    }
  }
  run();
  for (std::thread& helper : helpers) helper.join();
  return out;
}

NodeVarsOutcome interpret_node_vars(const std::vector<NodeScrape>& scrapes,
                                    NodeVarsErrorCounts& errors_total) {
  NodeVarsOutcome out;
  auto facts = std::make_shared<NodeVarsFacts>();
  // (user, expiry) -> nodes
  std::map<std::pair<std::string, std::int64_t>, std::vector<std::string>> seen;
  std::set<std::string> listed;
  for (const NodeScrape& scrape : scrapes) {
    listed.insert(scrape.node_id);
    facts->nodes.push_back({scrape.node_id, scrape.target, scrape.error, scrape.duration,
                            scrape.reading.families_present, scrape.reading.per_user});
    if (scrape.error) {
      ++errors_total[{scrape.node_id, scrape.error->reason}];
      out.partial_errors.push_back({scrape.error->reason, "node vars of node " + scrape.node_id +
                                                              ": " + scrape.error->message});
      continue;
    }
    for (const ClientCertSeen& cert : scrape.reading.certs) {
      seen[{cert.user, cert.not_after}].push_back(scrape.node_id);
      ++facts->seen_by_user[cert.user];
    }
  }
  for (auto it = errors_total.begin(); it != errors_total.end();) {
    it = listed.contains(it->first.first) ? std::next(it) : errors_total.erase(it);
  }
  facts->errors_total = errors_total;
  for (auto& [key, node_ids] : seen) {
    std::sort(node_ids.begin(), node_ids.end(), node_id_less);
    CertObservation observation;
    observation.id.source = std::string(kSourceCluster);
    observation.id.cert_type = CertType::client;
    observation.id.node_id = node_ids.front();
    observation.id.user = key.first;
    observation.not_after = key.second;
    out.certificates.push_back(std::move(observation));
    facts->clients.push_back({key.first, key.second, std::move(node_ids)});
  }
  out.facts = std::move(facts);
  return out;
}

bool NodeVarsFacts::child_metrics_off() const {
  bool read = false;
  for (const Node& node : nodes) {
    if (node.error) continue;
    read = true;
    if (node.per_user) return false;
  }
  return read;
}

std::vector<Family> NodeVarsFacts::families() const {
  Family seen{std::string(metric::kClientSeen),
              "How many nodes reported a client certificate for the SQL user in their "
              "/_status/vars (security_certificate_expiration_client).",
              Family::Type::gauge,
              true,
              {}};
  for (const auto& [user, count] : seen_by_user) {
    seen.series.push_back({{{"user", user}}, static_cast<double>(count)});
  }
  Family success{std::string(metric::kNodeVarsSuccess),
                 "1 when the node's /_status/vars was read and parsed in the last poll.",
                 Family::Type::gauge,
                 true,
                 {}};
  for (const Node& node : nodes) {
    success.series.push_back({{{"node_id", node.node_id}}, node.error ? 0.0 : 1.0});
  }
  Family errors{std::string(metric::kNodeVarsErrors),
                "Failed reads of a node's /_status/vars since the daemon started, by reason "
                "(connect_failed, handshake_failed, timeout, bad_response, not_found, ...).",
                Family::Type::counter,
                true,
                {}};
  for (const auto& [key, count] : errors_total) {
    errors.series.push_back(
        {{{"node_id", key.first}, {"reason", std::string(to_string(key.second))}},
         static_cast<double>(count)});
  }
  Family child{std::string(metric::kClientChildMetrics),
               "1 when some node's /_status/vars carries per-SQL-user client certificate "
               "children, 0 when the bodies read carry none (server.child_metrics.enabled is off, "
               "or no client has presented a certificate). Absent when no body was read.",
               Family::Type::gauge,
               true,
               {}};
  const bool any_read =
      std::any_of(nodes.begin(), nodes.end(), [](const Node& n) { return !n.error; });
  if (any_read) child.series.push_back({{}, child_metrics_off() ? 0.0 : 1.0});
  return {std::move(seen), std::move(success), std::move(errors), std::move(child)};
}

std::vector<Finding> NodeVarsFacts::findings() const {
  if (!child_metrics_off()) return {};
  return {{Condition::client_child_metrics_off, "",
           "No node's /_status/vars names a SQL user's client certificate: child metrics are off "
           "(turn them on with " +
               std::string(kChildMetricsStatement) +
               "), no client has connected with a certificate since the nodes started, or the "
               "nodes' version predates per-user client certificate metrics."}};
}

std::vector<Table> NodeVarsFacts::tables() const {
  Table table{"Node vars (/_status/vars)", {"Node", "Target", "Result", "Users seen"}, {}};
  std::map<std::string, std::size_t> users_per_node;
  for (const ClientCertificate& client : clients) {
    for (const std::string& node : client.node_ids) ++users_per_node[node];
  }
  for (const Node& node : nodes) {
    std::string result = "read";
    if (node.error) {
      result = std::string(to_string(node.error->reason)) + ": " + node.error->message;
    } else if (!node.per_user) {
      result = node.families_present ? "read; no per-user children" : "read; no client families";
    }
    table.rows.push_back({Cell{node.node_id, {}, false, ""}, Cell{node.target, {}, true, ""},
                          Cell{result, {}, false, ""},
                          Cell{std::to_string(users_per_node[node.node_id]), {}, false, ""}});
  }
  return {std::move(table)};
}

std::optional<Table> client_inventory(const std::vector<ClientCertificate>& clients,
                                      const std::vector<const CertObservation*>& certificates) {
  if (clients.empty()) return std::nullopt;
  struct Row {
    std::int64_t earliest = 0;
    std::set<std::string> expiries;
    std::vector<std::string> nodes;
  };
  std::map<std::string, Row> users;
  for (const ClientCertificate& client : clients) {
    Row& row = users[client.user];
    if (row.expiries.empty() || client.not_after < row.earliest) row.earliest = client.not_after;
    row.expiries.insert(std::to_string(client.not_after));
    for (const std::string& node : client.node_ids) {
      if (std::find(row.nodes.begin(), row.nodes.end(), node) == row.nodes.end()) {
        row.nodes.push_back(node);
      }
    }
  }
  Table table{std::string(kClientInventoryTitle),
              {"User", "Earliest expiry", "Expiries", "Nodes", "File on this host"},
              {}};
  // Soonest expiry first, so the cap below drops the ones with most time left.
  std::vector<std::pair<std::string, Row*>> order;
  for (auto& [user, row] : users) order.emplace_back(user, &row);
  std::stable_sort(order.begin(), order.end(), [](const auto& a, const auto& b) {
    return a.second->earliest < b.second->earliest;
  });
  constexpr std::size_t kMaxRows = 1000;  // the table-row cap of every source (docs/metrics.md)
  for (std::size_t i = 0; i < order.size(); ++i) {
    if (i == kMaxRows) {
      table.rows.push_back({Cell{"... and " + std::to_string(order.size() - kMaxRows) +
                                     " more users (crdb_cert_client_seen lists them all)",
                                 {},
                                 false,
                                 ""},
                            Cell{}, Cell{}, Cell{}, Cell{}});
      break;
    }
    const std::string& user = order[i].first;
    Row& row = *order[i].second;
    std::sort(row.nodes.begin(), row.nodes.end(), node_id_less);
    std::string nodes;
    for (const std::string& node : row.nodes) nodes += (nodes.empty() ? "" : ", ") + node;
    // client.<user>.crt read by the file source, with one of the reported expiries.
    std::string match = "no";
    std::string note;
    for (const CertObservation* cert : certificates) {
      if (cert->id.source != kSourceFile || cert->id.cert_type != CertType::client ||
          cert->id.user != user || !cert->not_after) {
        continue;
      }
      if (row.expiries.contains(std::to_string(*cert->not_after))) {
        match = "yes";
        note = cert->id.path;
        break;
      }
      match = "another expiry";
      note = cert->id.path;
    }
    table.rows.push_back({Cell{user, {}, true, ""},
                          Cell{"", static_cast<double>(row.earliest), false, ""},
                          Cell{std::to_string(row.expiries.size()), {}, false, ""},
                          Cell{nodes, {}, false, ""}, Cell{match, {}, false, note}});
  }
  return table;
}

}  // namespace certwatch::sources
