// The probe section (TLS handshakes to node ports): parsed and validated here, with the shared
// helpers (config/section.hpp); the registry entry (sources/registry.cpp) carries it.
#include <algorithm>
#include <filesystem>
#include <map>
#include <utility>

#include "core/names.hpp"
#include "sources/sections.hpp"

namespace certwatch::sources {
namespace {

using namespace config;

class ProbeSectionParser : public SectionParser {
 public:
  explicit ProbeSectionParser(const SectionParser& parser) : SectionParser(parser.state()) {}

  // The probe source (issue 13): targets, from_cluster, timing, the CA and client files.
  void parse_probe(const Value& value, const Config& config, ProbeConfig& probe) {
    const auto fields = map_of(value, {"targets", "from_cluster", "poll_interval", "timeout",
                                       "concurrency", "ca_file", "client_cert", "client_key"});
    if (!fields) return;
    const auto protocol_of = [&](const Value& v) -> std::optional<ProbeProtocol> {
      const auto text = scalar_of(v, "postgres or tls");
      if (text == "postgres") return ProbeProtocol::postgres;
      if (text == "tls") return ProbeProtocol::tls;
      if (text) fail(v, "unknown protocol " + quote(*text) + " (expected postgres or tls)");
      return std::nullopt;
    };
    if (const Value* v = find(*fields, "targets"); v != nullptr) {
      std::map<std::string, std::string> seen;
      for (const Value& item : list_of(*v).value_or(std::vector<Value>{})) {
        const auto target = map_of(item, {"address", "protocol", "server_name", "node_id"});
        if (!target) continue;
        ProbeTarget t;
        if (const Value* a = require(*target, item, "address")) {
          const auto text = non_empty_string(*a);
          const auto split = text ? split_host_port(*text) : std::nullopt;
          if (text && !split) {
            fail(*a, "must be HOST:PORT ([IPv6]:PORT), port 1-65535, got " + quote(*text));
          } else if (split && !is_host_name_or_ip(split->host)) {
            // The host is the default server_name (SNI): the same rule as server_name's.
            fail(*a,
                 "host must be a DNS name (letters, digits, hyphens; labels of 1-63) or an IP "
                 "address, got " +
                     quote(split->host));
          } else if (split && !seen.emplace(*text, a->key).second) {
            fail(*a, "same target as " + seen[*text]);
          } else if (split) {
            t.address = *text;
            t.server_name = split->host;
          }
        }
        if (const Value* p = find(*target, "protocol"))
          t.protocol = protocol_of(*p).value_or(t.protocol);
        if (const Value* n = find(*target, "server_name")) {
          // Sent as SNI and matched against the served SANs: a NUL or a newline would cut or
          // forge the name, so only what a certificate could name passes.
          const auto text = non_empty_string(*n);
          if (text && !is_host_name_or_ip(*text)) {
            fail(*n,
                 "must be a DNS name (letters, digits, hyphens; labels of 1-63, 253 bytes in "
                 "all) or an IP address, got " +
                     quote(*text));
          } else if (text) {
            t.server_name = *text;
          }
        }
        if (const Value* n = find(*target, "node_id")) {
          if (const auto text = non_empty_string(*n)) t.node_id = *text;
        }
        if (!t.address.empty()) probe.targets.push_back(std::move(t));
      }
    }
    if (const Value* v = find(*fields, "from_cluster")) {
      if (const auto from = map_of(*v, {"enabled", "protocol", "http_port"})) {
        if (const Value* e = find(*from, "enabled")) set_bool(*e, probe.from_cluster);
        if (const Value* p = find(*from, "protocol")) {
          probe.from_cluster_protocol = protocol_of(*p).value_or(probe.from_cluster_protocol);
        }
        if (const Value* p = find(*from, "http_port")) {
          if (const auto port = port_of(*p)) probe.from_cluster_http_port = *port;
        }
        if (probe.from_cluster && !config.cluster) {
          fail(*v, "needs the cluster: section (the nodes come from kv_node_status)");
        }
      }
    }
    if (const Value* v = find(*fields, "poll_interval")) {
      set_duration(*v, kPollIntervalRange, probe.poll_interval);
    }
    if (const Value* v = find(*fields, "timeout")) set_duration(*v, kTimeoutRange, probe.timeout);
    // Each handshake in flight holds a socket and an SSL object; past 256 the probe competes with
    // the cluster it watches.
    if (const Value* v = find(*fields, "concurrency")) set_int(*v, 1, 256, probe.concurrency);
    if (const Value* v = find(*fields, "ca_file")) {
      if (const auto path = absolute_path(*v)) probe.ca_file = *path;
    } else if (!config.files.certs_dirs.empty()) {
      probe.ca_file = (std::filesystem::path(config.files.certs_dirs.front()) / "ca.crt").string();
    }
    const Value* cert = find(*fields, "client_cert");
    const Value* key = find(*fields, "client_key");
    if ((cert == nullptr) != (key == nullptr)) {
      fail(cert != nullptr ? *cert : *key, "client_cert and client_key go together");
    } else if (cert != nullptr) {
      if (const auto path = absolute_path(*cert)) probe.client_cert = *path;
      if (const auto path = absolute_path(*key)) probe.client_key = *path;
    }
    // Targets listed but all invalid were reported one by one: "nothing to probe" would be a
    // second error for the same mistake.
    const Value* listed = find(*fields, "targets");
    const bool targets_listed =
        listed != nullptr && listed->node.IsSequence() && listed->node.size() > 0;
    if (probe.targets.empty() && !probe.from_cluster && !targets_listed) {
      fail(value, "nothing to probe: list targets or enable from_cluster");
    }
  }
};

}  // namespace

void parse_probe_section(const config::SectionParser& parser, const config::Value& value,
                         config::Config& config) {
  config.probe.emplace();
  ProbeSectionParser(parser).parse_probe(value, config, *config.probe);
}

}  // namespace certwatch::sources
