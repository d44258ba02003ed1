// Internal to the x509 module, and what the tests and the fuzzer compare: the two ways one DER
// certificate becomes facts.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/types.hpp"

namespace certwatch::x509 {

// The reader for the certificates real deployments have: strict DER (one-byte tags, minimal
// definite lengths, minimal integers), RSA or P-256/384/521 keys, SHA-1/2 RSA or ECDSA signatures,
// the usual extensions, printable ASCII names. It declines (nullopt) everything else, valid or
// not, and the OpenSSL decode decides then; so whatever it accepts, d2i_X509 accepts with the same
// facts (fuzz/x509_fuzz.cpp and tests/x509_test.cpp hold it to that). No EVP_PKEY is made: key
// type and size come from the algorithm identifier and the key's own structure. Facts come back
// without `der`.
std::optional<CertificateFacts> read_der_fast(std::string_view der);

// The reference: d2i_X509 and the facts OpenSSL reports (public key fully decoded). nullopt with
// `error` set when the DER is not a certificate we can use. Facts come back without `der`.
std::optional<CertificateFacts> read_der_openssl(std::string_view der, std::string& error);

// A PEM body (what lies between the BEGIN and END lines) to its bytes: strict base64 with
// whitespace anywhere. nullopt with `error` set when it is not.
std::optional<std::string> decode_pem_base64(std::string_view body, std::string& error);

}  // namespace certwatch::x509
