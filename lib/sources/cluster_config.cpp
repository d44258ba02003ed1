// The cluster section (the CockroachDB SQL connection): parsed and validated here, with the shared
// helpers (config/section.hpp); the registry entry (sources/registry.cpp) carries it.
#include <libpq-fe.h>

#include <algorithm>
#include <utility>

#include "core/libpq_handles.hpp"
#include "core/names.hpp"
#include "sources/sections.hpp"

namespace certwatch::sources {
namespace {

using namespace config;

constexpr std::size_t kMaxDsnFileBytes = 64 * 1024;

// A libpq connection string is a URL or keyword=value pairs. Only the shape is checked; the
// value itself is never echoed because it may carry a password.
// libpq's own parser, so --config.check catches what every poll would fail on. Its error text
// may quote parts of the string, so only the verdict is used.
bool libpq_parses(const std::string& dsn) {
  char* error = nullptr;
  const libpq::ConninfoPtr options(PQconninfoParse(dsn.c_str(), &error));
  const libpq::MemPtr error_owner(error);
  return options != nullptr;
}

bool looks_like_dsn(std::string_view dsn) {
  if (dsn.starts_with("postgresql://") || dsn.starts_with("postgres://")) return true;
  return dsn.find("://") == std::string_view::npos && dsn.find('=') != std::string_view::npos;
}

class ClusterSectionParser : public SectionParser {
 public:
  explicit ClusterSectionParser(const SectionParser& parser) : SectionParser(parser.state()) {}

  void parse_cluster(const Value& value, ClusterConfig& cluster) {
    const auto fields = map_of(value, {"dsn", "dsn_file", "poll_interval", "connect_timeout",
                                       "statement_timeout", "local_node_id", "node_vars", "name"});
    if (!fields) return;
    const Value* dsn = find(*fields, "dsn");
    const Value* dsn_file = find(*fields, "dsn_file");
    if (dsn != nullptr && dsn_file != nullptr) {
      fail(*dsn_file, "cannot be combined with cluster.dsn (set only one)");
    } else if (dsn != nullptr) {
      // Never echo the value: it may hold a password.
      if (const auto text = non_empty_string(*dsn)) {
        if (!looks_like_dsn(*text)) {
          fail(*dsn, "must be a postgresql:// URL or a key=value connection string");
        } else if (!libpq_parses(*text)) {
          fail(*dsn,
               "libpq cannot parse this connection string (not shown: it may hold a "
               "password)");
        } else {
          cluster.dsn = *text;
        }
      }
    } else if (dsn_file != nullptr) {
      read_dsn_file(*dsn_file, cluster);
    } else {
      fail(value, "one of dsn or dsn_file is required");
    }
    if (const Value* v = find(*fields, "poll_interval")) {
      set_duration(*v, kPollIntervalRange, cluster.poll_interval);
    }
    if (const Value* v = find(*fields, "connect_timeout")) {
      set_duration(*v, kTimeoutRange, cluster.connect_timeout);
    }
    if (const Value* v = find(*fields, "statement_timeout")) {
      set_duration(*v, kTimeoutRange, cluster.statement_timeout);
    }
    if (const Value* v = find(*fields, "local_node_id")) {
      if (const auto text = scalar_of(*v, "a node id (string or integer)")) {
        if (text->empty()) {
          fail(*v, "must not be empty");
        } else {
          cluster.local_node_id = *text;
        }
      }
    }
    if (const Value* v = find(*fields, "node_vars")) parse_node_vars(*v, cluster.node_vars);
    // A label value (crdb_cert_cluster_info's cluster_name): printable, short.
    if (const Value* v = find(*fields, "name")) {
      if (const auto text = non_empty_string(*v)) {
        const bool printable = std::none_of(text->begin(), text->end(), [](char c) {
          return static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
        });
        if (text->size() > 128 || !printable) {
          fail(*v, "must be at most 128 bytes without control characters");
        } else {
          cluster.name = *text;
        }
      }
    }
  }

  // cluster.node_vars (issue 27): each node's /_status/vars, for the client certificates seen.
  void parse_node_vars(const Value& value, NodeVarsConfig& vars) {
    const auto keys = map_of(value, {"enabled", "http_port", "ca_file", "client_cert", "client_key",
                                     "timeout", "concurrency", "max_bytes"});
    if (!keys) return;
    if (const Value* e = find(*keys, "enabled")) set_bool(*e, vars.enabled);
    if (const Value* p = find(*keys, "http_port")) {
      if (const auto port = port_of(*p)) vars.http_port = *port;
    }
    if (const Value* f = find(*keys, "ca_file")) {
      if (const auto path = absolute_path(*f)) vars.ca_file = *path;
    }
    const Value* cert = find(*keys, "client_cert");
    const Value* key = find(*keys, "client_key");
    if ((cert == nullptr) != (key == nullptr)) {
      fail(cert != nullptr ? *cert : *key, "client_cert and client_key go together");
    } else if (cert != nullptr) {
      if (const auto path = absolute_path(*cert)) vars.client_cert = *path;
      if (const auto path = absolute_path(*key)) vars.client_key = *path;
    }
    if (const Value* t = find(*keys, "timeout")) set_duration(*t, kTimeoutRange, vars.timeout);
    // Each node read at once holds a socket and up to max_bytes of body.
    if (const Value* c = find(*keys, "concurrency")) set_int(*c, 1, 64, vars.concurrency);
    if (const Value* m = find(*keys, "max_bytes")) {
      // A node's /_status/vars is 1-5 MiB; concurrency times this is held at once at worst.
      constexpr SizeRange kRange{64 * 1024, 256 * 1024 * 1024};
      const auto text = scalar_of(*m, "a size such as 16MiB");
      const auto size = text ? parse_size(*text) : std::nullopt;
      if (text && (!size || *size < kRange.min || *size > kRange.max)) {
        fail(*m, "must be a size " + range_text(kRange) + ", got " + quote(*text));
      } else if (size) {
        vars.max_bytes = *size;
      }
    }
  }

  void read_dsn_file(const Value& value, ClusterConfig& cluster) {
    auto file = read_named_file(value, kMaxDsnFileBytes);
    if (!file) return;
    const std::string& resolved = file->path;
    std::string dsn = trim_trailing_whitespace(std::move(file->read.content));
    if (dsn.empty()) {
      fail(value, "file " + quote(resolved) + " is empty");
      return;
    }
    if (!looks_like_dsn(dsn)) {
      fail(value, "file " + quote(resolved) +
                      " must hold a postgresql:// URL or a key=value connection string");
      return;
    }
    if (!libpq_parses(dsn)) {
      fail(value, "file " + quote(resolved) +
                      ": libpq cannot parse the connection string (not shown: it may hold a "
                      "password)");
      return;
    }
    cluster.dsn = std::move(dsn);
    cluster.dsn_file = resolved;
  }
};

}  // namespace

void parse_cluster_section(const config::SectionParser& parser, const config::Value& value,
                           config::Config& config) {
  config.cluster.emplace();
  ClusterSectionParser(parser).parse_cluster(value, *config.cluster);
}

std::string cluster_misfit(const TierFacts& tier) {
  return "the cluster source is pointless on " + std::string(tier.title) +
         ": node certificates are managed by Cockroach Labs and only client certificates are "
         "yours (watch them with files)";
}

}  // namespace certwatch::sources
