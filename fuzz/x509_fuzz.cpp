// libFuzzer target for the certificate parser: x509::parse_pem_bundle on the raw input and
// x509::parse_der on it as DER, then the verifier on what parsed. Beyond "no crash, no leak, no
// UB" it checks the promises, so a logic slip fails too:
//   - indices are as many as certificates, strictly increasing;
//   - an error is set exactly when nothing parsed or a block was bad;
//   - DER that parses, armoured as one PEM block, parses to the same facts (all of them);
//   - the facts carry exactly the DER they came from;
//   - issued_by and verify_chain_der on it never leave an OpenSSL error behind;
//   - the DER reader (x509::read_der_fast) agrees with OpenSSL (x509::read_der_openssl), the
//     oracle, on the input as DER and on every certificate found in it as PEM: whatever it
//     accepts, OpenSSL accepts, with every fact equal. (It may decline what OpenSSL accepts; then
//     OpenSSL's answer is the answer, so the parser as a whole accepts and rejects exactly what
//     OpenSSL does.)
//   - the PEM body decoder (x509::decode_pem_base64) accepts exactly the bodies the oracle below
//     (whitespace dropped, the shape checked, EVP_DecodeBlock) accepts, with the same bytes.
#include <openssl/err.h>
#include <openssl/evp.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

#include "x509/chain.hpp"
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

// The oracle for PEM bodies: whitespace dropped, every other byte a base64 digit or `=`, a whole
// number of quads, at most two `=` and only at the end; then OpenSSL's decoder, less the padding
// bytes it counts in its output. nullopt when the body is refused.
std::optional<std::string> base64_oracle(std::string_view body) {
  std::string compact;
  for (const char c : body) {
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f') continue;
    const bool digit = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                       c == '+' || c == '/';
    if (!digit && c != '=') return std::nullopt;
    compact.push_back(c);
  }
  if (compact.empty() || compact.size() % 4 != 0) return std::nullopt;
  const std::size_t first_pad = compact.find('=');
  const std::size_t padding = first_pad == std::string::npos ? 0 : compact.size() - first_pad;
  if (padding > 2 ||
      (padding > 0 && compact.find_first_not_of('=', first_pad) != std::string::npos)) {
    return std::nullopt;
  }
  std::string decoded(compact.size() / 4 * 3, '\0');
  const int written = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(decoded.data()),
                                      reinterpret_cast<const unsigned char*>(compact.data()),
                                      static_cast<int>(compact.size()));
  require(written >= 0 && static_cast<std::size_t>(written) == decoded.size());
  decoded.resize(decoded.size() - padding);
  return decoded;
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

  std::string base64_error;
  const auto decoded = certwatch::x509::decode_pem_base64(input, base64_error);
  const auto expected = base64_oracle(input);
  require(decoded.has_value() == expected.has_value());
  if (decoded) require(*decoded == *expected);
  if (!decoded) require(!base64_error.empty());

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
    static_cast<void>(certwatch::x509::verify_chain_der(input, {}, anchors));
    require(ERR_peek_error() == 0);
  }
  return 0;
}
