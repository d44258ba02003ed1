// Signature and chain verification on DER bytes (pure: no files, no clock of its own).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

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

}  // namespace certwatch::x509
