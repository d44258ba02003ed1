// The bare OpenSSL loop the daemon is measured against, over one file's bytes: PEM-decode every
// certificate with PEM_read_bio_X509 and read its notAfter; nothing else. Shared by the floor
// (crdb-certwatch-bench-floor) and crdb-certwatch-bench-parse.
#pragma once

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <ctime>
#include <memory>
#include <string_view>

namespace certwatch::bench {

struct OpensslCount {
  long certs = 0;
  long long not_after_years = 0;  // consumed so the compiler cannot drop the work
};

inline void count_with_openssl(std::string_view content, OpensslCount& out) {
  std::unique_ptr<BIO, int (*)(BIO*)> bio(
      BIO_new_mem_buf(content.data(), static_cast<int>(content.size())), &BIO_free);
  while (X509* cert = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    std::tm parts{};
    if (ASN1_TIME_to_tm(X509_get0_notAfter(cert), &parts) == 1)
      out.not_after_years += parts.tm_year;
    X509_free(cert);
    ++out.certs;
  }
  ERR_clear_error();  // the end of the bundle leaves a "no start line" error behind
}

}  // namespace certwatch::bench
