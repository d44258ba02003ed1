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

// A certificate decoded once: a trust anchor of many leaves, or an intermediate that travels
// with them (x509/chain.hpp). Decoding it (its public key above all) costs more than the
// verification itself. Thread-safe once made.
class TrustAnchor {
 public:
  // Null when the DER does not decode as a certificate (it cannot anchor anything).
  static std::shared_ptr<const TrustAnchor> from_der(std::string_view ca_der);
  ~TrustAnchor();
  TrustAnchor(const TrustAnchor&) = delete;
  TrustAnchor& operator=(const TrustAnchor&) = delete;

  struct Certificate;  // defined inside the x509 module (der.hpp)
  const Certificate& certificate() const { return *certificate_; }

 private:
  explicit TrustAnchor(std::unique_ptr<Certificate> certificate);
  std::unique_ptr<Certificate> certificate_;
};

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
