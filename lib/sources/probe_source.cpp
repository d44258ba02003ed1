#include "sources/probe_source.hpp"

#include <openssl/ssl.h>

#include <algorithm>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <cmath>
#include <functional>
#include <utility>

#include "core/metric_names.hpp"
#include "core/names.hpp"
#include "core/read_file.hpp"
#include "net/resolver.hpp"
#include "sources/cluster_source.hpp"
#include "x509/parse.hpp"

namespace certwatch::sources {
namespace {

namespace asio = boost::asio;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using SteadyClock = std::chrono::steady_clock;

// PostgreSQL's SSLRequest: length 8, then the code 80877103 (1234 << 16 | 5679), big-endian.
constexpr unsigned char kSslRequest[8] = {0x00, 0x00, 0x00, 0x08, 0x04, 0xd2, 0x16, 0x2f};
// A served chain longer than this is no certificate chain; OpenSSL refuses it mid-handshake.
constexpr long kMaxCertListBytes = 256 * 1024;
constexpr std::uint64_t kMaxPemBytes = 1024 * 1024;

// One target's probe: every step is an asynchronous operation on the shared io_context, and a
// deadline timer ends whichever step is running. Kept alive by its pending handlers.
class TargetProbe : public std::enable_shared_from_this<TargetProbe> {
 public:
  TargetProbe(asio::io_context& io, ssl::context& context, ProbeOutcome& outcome,
              std::chrono::milliseconds timeout, std::function<void()> done)
      : io_(io),
        outcome_(outcome),
        timeout_(timeout),
        done_(std::move(done)),
        stream_(io, context),
        deadline_(io) {}

  void start() {
    started_ = SteadyClock::now();
    const auto split = split_host_port(outcome_.target.address);
    if (!split) return finish(ErrorReason::bad_config, "not a HOST:PORT address");
    deadline_.expires_after(timeout_);
    deadline_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      if (ec) return;
      if (self->step_ == "resolving") {  // the name's DNS did not answer in time
        return self->finish(ErrorReason::dns_failed, "no answer to the name lookup within " +
                                                         std::to_string(self->timeout_.count()) +
                                                         " ms");
      }
      self->finish(ErrorReason::timeout, "no handshake within " +
                                             std::to_string(self->timeout_.count()) + " ms (" +
                                             self->step_ + ")");
    });
    step_ = "resolving";
    // A lookup thread of its own (net/resolver.hpp): a name whose DNS never answers holds its
    // own target only. The result comes back through the io_context.
    lookup_ = net::resolve(split->host, static_cast<std::uint16_t>(split->port),
                           [weak = weak_from_this(), &io = io_](net::ResolveResult result) {
                             if (auto self = weak.lock()) {
                               asio::post(io, [self, result = std::move(result)]() mutable {
                                 if (!result.error.empty()) {
                                   return self->finish(ErrorReason::dns_failed,
                                                       "resolving: " + result.error);
                                 }
                                 self->connect(result.endpoints);
                               });
                             }
                           });
  }

 private:
  void connect(const std::vector<tcp::endpoint>& endpoints) {
    if (finished_) return;
    step_ = "connecting";
    asio::async_connect(
        stream_.next_layer(), endpoints,
        [self = shared_from_this()](const boost::system::error_code& ec, const tcp::endpoint&) {
          if (ec) {
            return self->finish(ErrorReason::connect_failed, "connecting: " + ec.message());
          }
          if (self->outcome_.target.protocol == config::ProbeProtocol::postgres) {
            self->request_ssl();
          } else {
            self->handshake();
          }
        });
  }

  // The SQL port speaks PostgreSQL first: ask for TLS and read exactly one byte of answer, so a
  // peer that floods bytes costs one byte.
  void request_ssl() {
    if (finished_) return;
    step_ = "waiting for the SSLRequest answer";
    asio::async_write(
        stream_.next_layer(), asio::buffer(kSslRequest),
        [self = shared_from_this()](const boost::system::error_code& ec, std::size_t) {
          if (ec) return self->finish(ErrorReason::connect_failed, "SSLRequest: " + ec.message());
          asio::async_read(
              self->stream_.next_layer(), asio::buffer(&self->answer_, 1),
              [self](const boost::system::error_code& read_error, std::size_t) {
                if (read_error) {
                  return self->finish(ErrorReason::handshake_failed,
                                      "no answer to the SSLRequest: " + read_error.message());
                }
                if (self->answer_ == 'S') return self->handshake();
                if (self->answer_ == 'N') {
                  return self->finish(ErrorReason::ssl_refused,
                                      "the server answered N to the SSLRequest: TLS is off");
                }
                self->finish(ErrorReason::handshake_failed,
                             "the server answered byte " +
                                 std::to_string(static_cast<unsigned char>(self->answer_)) +
                                 " to the SSLRequest, not S or N: not a PostgreSQL protocol port");
              });
        });
  }

  void handshake() {
    if (finished_) return;
    step_ = "TLS handshake";
    const std::string& name = outcome_.target.server_name;
    // RFC 6066: SNI carries host names only, never an IP literal.
    if (!name.empty() && !canonical_ip(name)) {
      // SSL_set_tlsext_host_name without its macro's C cast.
      SSL_ctrl(stream_.native_handle(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
               const_cast<char*>(name.c_str()));
    }
    stream_.async_handshake(
        ssl::stream_base::client, [self = shared_from_this()](const boost::system::error_code& ec) {
          if (ec) {
            return self->finish(ErrorReason::handshake_failed, "TLS handshake: " + ec.message());
          }
          self->collect();
          self->finish(std::nullopt, {});
        });
  }

  void collect() {
    SSL* ssl = stream_.native_handle();
    outcome_.tls_version = SSL_get_version(ssl);
    if (const char* cipher = SSL_get_cipher_name(ssl)) outcome_.cipher = cipher;
    // On the client side the chain includes the peer's own certificate, first.
    const STACK_OF(X509)* chain = SSL_get_peer_cert_chain(ssl);
    const int count = chain == nullptr ? 0 : sk_X509_num(chain);
    for (int i = 0; i < count; ++i) {
      X509* cert = sk_X509_value(chain, i);
      const int length = i2d_X509(cert, nullptr);
      if (length <= 0) continue;
      std::string der(static_cast<std::size_t>(length), '\0');
      auto* out = reinterpret_cast<unsigned char*>(der.data());
      if (i2d_X509(cert, &out) == length) outcome_.chain_der.push_back(std::move(der));
    }
  }

  void finish(std::optional<ErrorReason> reason, std::string message) {
    if (finished_) return;
    finished_ = true;
    outcome_.duration = std::chrono::duration<double>(SteadyClock::now() - started_).count();
    if (reason) outcome_.error = SourceError{*reason, std::move(message)};
    // Ends whatever is still pending; its handler sees finished_ and does nothing. Nothing is
    // sent on close: no close_notify, the probe said all it had to say.
    boost::system::error_code ignored;
    deadline_.cancel();
    lookup_.reset();  // its callback never runs after this
    stream_.next_layer().close(ignored);
    done_();
  }

  asio::io_context& io_;
  ProbeOutcome& outcome_;
  std::chrono::milliseconds timeout_;
  std::function<void()> done_;
  std::unique_ptr<net::PendingLookup> lookup_;
  ssl::stream<tcp::socket> stream_;
  asio::steady_timer deadline_;
  SteadyClock::time_point started_{};
  std::string step_;
  char answer_ = 0;
  bool finished_ = false;
};

// The client side's TLS context: any chain is accepted at the handshake (the posture checks judge
// it afterwards, against ca_file), so an untrusted or expired chain is still seen.
std::optional<std::string> configure_context(ssl::context& context, const ProbeOptions& options) {
  SSL_CTX_set_verify(context.native_handle(), SSL_VERIFY_NONE, nullptr);
  SSL_CTX_set_max_cert_list(context.native_handle(), kMaxCertListBytes);
  if (options.client_cert_pem.empty()) return std::nullopt;
  boost::system::error_code ec;
  context.use_certificate_chain(asio::buffer(options.client_cert_pem), ec);
  if (!ec) {
    context.use_private_key(asio::buffer(options.client_key_pem), ssl::context::pem, ec);
  }
  if (ec) return "client certificate or key unusable: " + ec.message();
  return std::nullopt;
}

CertType chain_cert_type(const config::ProbeTarget& target, std::size_t index,
                         const CertificateFacts& facts) {
  if (index == 0) return target.cert_type;
  if (!facts.is_ca) return CertType::other;
  return target.cert_type == CertType::ui ? CertType::ui_ca : CertType::ca;
}

// Whether `host` is this machine: loopback, or one of its names and addresses.
bool is_this_host(const std::string& host, const std::optional<HostIdentity>& identity) {
  const auto ip = canonical_ip(host);
  if (ip ? (ip->starts_with("127.") || *ip == "::1") : canonical_dns_name(host) == "localhost") {
    return true;
  }
  if (!identity) return false;
  if (ip) {
    return std::any_of(identity->addresses.begin(), identity->addresses.end(),
                       [&](const std::string& a) { return canonical_ip(a) == ip; });
  }
  return std::any_of(identity->names.begin(), identity->names.end(), [&](const std::string& n) {
    return canonical_dns_name(n) == canonical_dns_name(host);
  });
}

}  // namespace

std::vector<ProbeOutcome> probe_targets(const std::vector<config::ProbeTarget>& targets,
                                        const ProbeOptions& options) {
  std::vector<ProbeOutcome> outcomes(targets.size());
  for (std::size_t i = 0; i < targets.size(); ++i) outcomes[i].target = targets[i];
  ssl::context context(ssl::context::tls_client);
  if (const auto error = configure_context(context, options)) {
    for (ProbeOutcome& outcome : outcomes) {
      outcome.error = SourceError{ErrorReason::bad_config, *error};
    }
    return outcomes;
  }
  asio::io_context io(1);
  std::size_t next = 0;
  std::size_t finished = 0;
  const auto started = std::chrono::steady_clock::now();
  const auto out_of_budget = [&] {
    return options.budget.count() > 0 &&
           std::chrono::steady_clock::now() - started >= options.budget;
  };
  std::function<void()> start_next = [&] {
    if (next >= outcomes.size()) return;
    if (out_of_budget()) {
      // The rest are not started: each is failed (and counted) as its own timeout, and the
      // poll ends once the probes in flight end.
      const std::string why = "not probed: the poll reached its budget of " +
                              std::to_string(options.budget.count() / 1000) +
                              " s (the probe interval) with " +
                              std::to_string(outcomes.size() - next) +
                              " targets left; raise probe.concurrency or lower probe.timeout";
      for (; next < outcomes.size(); ++next) {
        outcomes[next].error = SourceError{ErrorReason::timeout, why};
        ++finished;
      }
      if (finished == outcomes.size()) io.stop();
      return;
    }
    const std::size_t index = next++;
    std::make_shared<TargetProbe>(io, context, outcomes[index], options.timeout, [&] {
      ++finished;
      if (finished == outcomes.size()) {
        io.stop();
      } else {
        asio::post(io, start_next);
      }
    })->start();
  };
  const auto width = static_cast<std::size_t>(std::max(options.concurrency, 1));
  for (std::size_t i = 0; i < std::min(width, outcomes.size()); ++i) start_next();
  if (!outcomes.empty()) io.run();
  return outcomes;
}

ProbeSource::ProbeSource(config::ProbeConfig cfg)
    : Source(std::string(kSourceProbe)), cfg_(std::move(cfg)) {}

void ProbeSource::from_config(const config::Config& config,
                              std::vector<std::shared_ptr<Source>>& out) {
  if (config.probe) out.push_back(std::make_shared<ProbeSource>(*config.probe));
}

bool ProbeSource::same_config(const Source& next) const {
  const auto* other = dynamic_cast<const ProbeSource*>(&next);
  return other != nullptr && other->cfg_ == cfg_;
}

std::vector<std::string> ProbeSource::depends_on() const {
  if (!cfg_.from_cluster) return {};
  return {std::string(kSourceCluster)};
}

void ProbeSource::receive(const std::string& source,
                          const std::shared_ptr<const PollResult>& result) {
  if (source != kSourceCluster || !result) return;
  if (const auto* facts = facts_as<ClusterFacts>(*result)) {
    std::lock_guard lock(nodes_mutex_);
    cluster_nodes_ = facts->nodes;
  }
}

std::vector<config::ProbeTarget> ProbeSource::current_targets() const {
  std::vector<config::ProbeTarget> targets = cfg_.targets;
  if (!cfg_.from_cluster) return targets;
  const auto listed = [&](const std::string& address) {
    return std::any_of(targets.begin(), targets.end(),
                       [&](const config::ProbeTarget& t) { return t.address == address; });
  };
  std::vector<NodeInfo> nodes;
  {
    std::lock_guard lock(nodes_mutex_);
    nodes = cluster_nodes_;
  }
  for (const NodeInfo& node : nodes) {
    const auto split = split_host_port(node.address);
    if (!split || listed(node.address)) continue;
    targets.push_back(
        {node.address, cfg_.from_cluster_protocol, split->host, node.node_id, CertType::node});
    if (cfg_.from_cluster_http_port) {
      const bool v6 = split->host.find(':') != std::string::npos;
      const std::string http = (v6 ? "[" + split->host + "]" : split->host) + ":" +
                               std::to_string(*cfg_.from_cluster_http_port);
      if (!listed(http)) {
        targets.push_back(
            {http, config::ProbeProtocol::tls, split->host, node.node_id, CertType::ui});
      }
    }
  }
  return targets;
}

PollResult ProbeSource::poll() {
  ProbeOptions options;
  options.timeout = cfg_.timeout;
  options.concurrency = cfg_.concurrency;
  options.budget = std::chrono::duration_cast<std::chrono::milliseconds>(cfg_.poll_interval);
  if (!cfg_.client_cert.empty()) {
    BoundedRead cert = read_regular_file(cfg_.client_cert, kMaxPemBytes);
    BoundedRead key = read_regular_file(cfg_.client_key, kMaxPemBytes);
    if (cert.error || key.error) {
      return PollResult::failed(
          ErrorReason::bad_config,
          "client certificate: " + describe(cert.error ? *cert.error : *key.error));
    }
    options.client_cert_pem = std::move(cert.content);
    options.client_key_pem = std::move(key.content);
  }
  // The CA the served chains must verify against: read each poll, so a rotated ca_file counts.
  auto anchors = std::make_shared<std::vector<CertificateFacts>>();
  if (!cfg_.ca_file.empty()) {
    BoundedRead ca = read_regular_file(cfg_.ca_file, kMaxPemBytes);
    if (!ca.error) *anchors = x509::parse_pem_bundle(ca.content).certificates;
  }

  PollResult result;
  auto facts = std::make_shared<ProbeFacts>();
  // This host's name is looked up while the targets are probed (is_this_host needs it), so a
  // DNS that never answers costs the poll nothing beyond the probes' own timeout.
  HostIdentityLookup own_identity;
  const auto probing_ends = std::chrono::steady_clock::now() + cfg_.timeout;
  facts->outcomes = probe_targets(current_targets(), options);
  // The counters follow the targets: one no longer probed is forgotten, so from_cluster's churn
  // cannot grow them without bound.
  std::map<std::pair<std::string, ErrorReason>, std::uint64_t> counted;
  for (const ProbeOutcome& outcome : facts->outcomes) {
    const std::string& target = outcome.target.address;
    for (auto it = errors_total_.lower_bound({target, ErrorReason{}});
         it != errors_total_.end() && it->first.first == target; ++it) {
      counted.insert(*it);
    }
    if (outcome.error) ++counted[{target, outcome.error->reason}];
  }
  errors_total_ = std::move(counted);
  facts->errors_total = errors_total_;
  std::optional<HostIdentity> identity;  // looked up once, and only for a name not loopback
  for (ProbeOutcome& outcome : facts->outcomes) {
    if (outcome.error) {
      result.partial_errors.push_back(
          {outcome.error->reason, outcome.target.address + ": " + outcome.error->message});
      continue;
    }
    const auto split = split_host_port(outcome.target.address);
    const auto local = [&] {
      if (!split) return false;
      if (!is_this_host(split->host, std::nullopt) && !identity) {
        // Up to the end of one probe timeout, no longer.
        identity = own_identity.get(std::max(std::chrono::duration_cast<std::chrono::milliseconds>(
                                                 probing_ends - std::chrono::steady_clock::now()),
                                             std::chrono::milliseconds{0}));
      }
      return is_this_host(split->host, identity);
    }();
    for (std::size_t i = 0; i < outcome.chain_der.size(); ++i) {
      auto parsed = x509::parse_der(outcome.chain_der[i]);
      if (!parsed) continue;  // a served blob OpenSSL accepted but we cannot read: not exported
      CertObservation cert;
      cert.id.source = std::string(kSourceProbe);
      cert.id.cert_type = chain_cert_type(outcome.target, i, *parsed);
      cert.id.node_id = outcome.target.node_id;
      cert.id.path = outcome.target.address;
      cert.id.index = std::to_string(i);
      cert.not_after = parsed->not_after;
      cert.not_before = parsed->not_before;
      cert.local_node = local;
      if (i == 0) {
        outcome.leaf_not_after = parsed->not_after;
        cert.dialed_name = outcome.target.server_name;
        cert.trust_anchors = anchors;
      }
      cert.facts = std::make_shared<const CertificateFacts>(std::move(*parsed));
      result.certificates.push_back(std::move(cert));
    }
    outcome.chain_der.clear();
  }
  result.facts = std::move(facts);
  return result;
}

std::vector<Family> ProbeFacts::families() const {
  Family success{std::string(metric::kProbeSuccess),
                 "1 when the last probe of the target completed a TLS handshake, 0 otherwise; "
                 "the reason is counted in crdb_cert_source_errors_total{source=\"probe\"}.",
                 Family::Type::gauge,
                 true,
                 {}};
  Family duration{std::string(metric::kProbeDuration),
                  "How long the last probe of the target took (DNS to handshake), in seconds.",
                  Family::Type::gauge,
                  true,
                  {}};
  Family info{std::string(metric::kProbeTlsInfo),
              "The TLS version and cipher the target negotiated in the last probe. Always 1.",
              Family::Type::gauge,
              true,
              {}};
  for (const ProbeOutcome& outcome : outcomes) {
    const std::string& target = outcome.target.address;
    success.series.push_back({{{"target", target}}, outcome.error ? 0.0 : 1.0});
    duration.series.push_back({{{"target", target}}, outcome.duration});
    if (!outcome.error) {
      info.series.push_back(
          {{{"target", target}, {"version", outcome.tls_version}, {"cipher", outcome.cipher}}, 1});
    }
  }
  Family errors{std::string(metric::kProbeErrors),
                "Failed probes of the target since the daemon started, by reason (dns_failed, "
                "connect_failed, timeout, ssl_refused, handshake_failed).",
                Family::Type::counter,
                true,
                {}};
  for (const auto& [key, count] : errors_total) {
    errors.series.push_back(
        {{{"target", key.first}, {"reason", std::string(to_string(key.second))}},
         static_cast<double>(count)});
  }
  return {std::move(success), std::move(duration), std::move(info), std::move(errors)};
}

std::vector<Table> ProbeFacts::tables() const {
  Table table{
      "Probe targets", {"Target", "Node", "Result", "TLS", "Served leaf expires", "Took"}, {}};
  for (const ProbeOutcome& outcome : outcomes) {
    const std::string result = outcome.error ? std::string(to_string(outcome.error->reason)) : "ok";
    table.rows.push_back(
        {Cell{outcome.target.address, {}, true, ""}, Cell{outcome.target.node_id, {}, false, ""},
         Cell{result, {}, false, outcome.error ? outcome.error->message : ""},
         Cell{outcome.tls_version, {}, false, outcome.cipher},
         outcome.leaf_not_after ? Cell{"", static_cast<double>(*outcome.leaf_not_after), false, ""}
                                : Cell{},
         Cell{std::to_string(static_cast<int>(std::lround(outcome.duration * 1000))) + " ms",
              {},
              false,
              ""}});
  }
  return {std::move(table)};
}

std::vector<Finding> ProbeFacts::findings(double now) const {
  static_cast<void>(now);
  std::vector<Finding> out;
  for (const ProbeOutcome& outcome : outcomes) {
    if (!outcome.error) continue;
    out.push_back({Condition::probe_failed, outcome.target.address,
                   "Probing " + outcome.target.address + " failed (" +
                       std::string(to_string(outcome.error->reason)) +
                       "): " + outcome.error->message});
  }
  return out;
}

}  // namespace certwatch::sources

namespace certwatch {
namespace {

constexpr ConditionRow kProbeFailed{
    "probe_failed", Severity::warning, "CrdbCertProbeFailed",
    "The target did not complete a TLS handshake: clients cannot connect either.",
    "Check the target is up and reachable and speaks TLS: openssl s_client -connect "
    "<host>:<port> -starttls postgres."};
// Raised by the snapshot, which compares what the probe saw with the disk and the cluster.
constexpr ConditionRow kServedMismatch{
    "served_mismatch", Severity::warning, "CrdbCertServedMismatch",
    "The node serves another certificate than the one on disk or in its report.",
    "SIGHUP the node (pkill -SIGHUP -x cockroach) or, on Kubernetes, kubectl rollout restart "
    "statefulset/<name>; then check the probe again."};

}  // namespace

const Condition Condition::probe_failed{kProbeFailed};
const Condition Condition::served_mismatch{kServedMismatch};

}  // namespace certwatch
