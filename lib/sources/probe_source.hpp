// The probe source: what each node serves on the wire right now. For every target it resolves,
// connects, sends PostgreSQL's SSLRequest when the port is a SQL port (CockroachDB's SQL port
// speaks it), completes a TLS handshake, keeps the peer's chain and closes. It never sends a
// credential or a query.
//
// The served certificates become observations like a file's (source="probe"), so the expiry
// rules and the posture checks apply to them; per-target results are the source's own facts.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "config/config.hpp"
#include "sources/cluster_source.hpp"
#include "sources/source.hpp"

namespace certwatch::sources {

// One target's probe.
struct ProbeOutcome {
  config::ProbeTarget target;
  std::optional<SourceError> error;  // unset: the handshake completed
  double duration = 0;               // seconds, DNS to handshake
  std::string tls_version;           // "TLSv1.3"
  std::string cipher;                // "TLS_AES_256_GCM_SHA384"
  std::optional<std::int64_t> leaf_not_after;
  std::vector<std::string> chain_der;  // the peer's chain as sent, leaf first
};

struct ProbeOptions {
  std::chrono::milliseconds timeout{5000};  // per target, everything included
  int concurrency = 16;
  // When this much of the wall clock has passed, no further target is started: those left are
  // failed as not probed (timeout), so a poll of many silent targets ends about one `timeout`
  // after its budget (the probe's interval) instead of running on for minutes. Zero: no budget.
  std::chrono::milliseconds budget{0};
  // PEM of a client certificate chain and its key, for servers that ask for one; empty: none.
  std::string client_cert_pem;
  std::string client_key_pem;
};

// Probes every target with at most `concurrency` in flight, on a private io_context run by the
// calling thread; returns one outcome per target, in target order. A target costs at most
// `timeout` of the wall clock however its peer or its DNS behaves (stalls, floods, wrong
// protocol, a name server that never answers): names are looked up on threads of their own
// (net/resolver.hpp), so a lookup that hangs fails its own target (dns_failed) and no other.
std::vector<ProbeOutcome> probe_targets(const std::vector<config::ProbeTarget>& targets,
                                        const ProbeOptions& options);

// The per-target results: success, duration and TLS parameters as series, a table for the page
// and `check`, a finding per failing target.
class ProbeFacts final : public SourceFacts {
 public:
  std::vector<ProbeOutcome> outcomes;  // chain_der dropped: the observations hold the chain
  // Failed probes since the daemon started, per target still probed and reason
  // (crdb_cert_probe_errors_total).
  std::map<std::pair<std::string, ErrorReason>, std::uint64_t> errors_total;

  std::vector<Family> families() const override;
  std::vector<Table> tables() const override;
  std::vector<Finding> findings(double now) const override;
};

// Thread-safety: like every Source, poll() runs on one worker thread at a time and blocks for
// about timeout * ceil(targets / concurrency) at worst.
class ProbeSource final : public Source {
 public:
  explicit ProbeSource(config::ProbeConfig cfg);
  // The registry entry: one probe source when the config has a `probe:` section.
  static void from_config(const config::Config& config, std::vector<std::shared_ptr<Source>>& out);

  std::chrono::seconds interval() const override { return cfg_.poll_interval; }
  PollResult poll() override;
  bool same_config(const Source& next) const override;

  // With from_cluster, the cluster source's view: its nodes are probed too.
  std::vector<std::string> depends_on() const override;
  void receive(const std::string& source, const std::shared_ptr<const PollResult>& result) override;

  // The configured targets plus, with from_cluster, every node the cluster source last listed.
  std::vector<config::ProbeTarget> current_targets() const;

 private:
  config::ProbeConfig cfg_;
  mutable std::mutex nodes_mutex_;
  std::vector<NodeInfo> cluster_nodes_;  // the cluster source's last good list (from_cluster)
  std::map<std::pair<std::string, ErrorReason>, std::uint64_t> errors_total_;
};

}  // namespace certwatch::sources
