#include "x509/key_match.hpp"

#include <openssl/err.h>
#include <openssl/pem.h>

#include <climits>

#include "core/openssl_handles.hpp"

namespace certwatch::x509 {
namespace {

// OpenSSL's default would prompt on the terminal for an encrypted key; a daemon must not wait
// for an answer that never comes, so the key is unreadable instead.
int refuse_passphrase(char* /*buffer*/, int /*size*/, int /*rwflag*/, void* /*userdata*/) {
  return -1;
}

std::optional<bool> compare(std::string_view cert_der, std::string_view key_pem) {
  if (cert_der.size() > LONG_MAX || key_pem.size() > INT_MAX) return std::nullopt;
  const auto* der = reinterpret_cast<const unsigned char*>(cert_der.data());
  const openssl::X509Ptr cert(d2i_X509(nullptr, &der, static_cast<long>(cert_der.size())));
  if (!cert) return std::nullopt;
  const openssl::BioPtr bio(BIO_new_mem_buf(key_pem.data(), static_cast<int>(key_pem.size())));
  if (!bio) return std::nullopt;
  const openssl::PkeyPtr key(
      PEM_read_bio_PrivateKey(bio.get(), nullptr, &refuse_passphrase, nullptr));
  const EVP_PKEY* cert_key = X509_get0_pubkey(cert.get());
  if (!key || cert_key == nullptr) return std::nullopt;
  // 1: same key; 0: another key; -1: another key type; -2: a type OpenSSL cannot compare.
  switch (EVP_PKEY_eq(cert_key, key.get())) {
    case 1:
      return true;
    case 0:
    case -1:
      return false;
    default:
      return std::nullopt;
  }
}

}  // namespace

std::optional<bool> key_matches(std::string_view cert_der, std::string_view key_pem) {
  // A failed parse queues errors that would mislead whoever calls OpenSSL next on this thread.
  ERR_set_mark();
  const std::optional<bool> result = compare(cert_der, key_pem);
  ERR_pop_to_mark();
  return result;
}

}  // namespace certwatch::x509
