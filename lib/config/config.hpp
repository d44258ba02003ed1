// The daemon's configuration: one plain struct with defaults in-class, loaded strictly from YAML.
// Every error names the file, the line and the key.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/tier.hpp"
#include "core/types.hpp"
#include "rules/automation.hpp"
#include "rules/checks.hpp"
#include "rules/rule.hpp"

namespace certwatch::config {

using std::chrono::seconds;

struct ExtraFile {
  std::string glob;  // absolute path, may contain * ? [..] in the last component
  CertType cert_type = CertType::other;

  friend bool operator==(const ExtraFile&, const ExtraFile&) = default;
};

// A mounted Kubernetes TLS Secret (cert-manager's, the Helm chart's): the directory holds
// `tls.crt`, a certificate of cert_type, `tls.key` its key and `ca.crt` the CA it chains to. The
// names are fixed by the Secret type, so no glob is needed and every posture check applies.
struct TlsSecret {
  std::string path;  // the directory the Secret volume is mounted at
  CertType cert_type = CertType::node;
  std::string user;  // client: the SQL user its CN must name; empty otherwise

  friend bool operator==(const TlsSecret&, const TlsSecret&) = default;
};

struct FilesConfig {
  std::vector<std::string> certs_dirs{"/var/lib/cockroach/certs"};
  std::vector<ExtraFile> extra;
  std::vector<TlsSecret> tls_secrets;
  std::uint64_t max_file_bytes = 1024 * 1024;

  friend bool operator==(const FilesConfig&, const FilesConfig&) = default;
};

// cluster.node_vars: each node's Prometheus endpoint (https://HOST:http_port/_status/vars), read
// for the client certificates CockroachDB saw per SQL user (sources/node_vars.hpp).
struct NodeVarsConfig {
  bool enabled = false;
  int http_port = 8080;  // the DB Console port, as probe.from_cluster.http_port
  // Trusted CAs for the DB Console's certificate; empty: ca-ui.crt of the first certs dir when
  // present, else its ca.crt (decided at each poll, so a ca-ui.crt added later is used).
  std::string ca_file;
  std::string client_cert;  // optional: /_status/vars needs no login
  std::string client_key;
  seconds timeout{10};  // per node: connect, TLS, request and the whole body
  int concurrency = 8;  // nodes read at once; each holds up to max_bytes while read
  std::uint64_t max_bytes = 16 * 1024 * 1024;  // of one node's body

  friend bool operator==(const NodeVarsConfig&, const NodeVarsConfig&) = default;
};

struct ClusterConfig {
  // The connection string, read from `dsn` or from the file `dsn_file` names (trailing newline
  // stripped). Holds a password possibly: never log or print it.
  std::string dsn;
  std::string dsn_file;  // where the dsn came from, empty when given inline
  seconds poll_interval{300};
  seconds connect_timeout{5};
  seconds statement_timeout{10};
  std::optional<std::string> local_node_id;
  NodeVarsConfig node_vars;
  // A name people know the cluster by (`cluster_name` of crdb_cert_cluster_info); empty: unset.
  std::string name;

  friend bool operator==(const ClusterConfig&, const ClusterConfig&) = default;
};

// The probe source: TLS handshakes to node ports, what each serves right now.
enum class ProbeProtocol { postgres, tls };  // postgres: SSLRequest first (the SQL port)

struct ProbeTarget {
  std::string address;  // host:port ([v6]:port)
  ProbeProtocol protocol = ProbeProtocol::postgres;
  std::string server_name;              // SNI and the name the leaf must carry; default: the host
  std::string node_id;                  // optional
  CertType cert_type = CertType::node;  // node (SQL/RPC port), ui (DB Console port)

  friend bool operator==(const ProbeTarget&, const ProbeTarget&) = default;
};

struct ProbeConfig {
  std::vector<ProbeTarget> targets;
  // Probe every node kv_node_status lists (needs the cluster source), and its DB Console port
  // when http_port is set.
  bool from_cluster = false;
  ProbeProtocol from_cluster_protocol = ProbeProtocol::postgres;
  std::optional<int> from_cluster_http_port;
  seconds poll_interval{300};
  seconds timeout{5};  // per target: DNS, connect, SSLRequest and handshake together
  int concurrency = 16;
  std::string ca_file;  // default: ca.crt in the first certs dir
  std::string client_cert;
  std::string client_key;

  friend bool operator==(const ProbeConfig&, const ProbeConfig&) = default;
};

struct AlertingConfig {
  std::string job = "crdb-certwatch";
  // An absolute http(s) URL; empty: each alert links to the runbooks the daemon that raised it
  // serves (http(s)://<instance>/runbooks/<Alert>).
  std::string runbook_base_url;
  std::map<std::string, std::string> extra_labels;
  seconds expiry_for{600};           // `for:` of the certificate state alerts
  seconds file_error_for{900};       // unreadable certificate file
  seconds source_down_for{900};      // crdb_cert_source_up == 0
  seconds node_stale_after{600};     // a node's updated_at older than this is stale
  seconds reload_pending_for{1800};  // crdb_cert_reload_pending
  seconds insecure_for{300};         // crdb_cert_cluster_secure == 0
  seconds exporter_down_for{300};    // up == 0 or absent
  // A CMEK key ENABLING, ROTATING or DISABLING for longer than this is stuck.
  seconds cmek_transition_for{3600};

  friend bool operator==(const AlertingConfig&, const AlertingConfig&) = default;
};

// Where the cluster runs: self-hosted or a CockroachDB Cloud plan (core/tier.hpp says what each
// implies).
struct DeploymentConfig {
  Tier tier = Tier::self_hosted;

  friend bool operator==(const DeploymentConfig&, const DeploymentConfig&) = default;
};

// The CMEK source: the data-at-rest key's state from the CockroachDB Cloud API.
struct CmekConfig {
  std::string api_url = "https://cockroachlabs.cloud";
  // api_url taken apart at load (only https:// is accepted): what the source dials.
  std::string host = "cockroachlabs.cloud";
  std::string port = "443";
  std::string base_path;  // any path before /api/v1, without a trailing slash
  std::string cluster_id;
  std::string api_key_file;  // resolved path
  // The service account's API key, read from api_key_file at load. A secret: never log, print
  // or export it.
  std::string api_key;
  seconds poll_interval{300};
  seconds timeout{10};
  std::string ca_file;  // empty: the system trust store

  friend bool operator==(const CmekConfig&, const CmekConfig&) = default;
};

// The settings of a source the daemon does not build in (a test's, registered with
// sources::Registry::with): its section's parser stores them, its factory reads them back. Compared
// by value, so a reload sees a change.
class OtherSection {
 public:
  template <typename T>
  static OtherSection of(T value) {
    OtherSection out;
    out.value_ = std::make_shared<const T>(std::move(value));
    out.equal_ = &equal<T>;
    return out;
  }
  // The settings, when they are a T.
  template <typename T>
  const T* as() const {
    return equal_ == &equal<T> ? static_cast<const T*>(value_.get()) : nullptr;
  }
  friend bool operator==(const OtherSection& a, const OtherSection& b) {
    return a.equal_ == b.equal_ &&
           (a.value_ == b.value_ || a.equal_(a.value_.get(), b.value_.get()));
  }

 private:
  template <typename T>
  static bool equal(const void* a, const void* b) {
    return *static_cast<const T*>(a) == *static_cast<const T*>(b);
  }
  std::shared_ptr<const void> value_;
  bool (*equal_)(const void*, const void*) = nullptr;
};

struct Config {
  seconds poll_interval{60};
  DeploymentConfig deployment;
  FilesConfig files;
  std::vector<rules::Rule> rules = rules::default_rules();
  std::optional<ClusterConfig> cluster;  // absent: the cluster source is disabled
  std::optional<ProbeConfig> probe;      // absent: the probe source is disabled
  std::optional<CmekConfig> cmek;        // absent: the CMEK source is disabled
  AlertingConfig alerting;
  rules::ChecksConfig checks;
  // Certificates a machine renews; for each certificate the first entry that matches applies.
  std::vector<rules::Automation> automation;
  // Where the daemon journals rotations (JSON lines); empty: $STATE_DIRECTORY/rotations.jsonl
  // when systemd sets STATE_DIRECTORY, otherwise no journal (state/rotation_journal.hpp).
  std::string rotation_journal;
  // The sections of sources that are not built in, by section name.
  std::map<std::string, OtherSection, std::less<>> other_sections;

  // Lets a reload tell whether anything changed.
  friend bool operator==(const Config&, const Config&) = default;
};

// Every configuration key whose value is a path the daemon opens, in the parser's spelling with
// list indexes as "[]", and what it must name. The parser takes a path only through a key listed
// here (one that is not fails the load), refuses an existing path of the wrong kind (a FIFO, a
// device, a socket; a directory where a file goes) when it loads, and tests/hostile_files_test
// points every key here at a FIFO, /dev/zero and a directory (issue 28, item 8): a new path key
// is added here, and its test case there, or the test fails.
enum class PathKind { file, directory };
struct PathKey {
  std::string_view key;
  PathKind kind;
};
inline constexpr PathKey kPathKeys[] = {
    {"files.certs_dirs[]", PathKind::directory},
    {"files.extra[].path", PathKind::file},  // a file, or a glob of files
    {"files.tls_secrets[].path", PathKind::directory},
    {"cluster.dsn_file", PathKind::file},
    {"cluster.node_vars.ca_file", PathKind::file},
    {"cluster.node_vars.client_cert", PathKind::file},
    {"cluster.node_vars.client_key", PathKind::file},
    {"probe.ca_file", PathKind::file},
    {"probe.client_cert", PathKind::file},
    {"probe.client_key", PathKind::file},
    {"checks.denylist_file", PathKind::file},
    {"cmek.api_key_file", PathKind::file},
    {"cmek.ca_file", PathKind::file},
    {"rotation_journal", PathKind::file},  // appended to by the daemon; may not exist yet
};

struct ConfigError {
  std::string file;
  int line = 0;     // 1-based; 0 when the error has no position (file unreadable)
  std::string key;  // dotted path, e.g. "rules[1].below"; empty for whole-file errors
  std::string message;

  // "FILE:LINE: KEY: MESSAGE" (parts without a value are left out).
  std::string to_string() const;
};

// Something that works but is pointless (a node certificate rule on a managed tier): same shape
// as an error, printed by --config.check and logged at start and reload, never fatal.
using ConfigWarning = ConfigError;

struct LoadResult {
  std::optional<Config> config;  // set exactly when errors is empty
  std::vector<ConfigError> errors;
  std::vector<ConfigWarning> warnings;
};

// Parses `yaml` strictly; `file` is used for error messages and to resolve relative paths
// (dsn_file) against the config file's directory. The shared sections are parsed here, each
// built-in source's section by its own parser: these two are defined beside the source registry
// (sources/registry.cpp), which carries the parsers; config/section.hpp has the forms that take
// the sections to parse.
LoadResult parse_config(std::string_view yaml, const std::string& file);
LoadResult load_config_file(const std::string& path);

// "30s", "5m", "12h", "90d", also "1h30m": groups of <digits><unit>, units w d h m s, largest
// first and each at most once (as Prometheus spells them); nullopt when malformed, negative or
// too large.
std::optional<seconds> parse_duration(std::string_view text);
// The canonical exact spelling: d/h/m/s groups, largest first, zero groups left out (90d, 12h,
// 5m, 45s, 1h30m; 0s for zero). parse_duration reads it back to the same value.
std::string format_duration(seconds value);

}  // namespace certwatch::config
