// crdb-certwatch-gencerts: writes certificate directories for the demo and the benchmarks,
// with the same OpenSSL-API generator the tests use.
//   gencerts demo DIR   a CockroachDB certs directory exercising every state the daemon knows
//   gencerts bench DIR N  N certificates for bench/run.sh: one per file with its key (0600)
//                         beside it, every 50th file a bundle of two, expiry spread over every
//                         state, leaf keys RSA-2048, RSA-4096 and P-256 in rotation
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <utility>
#include <vector>

#include "support/certgen.hpp"

namespace {

using certwatch::testing::CertSpec;
using certwatch::testing::generate_cert;
using certwatch::testing::GeneratedCert;
using certwatch::testing::kDay;
using certwatch::testing::KeyAlgorithm;
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
  write_file(dir / "client.broken.crt",
             pem.substr(0, pem.size() / 2) + "\n-----END CERTIFICATE-----\n", 0644);
  std::printf("wrote demo certificates to %s\n", dir.c_str());
  return 0;
}

// N certificates in a CockroachDB-named directory, laid out as on a node host: each leaf's key
// beside it at 0600 (the operator guidance; key_permissions passes), no CA key (CockroachDB never
// loads it and it belongs off node hosts: `--ca-key` points elsewhere), node.crt with CN=node and
// the local SANs. The CA key is RSA-2048, `cockroach cert`'s default; leaf keys rotate through
// RSA-2048, RSA-4096 and P-256 (certificates from `cockroach cert`, from an external PKI with
// bigger keys, from cert-manager's ECDSA default). Key generation would dominate, so each key type
// is made once and reused by every leaf of that type (CertSpec::reuse_key_of).
int bench(const std::filesystem::path& dir, long count) {
  if (count < 3) {
    std::fprintf(stderr, "bench: N must be at least 3\n");
    return 2;
  }
  std::filesystem::create_directories(dir);
  CertSpec ca_spec = spec("Cockroach CA", true, 3650);
  ca_spec.key_algorithm = KeyAlgorithm::rsa;
  ca_spec.key_bits = 2048;
  const GeneratedCert ca = generate_cert(ca_spec);
  CertSpec old_ca_spec = spec("Cockroach CA (old)", true, 200);
  old_ca_spec.reuse_key_of = &ca;
  const GeneratedCert old_ca = generate_cert(old_ca_spec);
  write_file(dir / "ca.crt", ca.cert_pem + old_ca.cert_pem, 0644);
  std::vector<GeneratedCert> leaf_keys;
  for (const auto& [algorithm, bits] :
       {std::pair{KeyAlgorithm::rsa, 2048}, {KeyAlgorithm::rsa, 4096}, {KeyAlgorithm::ec, 256}}) {
    CertSpec holder = spec("key holder", false, 1);
    holder.key_algorithm = algorithm;
    holder.key_bits = bits;
    leaf_keys.push_back(generate_cert(holder));
  }
  long written = 2;
  long files = 1;
  // Days left cycle through expired, rotate_now, schedule_rotation and ok, so the snapshot holds
  // every state, as a real fleet's would.
  static constexpr std::int64_t kDaysLeft[] = {-3, 12, 60, 400, 700, 1200};
  for (long i = 0; written < count; ++i, ++files) {
    const std::string user = "user" + std::to_string(i);
    CertSpec leaf = spec(i == 0 ? "node" : user, false,
                         kDaysLeft[static_cast<std::size_t>(i) % std::size(kDaysLeft)]);
    leaf.dns_names = {user + ".example.internal"};
    if (i == 0) {
      leaf.dns_names.push_back("localhost");
      leaf.ip_addresses = {"127.0.0.1"};
    }
    leaf.reuse_key_of = &leaf_keys[static_cast<std::size_t>(i) % leaf_keys.size()];
    const GeneratedCert cert = generate_cert(leaf, &ca);
    const std::string stem = i == 0 ? "node" : "client." + user;
    // Every 50th file carries its issuer too, like a chain file.
    if (i % 50 == 49 && written + 2 <= count) {
      write_file(dir / (stem + ".crt"), cert.cert_pem + ca.cert_pem, 0644);
      written += 2;
    } else {
      write_file(dir / (stem + ".crt"), cert.cert_pem, 0644);
      written += 1;
    }
    write_file(dir / (stem + ".key"), leaf.reuse_key_of->key_pem, 0600);
  }
  std::printf("wrote %ld certificates in %ld files (each with its key) to %s\n", written, files,
              dir.c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 3 && std::strcmp(argv[1], "demo") == 0) return demo(argv[2]);
  if (argc == 4 && std::strcmp(argv[1], "bench") == 0) {
    return bench(argv[2], std::strtol(argv[3], nullptr, 10));
  }
  std::fprintf(stderr, "usage: %s demo DIR | bench DIR N\n", argv[0]);
  return 2;
}
