// RAII owners for the OpenSSL objects the daemon handles, one definition for every module that
// links OpenSSL (x509 parsing, the HTTP server's TLS context). Header-only: core itself does not
// link OpenSSL.
#pragma once

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>

namespace certwatch::openssl {

struct BioFree {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
struct X509Free {
  void operator()(X509* cert) const { X509_free(cert); }
};
struct X509StoreFree {
  void operator()(X509_STORE* store) const { X509_STORE_free(store); }
};
struct X509StoreCtxFree {
  void operator()(X509_STORE_CTX* ctx) const { X509_STORE_CTX_free(ctx); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
struct GeneralNamesFree {
  void operator()(GENERAL_NAMES* names) const { GENERAL_NAMES_free(names); }
};
struct NameStackFree {
  void operator()(STACK_OF(X509_NAME) * names) const {
    sk_X509_NAME_pop_free(names, X509_NAME_free);
  }
};
struct NameFree {
  void operator()(X509_NAME* name) const { X509_NAME_free(name); }
};
struct BufferFree {
  void operator()(unsigned char* buffer) const { OPENSSL_free(buffer); }
};

using BioPtr = std::unique_ptr<BIO, BioFree>;
using X509Ptr = std::unique_ptr<X509, X509Free>;
using X509StorePtr = std::unique_ptr<X509_STORE, X509StoreFree>;
using X509StoreCtxPtr = std::unique_ptr<X509_STORE_CTX, X509StoreCtxFree>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;
using GeneralNamesPtr = std::unique_ptr<GENERAL_NAMES, GeneralNamesFree>;
using NameStackPtr = std::unique_ptr<STACK_OF(X509_NAME), NameStackFree>;
using NamePtr = std::unique_ptr<X509_NAME, NameFree>;
using BufferPtr = std::unique_ptr<unsigned char, BufferFree>;

}  // namespace certwatch::openssl
