// Issue 28 item 5's budget, in process: every posture check over a 2,000-CA bundle (ca.crt), a
// probe target serving 550 certificates and a 16,000-line denylist, as `check` and each daemon
// snapshot run them. Before the denylist was hashed and judged once per snapshot this took
// 341 s (`check`) and stalled the daemon 22 s a poll.
//   build/bench/crdb-certwatch-bench-denylist [CAS [ENTRIES [SERVED]]]
// Prints the wall time of a cold run (empty verify cache) and a warm one (the cache as the next
// snapshot has it), and the denylist's lookup and signature counts.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "rules/checks.hpp"
#include "rules/denylist.hpp"
#include "support/certgen.hpp"
#include "x509/parse.hpp"

namespace {

using namespace certwatch;

CertObservation observe(const testing::GeneratedCert& cert, const CertIdentity& id) {
  CertObservation out;
  out.id = id;
  auto facts = x509::parse_der(cert.der);
  if (!facts) std::abort();
  out.facts = std::make_shared<const CertificateFacts>(std::move(*facts));
  out.not_after = out.facts->not_after;
  out.not_before = out.facts->not_before;
  return out;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

int main(int argc, char** argv) {
  const int cas = argc > 1 ? std::atoi(argv[1]) : 2000;
  const int entries = argc > 2 ? std::atoi(argv[2]) : 16'000;
  const int served = argc > 3 ? std::atoi(argv[3]) : 550;

  // Real certificates: the CAs share one key (key generation would dominate), each its own name.
  testing::CertSpec root_spec;
  root_spec.common_name = "Cockroach CA";
  root_spec.is_ca = true;
  const auto root = testing::generate_cert(root_spec);
  std::vector<CertObservation> certs;
  certs.reserve(static_cast<std::size_t>(cas + served + 1));
  for (int i = 0; i < cas; ++i) {
    testing::CertSpec spec;
    spec.common_name = "Cockroach CA " + std::to_string(i);
    spec.is_ca = true;
    spec.reuse_key_of = &root;
    certs.push_back(observe(i == 0 ? root : testing::generate_cert(spec),
                            {"file", CertType::ca, "", "/certs/ca.crt", std::to_string(i), ""}));
  }
  auto anchors = std::make_shared<std::vector<CertificateFacts>>();
  anchors->push_back(*certs.front().facts);
  for (int i = 0; i < served; ++i) {
    testing::CertSpec spec;
    spec.common_name = "node";
    spec.dns_names = {"db.example"};
    spec.reuse_key_of = &root;
    CertObservation leaf =
        observe(testing::generate_cert(spec, &root),
                {"probe", CertType::node, "1", "db.example:26257", std::to_string(i), ""});
    leaf.dialed_name = "db.example";
    leaf.trust_anchors = anchors;
    certs.push_back(std::move(leaf));
  }
  // Fingerprints that match nothing, serial+issuer entries for the bundle's CAs' names, and one
  // CA of the bundle denied, so the taint path runs too.
  std::vector<std::string> denylist;
  denylist.reserve(static_cast<std::size_t>(entries));
  denylist.push_back(certs[static_cast<std::size_t>(cas / 2)].facts->fingerprint_sha256);
  for (int i = 0; static_cast<int>(denylist.size()) < entries; ++i) {
    if (i % 4 == 0) {
      denylist.push_back("serial:7f" + std::to_string(i) + " issuer:CN=Cockroach CA " +
                         std::to_string(i % cas));
    } else {
      char fingerprint[65];
      std::snprintf(fingerprint, sizeof fingerprint, "%064x", 0x5eed0000 + i);
      denylist.emplace_back(fingerprint);
    }
  }

  std::vector<const CertObservation*> pointers;
  for (const auto& c : certs) pointers.push_back(&c);
  rules::CheckInputs in;
  in.certificates = pointers;
  in.denylist = denylist;
  in.now = testing::unix_now();
  rules::ChecksConfig config;
  rules::VerifyCache cache;

  std::printf("%d CAs in one bundle, %d served certificates, %d denylist entries\n", cas, served,
              entries);
  for (const char* run : {"cold", "warm"}) {
    const auto start = std::chrono::steady_clock::now();
    const auto results = rules::run_checks(in, config, cache);
    std::size_t compromised = 0;
    for (const auto& f : results.failures) compromised += f.check == rules::kCheckCompromised;
    std::printf("run_checks (%s cache): %.3f s, %zu compromised\n", run, seconds_since(start),
                compromised);
  }
  rules::Denylist hashed;
  const auto start = std::chrono::steady_clock::now();
  for (const auto& line : denylist) hashed.add(line);
  const auto verdicts = rules::judge_denylist(hashed, pointers, cache);
  std::printf("denylist alone: %.3f s, %zu lookups, %zu signature checks\n", seconds_since(start),
              verdicts.lookups, verdicts.issuer_checks);
  return 0;
}
