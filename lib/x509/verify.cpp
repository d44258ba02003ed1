#include "x509/verify.hpp"

#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include <ctime>

#include "core/openssl_handles.hpp"
#include "x509/der.hpp"

namespace certwatch::x509 {

bool issued_by(std::string_view subject_der, std::string_view issuer_der) {
  const ErrorQueueGuard errors;
  const DecodedDer subject = decode_der(subject_der);
  const DecodedDer issuer = decode_der(issuer_der);
  if (!subject.cert || !issuer.cert) return false;
  // Names, and the authority key identifier against the issuer's subject key identifier when
  // both are present: cheap, and it rules out most candidates before any signature arithmetic.
  if (X509_check_issued(issuer.cert.get(), subject.cert.get()) != X509_V_OK) return false;
  EVP_PKEY* issuer_key = X509_get0_pubkey(issuer.cert.get());
  return issuer_key != nullptr && X509_verify(subject.cert.get(), issuer_key) == 1;
}

std::optional<std::string> verify_error(std::string_view leaf_der,
                                        std::span<const std::string> ca_ders, std::int64_t at) {
  const ErrorQueueGuard errors;
  const DecodedDer leaf = decode_der(leaf_der);
  if (!leaf.cert) return std::string(leaf.error);

  const openssl::X509StorePtr store(X509_STORE_new());
  if (!store) return std::string("out of memory");
  for (const std::string& ca_der : ca_ders) {
    // A CA that does not decode cannot anchor anything; the others still may. The store takes
    // its own reference, and a duplicate is not an error.
    const DecodedDer ca = decode_der(ca_der);
    if (ca.cert) X509_STORE_add_cert(store.get(), ca.cert.get());
  }

  const openssl::X509StoreCtxPtr ctx(X509_STORE_CTX_new());
  if (!ctx || X509_STORE_CTX_init(ctx.get(), store.get(), leaf.cert.get(), nullptr) != 1) {
    return std::string("out of memory");
  }
  X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(ctx.get());
  // Sets X509_V_FLAG_USE_CHECK_TIME: the check happens at `at`, never at the wall clock.
  X509_VERIFY_PARAM_set_time(param, static_cast<time_t>(at));
  // Every CA given is an anchor, self-signed or not: a bundle may hold an intermediate that the
  // nodes trust directly.
  X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_PARTIAL_CHAIN);
  // Extended key usage is a check of its own (eku_missing); here only the chain counts.
  X509_STORE_CTX_set_purpose(ctx.get(), X509_PURPOSE_ANY);

  if (X509_verify_cert(ctx.get()) == 1) return std::nullopt;
  const int error = X509_STORE_CTX_get_error(ctx.get());
  // An internal failure (allocation) leaves no verify error to report.
  if (error == X509_V_OK) return std::string("verification failed");
  return std::string(X509_verify_cert_error_string(error));
}

}  // namespace certwatch::x509
