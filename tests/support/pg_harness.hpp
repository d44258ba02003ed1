// Test-only: a throwaway PostgreSQL 15 server on a free 127.0.0.1 port, with a table shaped like
// CockroachDB's crdb_internal.kv_node_status, for testing the cluster source against a real server.
//
// PostgreSQL refuses to run as root: when the tests run as root the server runs as the `postgres`
// system user (Debian's package creates it) and its directory is handed to that user.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "support/certgen.hpp"
#include "support/process.hpp"
#include "support/tempdir.hpp"

namespace certwatch::testing {

// Roles the fixture creates (all log in with a SCRAM password over TCP).
inline constexpr std::string_view kMonitorUser = "monitor";    // may read kv_node_status
inline constexpr std::string_view kNoSelectUser = "noselect";  // schema usage, no SELECT
inline constexpr std::string_view kTlsUser = "tls_monitor";    // may read, only over TLS
// Quotes, a backslash and a space: exercises DSN quoting; tests check it never leaks.
inline constexpr std::string_view kRolePassword = R"(Pa55 'w\rd)";
// What the fixture's crdb_internal.cluster_id() returns.
inline constexpr std::string_view kFakeClusterId = "8f3c2a1e-5b6d-4c7e-9f80-1a2b3c4d5e6f";

class PgServer {
 public:
  // initdb + start + fixture (roles, schema, empty table). Throws std::runtime_error with the tail
  // of the server log when something fails. Takes seconds: tests share one server per process
  // (shared_pg_server()).
  PgServer();
  // Stops the server (immediate mode) and removes its directory.
  ~PgServer();
  PgServer(const PgServer&) = delete;
  PgServer& operator=(const PgServer&) = delete;
  PgServer(PgServer&&) = delete;
  PgServer& operator=(PgServer&&) = delete;

  int port() const { return port_; }
  const std::filesystem::path& dir() const { return temp_.path(); }

  // A libpq keyword DSN for TCP to 127.0.0.1 (or `host`), values quoted; `extra` is appended.
  std::string tcp_dsn(std::string_view user, std::string_view password, std::string_view extra = {},
                      std::string_view host = "127.0.0.1") const;
  // The superuser over the unix socket in dir() (trust auth).
  std::string superuser_dsn() const;

  // Runs SQL (several statements allowed) as the superuser.
  void exec(const std::string& sql) const;
  // The first column of the first row, as text ("" for NULL or no rows).
  std::string query_value(const std::string& sql) const;

  void stop();     // fast shutdown, waits
  void start();    // waits until it accepts connections
  void restart();  // fast shutdown + start
  bool running() const { return server_ != nullptr; }

  // Serves TLS with this certificate and key (PEM) after a restart; kTlsUser may then connect only
  // with TLS, the other roles still without.
  void enable_tls(const std::string& cert_pem, const std::string& key_pem);

  // The last lines of the server log, for failure messages.
  std::string log_tail() const;

  // Drops and recreates the crdb_internal schema with an empty kv_node_status and its grants.
  void reset_node_status() const;

 private:
  ProcessOptions server_user_options() const;
  void run_as_server_user(const std::vector<std::string>& argv, std::string_view what) const;
  void write_server_file(const std::string& name, const std::string& content) const;
  void write_hba(bool tls) const;
  void create_roles() const;

  TempDir temp_;
  std::filesystem::path data_dir_;
  int port_ = 0;
  std::unique_ptr<ChildProcess> server_;  // the postmaster, while running
  bool switch_user_ = false;              // running as root: run PostgreSQL as the postgres user
  unsigned server_uid_ = 0;
  unsigned server_gid_ = 0;
};

// A TCP socket on 127.0.0.1 that listens but never accepts: a client's handshake completes and then
// it hears nothing (to test connect timeouts).
class SilentListener {
 public:
  SilentListener();
  ~SilentListener();
  SilentListener(const SilentListener&) = delete;
  SilentListener& operator=(const SilentListener&) = delete;
  SilentListener(SilentListener&&) = delete;
  SilentListener& operator=(SilentListener&&) = delete;

  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

// The process-wide server (started on first use, stopped at exit), running, with an empty
// kv_node_status: each test case starts from a clean fixture without paying for initdb again.
PgServer& shared_pg_server();

// Makes a CA named `ca_common_name` and a server certificate it signs for localhost and
// 127.0.0.1, and has `server` serve TLS with it (see PgServer::enable_tls). Returns the CA: what
// a client given sslmode=verify-full must trust.
GeneratedCert enable_tls_with_new_ca(PgServer& server, const std::string& ca_common_name);

// One kv_node_status row. Certificate metrics are JSON number literals exactly as they go into the
// metrics JSON ("1700000000", "1.7e9", "0"); a type not listed is absent from the JSON.
struct FakeNode {
  std::int64_t node_id = 1;
  std::string address = "127.0.0.1:26257";
  std::string server_version = "v24.1.3";
  double updated_at = 0;  // unix seconds; 0 means now
  std::vector<std::pair<std::string, std::string>> cert_metrics;
  int other_metric_keys = 200;  // realistic CockroachDB-like filler keys (thousands in production)
};

// The metrics JSON for a node: the certificate keys plus `other_metric_keys` filler keys.
std::string metrics_json(const FakeNode& node);
void insert_node(const PgServer& server, const FakeNode& node);
// Copies node `from` as nodes first_id..last_id (address "node<id>:26257"): a big cluster fast.
void clone_node(const PgServer& server, std::int64_t from, std::int64_t first_id,
                std::int64_t last_id);
void delete_all_nodes(const PgServer& server);
// Replaces the table by a view that sleeps `seconds` per query (to hit statement_timeout), and
// back again.
void make_node_status_hang(const PgServer& server, int seconds);
void restore_node_status(const PgServer& server);

}  // namespace certwatch::testing
