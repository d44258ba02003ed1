// The fleet scenario's stand-in cluster (bench/fleet.sh, issue 27): a real PostgreSQL with a
// kv_node_status of NODES rows and, on 127.0.0.1, one port per node for the probe's from_cluster:
//   - 10 % of the nodes (HANG_PERCENT) listen and never answer: each probe of them runs into
//     probe.timeout;
//   - 2 % are dead: their status is an hour old and their port refuses connections;
//   - 2 % run insecure (no certificate keys in their metrics JSON);
//   - 2 % report a certificate that failed to load (expiration.node = 0);
//   - the rest answer PostgreSQL's SSLRequest with 'S' and complete a TLS handshake serving a
//     node certificate (one for all, signed by the CA in DIR/certs/ca.crt).
// Writes DIR/config.yaml for the daemon (cluster source, probe from_cluster, the files of
// DIR/certs) and prints READY; serves until its standard input closes.
//
// Usage: crdb-certwatch-bench-fleet-fixture DIR [NODES [HANG_PERCENT [PROBE_INTERVAL_S]]]

#include <sys/resource.h>
#include <unistd.h>

#include <array>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "support/certgen.hpp"
#include "support/pg_harness.hpp"
#include "support/tempdir.hpp"

namespace {

namespace asio = boost::asio;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using namespace certwatch::testing;

// One probe connection: SSLRequest in, 'S' out, the TLS handshake, then wait for the close.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, ssl::context& tls) : stream_(std::move(socket), tls) {}
  void start() {
    auto self = shared_from_this();
    asio::async_read(stream_.next_layer(), asio::buffer(request_),
                     [self](const boost::system::error_code& ec, std::size_t) {
                       if (ec) return;
                       asio::async_write(self->stream_.next_layer(), asio::buffer("S", 1),
                                         [self](const boost::system::error_code& e, std::size_t) {
                                           if (!e) self->handshake();
                                         });
                     });
  }

 private:
  void handshake() {
    auto self = shared_from_this();
    stream_.async_handshake(ssl::stream_base::server, [self](const boost::system::error_code& ec) {
      if (!ec) self->drain();
    });
  }
  void drain() {
    auto self = shared_from_this();
    stream_.async_read_some(asio::buffer(sink_),
                            [self](const boost::system::error_code& ec, std::size_t) {
                              if (!ec) self->drain();
                            });
  }
  ssl::stream<tcp::socket> stream_;
  std::array<char, 8> request_{};
  std::array<char, 256> sink_{};
};

void accept_loop(tcp::acceptor& acceptor, ssl::context& tls) {
  acceptor.async_accept([&acceptor, &tls](const boost::system::error_code& ec, tcp::socket s) {
    if (!ec) std::make_shared<Session>(std::move(s), tls)->start();
    if (acceptor.is_open()) accept_loop(acceptor, tls);
  });
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: " << argv[0] << " DIR [NODES [HANG_PERCENT [PROBE_INTERVAL_S]]]\n";
    return 2;
  }
  const std::filesystem::path dir = argv[1];
  const int nodes = argc > 2 ? std::stoi(argv[2]) : 1000;
  const int hang_percent = argc > 3 ? std::stoi(argv[3]) : 10;
  const int probe_interval = argc > 4 ? std::stoi(argv[4]) : 60;
  rlimit files{};
  getrlimit(RLIMIT_NOFILE, &files);
  files.rlim_cur = files.rlim_max;
  setrlimit(RLIMIT_NOFILE, &files);

  std::filesystem::create_directories(dir / "certs");
  CertSpec ca_spec;
  ca_spec.common_name = "Fleet CA";
  ca_spec.is_ca = true;
  const GeneratedCert ca = generate_cert(ca_spec);
  CertSpec node_spec;
  node_spec.common_name = "node";
  node_spec.dns_names = {"localhost"};
  node_spec.ip_addresses = {"127.0.0.1"};
  const GeneratedCert node = generate_cert(node_spec, &ca);
  const auto write = [&](const std::string& name, const std::string& text, unsigned mode) {
    const auto path = dir / "certs" / name;
    FILE* f = std::fopen(path.c_str(), "w");
    std::fwrite(text.data(), 1, text.size(), f);
    std::fclose(f);
    std::filesystem::permissions(path, static_cast<std::filesystem::perms>(mode));
  };
  write("ca.crt", ca.cert_pem, 0644);
  write("node.crt", node.cert_pem + ca.cert_pem, 0644);
  write("node.key", node.key_pem, 0600);

  asio::io_context io;
  ssl::context tls(ssl::context::tls_server);
  tls.use_certificate_chain(asio::buffer(node.cert_pem + ca.cert_pem));
  tls.use_private_key(asio::buffer(node.key_pem), ssl::context::pem);
  std::vector<std::unique_ptr<tcp::acceptor>> acceptors;
  std::vector<std::unique_ptr<SilentListener>> silent;

  PgServer& pg = shared_pg_server();
  const std::int64_t now = unix_now();
  const std::string expiry = std::to_string(now + 200 * 86400);
  const std::string ca_expiry = std::to_string(now + 3000 * 86400);
  int counts[5] = {0, 0, 0, 0, 0};  // live, hang, dead, insecure, load_failed
  std::string sql;
  for (int i = 1; i <= nodes; ++i) {
    FakeNode row;
    row.node_id = i;
    row.other_metric_keys = 50;
    row.cert_metrics = {{"ca", ca_expiry},
                        {"node", expiry},
                        {"node-client", expiry},
                        {"ui", expiry},
                        {"ui-ca", ca_expiry}};
    int port = 0;
    if (i % 100 < hang_percent) {  // spread over the node ids, not one block
      silent.push_back(std::make_unique<SilentListener>());
      port = silent.back()->port();
      ++counts[1];
    } else if (i % 50 == 13) {  // dead: an old status, a port nothing listens on
      row.updated_at = static_cast<double>(now - 3600);
      port = 1;  // refused: nothing listens on 127.0.0.1:1
      ++counts[2];
    } else {
      auto acceptor = std::make_unique<tcp::acceptor>(io);
      acceptor->open(tcp::v4());
      acceptor->bind({asio::ip::make_address("127.0.0.1"), 0});
      acceptor->listen(64);
      port = acceptor->local_endpoint().port();
      accept_loop(*acceptor, tls);
      acceptors.push_back(std::move(acceptor));
      if (i % 50 == 17) {
        row.cert_metrics.clear();
        ++counts[3];
      } else if (i % 50 == 23) {
        row.cert_metrics[1].second = "0";
        ++counts[4];
      } else {
        ++counts[0];
      }
    }
    row.address = "127.0.0.1:" + std::to_string(port);
    insert_node(pg, row);
  }
  std::thread server([&io] {
    auto guard = asio::make_work_guard(io);
    io.run();
  });

  const std::string dsn = pg.tcp_dsn(kMonitorUser, kRolePassword);
  const auto quoted = [](const std::string& text) {
    std::string out = "'";
    for (char c : text) out += c == '\'' ? std::string("''") : std::string(1, c);
    return out + "'";
  };
  const std::string interval = std::to_string(probe_interval) + "s";
  const std::string config =
      "poll_interval: " + interval + "\nfiles:\n  certs_dirs: [" +
      quoted((dir / "certs").string()) + "]\ncluster:\n  dsn: " + quoted(dsn) +
      "\n  name: fleet-bench\n  poll_interval: " + interval +
      "\n  local_node_id: '2'\nprobe:\n  from_cluster: {enabled: true}\n  poll_interval: " +
      interval +
      "\n  timeout: 5s\n  concurrency: 16\n  ca_file: " + quoted((dir / "certs/ca.crt").string()) +
      "\n";
  {
    FILE* f = std::fopen((dir / "config.yaml").c_str(), "w");
    std::fwrite(config.data(), 1, config.size(), f);
    std::fclose(f);
    std::filesystem::permissions(dir / "config.yaml", std::filesystem::perms(0600));
  }
  std::cout << "READY nodes=" << nodes << " live=" << counts[0] << " hanging=" << counts[1]
            << " dead=" << counts[2] << " insecure=" << counts[3] << " load_failed=" << counts[4]
            << std::endl;
  // Until the driver closes our standard input.
  char byte = 0;
  while (::read(0, &byte, 1) > 0) {
  }
  io.stop();
  server.join();
  return 0;
}
