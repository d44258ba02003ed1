// crdb-certwatch-gencerts: writes certificate directories for the demo and the benchmarks,
// with the same OpenSSL-API generator the tests use.
//   gencerts demo DIR   a CockroachDB certs directory exercising every state the daemon knows
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

#include "support/certgen.hpp"

namespace {

using certwatch::testing::CertSpec;
using certwatch::testing::generate_cert;
using certwatch::testing::GeneratedCert;
using certwatch::testing::kDay;
using certwatch::testing::unix_now;

void write_file(const std::filesystem::path& path, const std::string& content, unsigned mode) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << content;
  std::filesystem::permissions(path, static_cast<std::filesystem::perms>(mode));
}

CertSpec spec(std::string cn, bool is_ca, std::int64_t days_left) {
  CertSpec s;
  s.common_name = std::move(cn);
  s.is_ca = is_ca;
  s.not_before = unix_now() - 400 * kDay;
  s.not_after = unix_now() + days_left * kDay;
  return s;
}

int demo(const std::filesystem::path& dir) {
  std::filesystem::create_directories(dir);
  // After `cockroach cert create-ca --overwrite` ca.crt holds the new CA first and the old one
  // second; CockroachDB reports only the first, the old one expires soon.
  const GeneratedCert new_ca = generate_cert(spec("Cockroach CA", true, 3650));
  const GeneratedCert old_ca = generate_cert(spec("Cockroach CA (old)", true, 200));
  write_file(dir / "ca.crt", new_ca.cert_pem + old_ca.cert_pem, 0644);

  CertSpec node = spec("node", false, 60);  // schedule_rotation
  node.dns_names = {"localhost", "node1.example.internal"};
  node.ip_addresses = {"127.0.0.1"};
  const GeneratedCert node_cert = generate_cert(node, &new_ca);
  write_file(dir / "node.crt", node_cert.cert_pem, 0644);
  write_file(dir / "node.key", node_cert.key_pem, 0600);

  const GeneratedCert node_client = generate_cert(spec("node", false, 700), &new_ca);
  write_file(dir / "client.node.crt", node_client.cert_pem, 0644);
  write_file(dir / "client.node.key", node_client.key_pem, 0600);

  const GeneratedCert root = generate_cert(spec("root", false, 12), &new_ca);  // rotate_now
  write_file(dir / "client.root.crt", root.cert_pem, 0644);
  write_file(dir / "client.root.key", root.key_pem, 0600);

  const GeneratedCert app = generate_cert(spec("app", false, -3), &new_ca);  // expired
  write_file(dir / "client.app.crt", app.cert_pem, 0644);
  write_file(dir / "client.app.key", app.key_pem, 0600);

  const GeneratedCert ui_ca = generate_cert(spec("Cockroach UI CA", true, 1500));
  write_file(dir / "ca-ui.crt", ui_ca.cert_pem, 0644);
  const GeneratedCert ui = generate_cert(spec("ui", false, 400), &ui_ca);
  write_file(dir / "ui.crt", ui.cert_pem, 0644);
  write_file(dir / "ui.key", ui.key_pem, 0600);

  // One broken file: a certificate block whose base64 was cut off by a bad copy.
  const std::string& pem = root.cert_pem;
  write_file(dir / "client.broken.crt", pem.substr(0, pem.size() / 2) + "\n-----END CERTIFICATE-----\n",
             0644);
  std::printf("wrote demo certificates to %s\n", dir.c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 3 && std::strcmp(argv[1], "demo") == 0) return demo(argv[2]);
  std::fprintf(stderr, "usage: %s demo DIR\n", argv[0]);
  return 2;
}
