// libFuzzer target for the certificate parser: x509::parse_pem_bundle on the raw input and
// x509::parse_der on it as DER, then the verifier on what parsed. Beyond "no crash, no leak, no
// UB" it checks the promises, so a logic slip fails too:
//   - indices are as many as certificates, strictly increasing;
//   - an error is set exactly when nothing parsed or a block was bad;
//   - DER that parses, armoured as one PEM block, parses to the same facts (all of them);
//   - the facts carry exactly the DER they came from;
//   - issued_by and verify_error on it never leave an OpenSSL error behind;
//   - the DER reader (x509::read_der_fast) agrees with OpenSSL (x509::read_der_openssl), the
//     oracle, on the input as DER and on every certificate found in it as PEM: whatever it
//     accepts, OpenSSL accepts, with every fact equal. (It may decline what OpenSSL accepts; then
//     OpenSSL's answer is the answer, so the parser as a whole accepts and rejects exactly what
//     OpenSSL does.)
#include <openssl/err.h>
#include <openssl/evp.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

#include "x509/fast_parse.hpp"
#include "x509/parse.hpp"
#include "x509/verify.hpp"

namespace {

void require(bool condition) {
  if (!condition) std::abort();  // libFuzzer reports the input that got here
}

// PEM armour written independently of the code under test (OpenSSL's encoder, 64 columns).
std::string pem_armour(std::string_view der) {
  std::string base64(4 * ((der.size() + 2) / 3) + 1, '\0');
  const int written = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(base64.data()),
                                      reinterpret_cast<const unsigned char*>(der.data()),
                                      static_cast<int>(der.size()));
  base64.resize(static_cast<std::size_t>(written));
  std::string pem = "-----BEGIN CERTIFICATE-----\n";
  for (std::size_t i = 0; i < base64.size(); i += 64) {
    pem += base64.substr(i, 64);
    pem += '\n';
  }
  pem += "-----END CERTIFICATE-----\n";
  return pem;
}

// The DER reader against the oracle on one DER input; returns the oracle's facts.
std::optional<certwatch::CertificateFacts> compare_paths(std::string_view der) {
  std::string error;
  const auto oracle = certwatch::x509::read_der_openssl(der, error);
  const auto fast = certwatch::x509::read_der_fast(der);
  if (fast) {
    require(oracle.has_value());
    require(*fast == *oracle);
  }
  require(oracle.has_value() || !error.empty());
  return oracle;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);

  const certwatch::x509::BundleResult bundle = certwatch::x509::parse_pem_bundle(input);
  require(bundle.indices.size() == bundle.certificates.size());
  for (std::size_t i = 1; i < bundle.indices.size(); ++i) {
    require(bundle.indices[i - 1] < bundle.indices[i]);
  }
  if (bundle.certificates.empty()) require(bundle.error.has_value());
  if (bundle.error) require(!bundle.detail.empty());
  for (const certwatch::CertificateFacts& cert : bundle.certificates) {
    auto oracle = compare_paths(cert.der);
    require(oracle.has_value());
    oracle->der = cert.der;
    require(*oracle == cert);
  }

  const auto oracle = compare_paths(input);

  const auto facts = certwatch::x509::parse_der(input);
  require(facts.has_value() == oracle.has_value());
  if (facts) {
    const certwatch::x509::BundleResult armoured =
        certwatch::x509::parse_pem_bundle(pem_armour(input));
    require(!armoured.error && armoured.certificates.size() == 1);
    require(*facts == armoured.certificates.front());
    require(facts->der == input);

    ERR_clear_error();
    const std::string anchors[] = {std::string(input)};
    // Issued by itself exactly when self-signed, unless its key identifiers or key usage say no
    // (which X509_check_issued also weighs), so only one direction is a promise.
    if (certwatch::x509::issued_by(input, input)) require(facts->self_signed);
    static_cast<void>(certwatch::x509::verify_error(input, anchors, facts->not_before));
    require(ERR_peek_error() == 0);
  }
  return 0;
}
