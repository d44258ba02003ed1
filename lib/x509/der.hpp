// Internal to the x509 module: the one way DER bytes become an X509 object, and the error-queue
// discipline every entry point keeps. Not part of the module's interface.
#pragma once

#include <openssl/err.h>
#include <openssl/evp.h>

#include <cstdint>
#include <optional>
#include <string_view>

#include "core/openssl_handles.hpp"
#include "x509/verify.hpp"

namespace certwatch::x509 {

// Our calls must not leave OpenSSL errors behind for whoever calls OpenSSL next on this thread.
class ErrorQueueGuard {
 public:
  ErrorQueueGuard() { ERR_set_mark(); }
  ~ErrorQueueGuard() { ERR_pop_to_mark(); }
  ErrorQueueGuard(const ErrorQueueGuard&) = delete;
  ErrorQueueGuard& operator=(const ErrorQueueGuard&) = delete;
};

// Either the decoded certificate or why there is none.
struct DecodedDer {
  openssl::X509Ptr cert;
  std::string_view error;  // a static string; empty when cert is set
};

// Decodes exactly one certificate: bytes after its DER make the input invalid, so the bytes that
// were fingerprinted are exactly the bytes that were read. Callers hold an ErrorQueueGuard.
DecodedDer decode_der(std::string_view der);

// The digest of `nid`, fetched from the default provider once for the process: a legacy method
// (EVP_sha256(), EVP_get_digestbynid) makes OpenSSL 3 look the implementation up again at every
// use, under global locks that concurrent threads contend for. SHA-1 and SHA-2 are fetched ahead;
// another digest falls back to EVP_get_digestbynid. Null when there is none.
const EVP_MD* fetched_digest(int nid);

// An ASN1_TIME as unix seconds; nullopt when it is null or does not read.
std::optional<std::int64_t> unix_seconds(const ASN1_TIME* time);

struct TrustAnchor::Certificate {
  openssl::X509Ptr cert;
};

}  // namespace certwatch::x509
