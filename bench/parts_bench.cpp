// In-process parts of a poll under Google Benchmark: the PEM parser on a bundle, one DER through
// the DER reader and through the OpenSSL path, one leaf's trust verdict both ways, the evaluator
// over 5,000 observations and a whole snapshot (evaluate + render) of 5,000 certificates.
//   build-bench/bench/crdb-certwatch-bench-parts [--benchmark_filter=...]
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "exporter/metrics.hpp"
#include "rules/evaluate.hpp"
#include "rules/rule.hpp"
#include "state/snapshot.hpp"
#include "support/certgen.hpp"
#include "x509/chain.hpp"
#include "x509/fast_parse.hpp"
#include "x509/parse.hpp"

namespace {

using certwatch::testing::CertSpec;
using certwatch::testing::GeneratedCert;
using certwatch::testing::kDay;
using certwatch::testing::unix_now;

constexpr int kFleet = 5000;

const GeneratedCert& ca() {
  static const GeneratedCert cert = [] {
    CertSpec spec;
    spec.common_name = "Cockroach CA";
    spec.is_ca = true;
    return certwatch::testing::generate_cert(spec);
  }();
  return cert;
}

// A bundle of `count` leaf certificates signed by ca(), as one file's bytes.
std::string bundle_of(int count) {
  std::string pem;
  for (int i = 0; i < count; ++i) {
    CertSpec spec;
    spec.common_name = "user" + std::to_string(i);
    spec.dns_names = {spec.common_name + ".example.internal"};
    spec.reuse_key_of = &ca();
    pem += certwatch::testing::generate_cert(spec, &ca()).cert_pem;
  }
  return pem;
}

// kFleet observations as the file source makes them: real parsed facts, expiry spread over every
// state, one path per certificate.
const std::vector<certwatch::CertObservation>& fleet() {
  static const std::vector<certwatch::CertObservation> observations = [] {
    const auto parsed = certwatch::x509::parse_pem_bundle(bundle_of(16));
    constexpr std::int64_t kDaysLeft[] = {-3, 12, 60, 400, 700, 1200};
    std::vector<certwatch::CertObservation> out;
    out.reserve(kFleet);
    for (int i = 0; i < kFleet; ++i) {
      certwatch::CertObservation cert;
      cert.id.source = "file";
      cert.id.cert_type = i % 10 == 0 ? certwatch::CertType::ca : certwatch::CertType::client;
      cert.id.path = "/var/lib/cockroach/certs/client.user" + std::to_string(i) + ".crt";
      cert.id.index = "0";
      cert.id.user = "user" + std::to_string(i);
      auto facts = parsed.certificates[static_cast<std::size_t>(i) % parsed.certificates.size()];
      facts.not_after = unix_now() + kDaysLeft[i % 6] * kDay;
      cert.facts = std::make_shared<const certwatch::CertificateFacts>(std::move(facts));
      cert.not_after = cert.facts->not_after;
      cert.not_before = cert.facts->not_before;
      out.push_back(std::move(cert));
    }
    return out;
  }();
  return observations;
}

void BM_ParsePemBundle(benchmark::State& state) {
  const std::string bytes = bundle_of(static_cast<int>(state.range(0)));
  for (auto _ : state) {
    auto result = certwatch::x509::parse_pem_bundle(bytes);
    benchmark::DoNotOptimize(result);
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(bytes.size()));
}
BENCHMARK(BM_ParsePemBundle)->Arg(1)->Arg(2)->Arg(10);

// One leaf's DER: range 0 an EC P-256 key, 1 an RSA-2048 key.
std::string leaf_der(std::int64_t rsa) {
  CertSpec spec;
  spec.dns_names = {"node1.example.internal"};
  if (rsa != 0) {
    spec.key_algorithm = certwatch::testing::KeyAlgorithm::rsa;
    spec.key_bits = 2048;
  }
  return certwatch::testing::generate_cert(spec, &ca()).der;
}

// The DER reader the parser uses for common certificates...
void BM_ReadDerFast(benchmark::State& state) {
  const std::string der = leaf_der(state.range(0));
  for (auto _ : state) {
    auto facts = certwatch::x509::read_der_fast(der);
    benchmark::DoNotOptimize(facts);
  }
}
BENCHMARK(BM_ReadDerFast)->ArgName("rsa")->Arg(0)->Arg(1);

// ...and the full OpenSSL decode it falls back to.
void BM_ReadDerOpenssl(benchmark::State& state) {
  const std::string der = leaf_der(state.range(0));
  std::string error;
  for (auto _ : state) {
    auto facts = certwatch::x509::read_der_openssl(der, error);
    benchmark::DoNotOptimize(facts);
  }
}
BENCHMARK(BM_ReadDerOpenssl)->ArgName("rsa")->Arg(0)->Arg(1);

// One leaf's trust verdict against its CA (issue 22): the fast path (a signature check with the
// CA's key decoded once) and X509_verify_cert (which decodes the leaf, its key above all). The
// fast path is kept only while it is the faster.
void BM_VerifyChain(benchmark::State& state, bool fast) {
  const std::string der = leaf_der(state.range(0));
  const std::vector<std::shared_ptr<const certwatch::x509::TrustAnchor>> anchors{
      certwatch::x509::TrustAnchor::from_der(ca().der)};
  const auto set = certwatch::x509::AnchorSet::make(anchors);
  for (auto _ : state) {
    auto outcome = certwatch::x509::verify_chain(der, {}, *set, {fast});
    if (outcome.failure || outcome.fast != fast) state.SkipWithError("not the path measured");
    benchmark::DoNotOptimize(outcome);
  }
}
BENCHMARK_CAPTURE(BM_VerifyChain, fast, true)->ArgName("rsa")->Arg(0)->Arg(1);
BENCHMARK_CAPTURE(BM_VerifyChain, openssl, false)->ArgName("rsa")->Arg(0)->Arg(1);

void BM_Evaluate5000(benchmark::State& state) {
  const auto& certs = fleet();
  const auto rules = certwatch::rules::default_rules();
  const std::int64_t now = unix_now();
  for (auto _ : state) {
    for (const auto& cert : certs) {
      auto result = certwatch::rules::evaluate(cert, rules, now);
      benchmark::DoNotOptimize(result);
    }
  }
  state.SetItemsProcessed(state.iterations() * kFleet);
}
BENCHMARK(BM_Evaluate5000)->Unit(benchmark::kMicrosecond);

void BM_MakeSnapshot5000(benchmark::State& state) {
  certwatch::state::SnapshotInputs inputs;
  certwatch::sources::PollResult result;
  result.certificates = fleet();
  inputs.results.push_back(
      std::make_shared<const certwatch::sources::PollResult>(std::move(result)));
  certwatch::state::SourceHealth health;
  health.source = "file";
  health.polled = health.up = true;
  health.last_success = health.last_poll = static_cast<double>(unix_now());
  inputs.health.push_back(health);
  inputs.rules = certwatch::rules::default_rules();
  inputs.build = {"bench", "bench", "OpenSSL"};
  std::size_t text_bytes = 0;
  for (auto _ : state) {
    auto snapshot = certwatch::exporter::make_exposition(
        certwatch::state::make_snapshot(inputs, static_cast<double>(unix_now())));
    text_bytes = snapshot->text.size();
    benchmark::DoNotOptimize(snapshot);
  }
  state.SetItemsProcessed(state.iterations() * kFleet);
  state.counters["metrics_text_bytes"] = static_cast<double>(text_bytes);
}
BENCHMARK(BM_MakeSnapshot5000)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
