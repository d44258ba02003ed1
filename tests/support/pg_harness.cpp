#include "support/pg_harness.hpp"

#include <libpq-fe.h>
#include <netinet/in.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <pqxx/pqxx>
#include <sstream>
#include <stdexcept>
#include <system_error>
#include <thread>

#include "support/http_client.hpp"

namespace certwatch::testing {
namespace {

namespace fs = std::filesystem;

// CERTWATCH_PG_BINDIR wins; then PostgreSQL 15 as Debian installs it; then any installed version.
fs::path postgres_bindir() {
  if (const char* env = std::getenv("CERTWATCH_PG_BINDIR"); env != nullptr && *env != '\0') {
    return env;
  }
  const fs::path preferred = "/usr/lib/postgresql/15/bin";
  if (fs::exists(preferred / "postgres")) return preferred;
  fs::path best;
  std::error_code ec;
  for (fs::directory_iterator it("/usr/lib/postgresql", ec), end; !ec && it != end;
       it.increment(ec)) {
    if (fs::exists(it->path() / "bin" / "postgres") && it->path() / "bin" > best) {
      best = it->path() / "bin";
    }
  }
  if (best.empty()) {
    throw std::runtime_error(
        "PostgreSQL server binaries not found (apt-get install postgresql, or set "
        "CERTWATCH_PG_BINDIR)");
  }
  return best;
}

// A TCP socket bound to 127.0.0.1:0; `port` receives the port the kernel chose.
int bind_loopback_socket(int& port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::system_error(errno, std::generic_category(), "socket");
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  socklen_t length = sizeof address;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    const int error = errno;
    ::close(fd);
    throw std::system_error(error, std::generic_category(), "bind 127.0.0.1:0");
  }
  port = ntohs(address.sin_port);
  return fd;
}

std::string quote_dsn_value(std::string_view value) {
  std::string out = "'";
  for (const char c : value) {
    if (c == '\\' || c == '\'') out += '\\';
    out += c;
  }
  return out + "'";
}

std::string sql_literal(std::string_view value) {
  std::string out = "'";
  for (const char c : value) {
    if (c == '\'') out += '\'';
    out += c;
  }
  return out + "'";
}

// Metric names in CockroachDB's style ("sql.distsql.queries.active", "raft.rcvd.app-p99.9").
constexpr std::array<std::string_view, 24> kMetricStems{
    "sql.distsql.queries", "sql.select",          "sql.insert",        "sql.txn.latency",
    "sql.conn.latency",    "sql.mem.internal",    "raft.rcvd",         "raft.process.logcommit",
    "raft.heartbeats",     "rocksdb.block.cache", "storage.wal.fsync", "liveness.heartbeat",
    "changefeed.emitted",  "jobs.backup",         "admission.wait",    "kv.rangefeed.catchup",
    "distsender.rpc",      "txn.restarts",        "queue.gc.process",  "range.snapshots",
    "timeseries.write",    "sys.cpu.user",        "capacity.used",     "exec.latency"};
constexpr std::array<std::string_view, 8> kMetricSuffixes{"count", "active", "bytes", "p50",
                                                          "p99",   "p99.9",  "max",   "total"};

}  // namespace

SilentListener::SilentListener() {
  fd_ = bind_loopback_socket(port_);
  if (::listen(fd_, 8) != 0) {
    const int error = errno;
    ::close(fd_);
    throw std::system_error(error, std::generic_category(), "listen");
  }
}

SilentListener::~SilentListener() { ::close(fd_); }

PgServer::PgServer() {
  if (::geteuid() == 0) {
    const passwd* user = ::getpwnam("postgres");
    if (user == nullptr) {
      throw std::runtime_error("running as root but there is no `postgres` user to run PostgreSQL");
    }
    switch_user_ = true;
    server_uid_ = user->pw_uid;
    server_gid_ = user->pw_gid;
    if (::chown(temp_.path().c_str(), server_uid_, server_gid_) != 0) {
      throw std::system_error(errno, std::generic_category(), "chown " + temp_.path().string());
    }
  }
  data_dir_ = temp_.path() / "data";
  port_ = find_free_port();
  const fs::path bin = postgres_bindir();
  run_as_server_user(
      {(bin / "initdb").string(), "-D", data_dir_.string(), "-U", "postgres", "--auth=trust",
       "--no-sync", "--no-instructions", "--no-locale", "-E", "UTF8", "--wal-segsize=1"},
      "initdb");
  std::ostringstream conf;
  conf << "\n# crdb-certwatch test harness\n"
       << "listen_addresses = '127.0.0.1'\n"
       << "port = " << port_ << "\n"
       << "unix_socket_directories = '" << temp_.path().string() << "'\n"
       << "password_encryption = 'scram-sha-256'\n"
       << "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
       << "max_connections = 30\nshared_buffers = 16MB\n"
       << "log_min_messages = warning\nlog_connections = off\n";
  {
    std::ofstream file(data_dir_ / "postgresql.conf", std::ios::app);
    file << conf.str();
    if (!file) throw std::runtime_error("cannot append to postgresql.conf");
  }
  write_hba(false);
  start();
  create_roles();
  reset_node_status();
}

PgServer::~PgServer() { server_.reset(); }  // stops the server before TempDir removes its files

ProcessOptions PgServer::server_user_options() const {
  ProcessOptions options;
  if (switch_user_) options.user = {server_uid_, server_gid_};
  options.working_directory = temp_.path();
  return options;
}

void PgServer::run_as_server_user(const std::vector<std::string>& argv,
                                  std::string_view what) const {
  const CommandResult result = run_command(argv, server_user_options(), std::chrono::seconds{120});
  if (result.exit_code != 0) {
    throw std::runtime_error(std::string(what) + " failed (exit " +
                             std::to_string(result.exit_code) + "):\n" + result.out + result.err +
                             "\n" + log_tail());
  }
}

void PgServer::write_server_file(const std::string& name, const std::string& content) const {
  const fs::path path = data_dir_ / name;
  {
    std::ofstream file(path, std::ios::binary | std::ios::trunc);
    file << content;
    if (!file) throw std::runtime_error("cannot write " + path.string());
  }
  // PostgreSQL wants its key owned by itself and not readable by others.
  if (::chmod(path.c_str(), 0600) != 0 ||
      (switch_user_ && ::chown(path.c_str(), server_uid_, server_gid_) != 0)) {
    throw std::system_error(errno, std::generic_category(), "chmod/chown " + path.string());
  }
}

void PgServer::write_hba(bool tls) const {
  std::string hba = "local all all trust\n";
  if (tls) {
    hba += "hostssl all " + std::string(kTlsUser) + " 127.0.0.1/32 scram-sha-256\n";
  }
  hba += "host all " + std::string(kTlsUser) + " 127.0.0.1/32 reject\n";
  hba += "host all all 127.0.0.1/32 scram-sha-256\n";
  write_server_file("pg_hba.conf", hba);
}

void PgServer::start() {
  // The postmaster itself, not `pg_ctl start`, which detaches it into a session of its own: as
  // the test's child it is in the test's process tree, stopped with the test however it ends.
  // SIGINT is PostgreSQL's fast shutdown; its backends (each in a session of its own) follow the
  // postmaster out.
  ProcessOptions options = server_user_options();
  options.stop_signal = SIGINT;
  server_ = std::make_unique<ChildProcess>(
      std::vector<std::string>{(postgres_bindir() / "postgres").string(), "-D", data_dir_.string()},
      ChildOutput{temp_.path() / "server.log", temp_.path() / "server.log"}, options);
  const std::string dsn = superuser_dsn();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds{30};
  while (::PQping(dsn.c_str()) != PQPING_OK) {
    if (!server_->running() || std::chrono::steady_clock::now() > deadline) {
      server_.reset();
      throw std::runtime_error("PostgreSQL did not start:\n" + log_tail());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds{50});
  }
}

void PgServer::stop() {
  if (!server_) return;
  const auto status = server_->stop();
  server_.reset();
  if (status && exit_code_of(*status) != 0) {
    throw std::runtime_error("PostgreSQL did not shut down cleanly (exit " +
                             std::to_string(exit_code_of(*status)) + "):\n" + log_tail());
  }
}

void PgServer::restart() {
  stop();
  start();
}

GeneratedCert enable_tls_with_new_ca(PgServer& server, const std::string& ca_common_name) {
  CertSpec ca_spec;
  ca_spec.common_name = ca_common_name;
  ca_spec.is_ca = true;
  GeneratedCert ca = generate_cert(ca_spec);
  CertSpec server_spec;
  server_spec.common_name = "localhost";
  server_spec.dns_names = {"localhost"};
  server_spec.ip_addresses = {"127.0.0.1"};
  const GeneratedCert server_cert = generate_cert(server_spec, &ca);
  server.enable_tls(server_cert.cert_pem, server_cert.key_pem);
  return ca;
}

void PgServer::enable_tls(const std::string& cert_pem, const std::string& key_pem) {
  write_server_file("server.crt", cert_pem);
  write_server_file("server.key", key_pem);
  {
    std::ofstream file(data_dir_ / "postgresql.conf", std::ios::app);
    file << "ssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n";
  }
  write_hba(true);
  restart();
}

std::string PgServer::log_tail() const {
  const std::string log = read_file(temp_.path() / "server.log");
  constexpr std::size_t kTail = 2000;
  return log.size() > kTail ? log.substr(log.size() - kTail) : log;
}

std::string PgServer::tcp_dsn(std::string_view user, std::string_view password,
                              std::string_view extra, std::string_view host) const {
  std::string dsn = "host=" + quote_dsn_value(host) + " port=" + std::to_string(port_) +
                    " dbname=postgres user=" + quote_dsn_value(user) +
                    " password=" + quote_dsn_value(password);
  if (!extra.empty()) dsn += " " + std::string(extra);
  return dsn;
}

std::string PgServer::superuser_dsn() const {
  return "host=" + quote_dsn_value(temp_.path().string()) + " port=" + std::to_string(port_) +
         " dbname=postgres user=postgres";
}

void PgServer::exec(const std::string& sql) const {
  pqxx::connection conn{superuser_dsn()};
  pqxx::nontransaction tx{conn};
  tx.exec(sql);
}

std::string PgServer::query_value(const std::string& sql) const {
  pqxx::connection conn{superuser_dsn()};
  pqxx::nontransaction tx{conn};
  const pqxx::result result = tx.exec(sql);
  if (result.empty() || result[0][0].is_null()) return {};
  return result[0][0].c_str();
}

void PgServer::create_roles() const {
  std::string sql;
  for (const auto user : {kMonitorUser, kNoSelectUser, kTlsUser}) {
    sql += "CREATE ROLE " + std::string(user) + " LOGIN PASSWORD " + sql_literal(kRolePassword) +
           ";\n";
  }
  exec(sql);
}

void PgServer::reset_node_status() const {
  // CockroachDB's 21 NOT NULL columns with PostgreSQL types (STRING -> TEXT, JSON -> JSONB).
  std::string sql = R"(
DROP SCHEMA IF EXISTS crdb_internal CASCADE;
CREATE SCHEMA crdb_internal;
CREATE TABLE crdb_internal.kv_node_status (
  node_id INT8 NOT NULL, network TEXT NOT NULL, address TEXT NOT NULL, attrs JSONB NOT NULL,
  locality JSONB NOT NULL, server_version TEXT NOT NULL, go_version TEXT NOT NULL,
  tag TEXT NOT NULL, "time" TEXT NOT NULL, revision TEXT NOT NULL, cgo_compiler TEXT NOT NULL,
  platform TEXT NOT NULL, distribution TEXT NOT NULL, "type" TEXT NOT NULL,
  dependencies TEXT NOT NULL, started_at TIMESTAMP NOT NULL, updated_at TIMESTAMP NOT NULL,
  metrics JSONB NOT NULL, args JSONB NOT NULL, env JSONB NOT NULL, activity JSONB NOT NULL);
-- CockroachDB's builtin returns the cluster's UUID; so does this stand-in, so the daemon's
-- `SELECT crdb_internal.cluster_id()` is the same statement for both.
CREATE FUNCTION crdb_internal.cluster_id() RETURNS uuid LANGUAGE sql IMMUTABLE
  AS $$ SELECT ')" + std::string(kFakeClusterId) +
                    R"('::uuid $$;
)";
  for (const auto user : {kMonitorUser, kNoSelectUser, kTlsUser}) {
    sql += "GRANT USAGE ON SCHEMA crdb_internal TO " + std::string(user) + ";\n";
  }
  sql += "GRANT SELECT ON crdb_internal.kv_node_status TO " + std::string(kMonitorUser) + ", " +
         std::string(kTlsUser) + ";\n";
  exec(sql);
}

PgServer& shared_pg_server() {
  static PgServer server;
  if (!server.running()) server.start();
  server.reset_node_status();
  return server;
}

std::string metrics_json(const FakeNode& node) {
  std::string json = "{";
  bool first = true;
  const auto add = [&](const std::string& key, const std::string& number) {
    if (!first) json += ", ";
    first = false;
    json += "\"" + key + "\": " + number;
  };
  for (const auto& [suffix, value] : node.cert_metrics) {
    add("security.certificate.expiration." + suffix, value);
    // CockroachDB also reports the ttl twin of every expiration metric.
    add("security.certificate.ttl." + suffix, "86400");
  }
  // Deterministic filler: names like CockroachDB's, values mixing counters and latencies.
  for (int i = 0; i < node.other_metric_keys; ++i) {
    const auto stem = kMetricStems[static_cast<std::size_t>(i) % kMetricStems.size()];
    const auto suffix = kMetricSuffixes[(static_cast<std::size_t>(i) / kMetricStems.size()) %
                                        kMetricSuffixes.size()];
    const int round = i / static_cast<int>(kMetricStems.size() * kMetricSuffixes.size());
    std::string key(stem);
    if (round > 0) key += ".n" + std::to_string(round);
    key += "." + std::string(suffix);
    const std::string value = i % 3 == 0   ? std::to_string(1000003LL * (i + 7) % 987654321)
                              : i % 3 == 1 ? std::to_string(i) + ".25"
                                           : "1.2345678e+0" + std::to_string(i % 9);
    add(key, value);
  }
  return json + "}";
}

void insert_node(const PgServer& server, const FakeNode& node) {
  const double updated_at =
      node.updated_at != 0
          ? node.updated_at
          : static_cast<double>(std::chrono::duration_cast<std::chrono::seconds>(
                                    std::chrono::system_clock::now().time_since_epoch())
                                    .count());
  pqxx::connection conn{server.superuser_dsn()};
  pqxx::nontransaction tx{conn};
  tx.exec_params(
      R"(INSERT INTO crdb_internal.kv_node_status VALUES (
  $1, 'tcp', $2, '{"attrs": []}', '{"tiers": [{"key": "region", "value": "test"}]}', $3,
  'go1.22.5', $3, '2024/07/01 00:00:00', 'abc123', 'gcc 6.5.0', 'linux amd64', 'CCL',
  'release', '', now() AT TIME ZONE 'UTC', to_timestamp($4) AT TIME ZONE 'UTC', $5::JSONB,
  '["cockroach", "start"]', '["COCKROACH_SKIP_KEY_PERMISSION_CHECK=false"]', '{}'))",
      node.node_id, node.address, node.server_version, updated_at, metrics_json(node));
}

void clone_node(const PgServer& server, std::int64_t from, std::int64_t first_id,
                std::int64_t last_id) {
  server.exec(
      "INSERT INTO crdb_internal.kv_node_status SELECT g, network, 'node' || g || ':26257', attrs, "
      "locality, server_version, go_version, tag, \"time\", revision, cgo_compiler, platform, "
      "distribution, \"type\", dependencies, started_at, updated_at, metrics, args, env, activity "
      "FROM crdb_internal.kv_node_status, generate_series(" +
      std::to_string(first_id) + ", " + std::to_string(last_id) +
      ") AS g WHERE node_id = " + std::to_string(from));
}

void delete_all_nodes(const PgServer& server) {
  server.exec("DELETE FROM crdb_internal.kv_node_status");
}

void make_node_status_hang(const PgServer& server, int seconds) {
  server.exec(
      "ALTER TABLE crdb_internal.kv_node_status RENAME TO kv_node_status_real;\n"
      "CREATE VIEW crdb_internal.kv_node_status AS SELECT t.* FROM "
      "crdb_internal.kv_node_status_real t CROSS JOIN pg_sleep(" +
      std::to_string(seconds) +
      ") AS s;\n"
      "GRANT SELECT ON crdb_internal.kv_node_status TO " +
      std::string(kMonitorUser) + ";");
}

void restore_node_status(const PgServer& server) {
  server.exec(
      "DROP VIEW crdb_internal.kv_node_status;\n"
      "ALTER TABLE crdb_internal.kv_node_status_real RENAME TO kv_node_status;");
}

}  // namespace certwatch::testing
