// Signature and chain verification on DER bytes (pure: no files, no clock of its own).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace certwatch::x509 {

// Whether `issuer_der` issued `subject_der`: the subject's issuer name is the issuer's subject
// name and the issuer's public key verifies the subject's signature. False on any parse error.
bool issued_by(std::string_view subject_der, std::string_view issuer_der);

// Verifies `leaf_der` against `ca_ders` as trust anchors (every one of them), at unix time `at`,
// the way a TLS peer would (X509_verify_cert, purpose any). nullopt when it verifies, else
// OpenSSL's verify error text ("certificate has expired", "unable to get local issuer
// certificate", ...).
std::optional<std::string> verify_error(std::string_view leaf_der,
                                        std::span<const std::string> ca_ders, std::int64_t at);

// A CA certificate decoded once, to anchor the verification of many leaves: decoding it (its
// public key above all) costs more than the verification itself. Thread-safe once made.
class TrustAnchor {
 public:
  // Null when the DER does not decode as a certificate (it cannot anchor anything).
  static std::shared_ptr<const TrustAnchor> from_der(std::string_view ca_der);
  ~TrustAnchor();
  TrustAnchor(const TrustAnchor&) = delete;
  TrustAnchor& operator=(const TrustAnchor&) = delete;

 private:
  struct Certificate;
  explicit TrustAnchor(std::unique_ptr<Certificate> certificate);
  std::unique_ptr<Certificate> certificate_;
  friend std::optional<std::string> verify_against(
      std::string_view leaf_der, std::span<const std::shared_ptr<const TrustAnchor>> anchors,
      std::int64_t at);
};

// verify_error with the anchors decoded already; null anchors are skipped.
std::optional<std::string> verify_against(
    std::string_view leaf_der, std::span<const std::shared_ptr<const TrustAnchor>> anchors,
    std::int64_t at);

// A CA's public key, decoded once, that checks the signatures of many certificates without
// decoding them: the subject's DER is split into its TBSCertificate, signature algorithm and
// signature, and only the signature arithmetic runs. Decoding a certificate (its public key above
// all) costs more than verifying an RSA signature, and thousands of leaves are checked per poll.
// Thread-safe once made.
class IssuerKey {
 public:
  // Null when the CA's DER or its key does not decode.
  static std::shared_ptr<const IssuerKey> from_der(std::string_view ca_der);
  ~IssuerKey();
  IssuerKey(const IssuerKey&) = delete;
  IssuerKey& operator=(const IssuerKey&) = delete;

  // Whether this key's signature over `subject_der` verifies. nullopt when the fast path cannot
  // tell (RSA-PSS parameters, an unknown algorithm, malformed DER): use issued_by() then.
  std::optional<bool> signed_certificate(std::string_view subject_der) const;

 private:
  struct Key;
  explicit IssuerKey(std::unique_ptr<Key> key);
  std::unique_ptr<Key> key_;
};

}  // namespace certwatch::x509
