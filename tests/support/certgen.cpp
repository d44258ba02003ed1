#include "support/certgen.hpp"

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string_view>
#include <utility>

#include "support/tempdir.hpp"

namespace certwatch::testing {
namespace {

struct BioDeleter {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
struct X509ExtensionDeleter {
  void operator()(X509_EXTENSION* ext) const { X509_EXTENSION_free(ext); }
};
struct GeneralNamesDeleter {
  void operator()(GENERAL_NAMES* names) const { GENERAL_NAMES_free(names); }
};
struct GeneralNameDeleter {
  void operator()(GENERAL_NAME* name) const { GENERAL_NAME_free(name); }
};
struct PkeyCtxDeleter {
  void operator()(EVP_PKEY_CTX* ctx) const { EVP_PKEY_CTX_free(ctx); }
};
struct PkeyDeleter {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
struct Asn1StringDeleter {
  void operator()(ASN1_STRING* str) const { ASN1_STRING_free(str); }
};
struct OpensslFreeDeleter {
  void operator()(unsigned char* p) const { OPENSSL_free(p); }
};
using BioPtr = std::unique_ptr<BIO, BioDeleter>;
using X509ExtensionPtr = std::unique_ptr<X509_EXTENSION, X509ExtensionDeleter>;
using GeneralNamesPtr = std::unique_ptr<GENERAL_NAMES, GeneralNamesDeleter>;
using GeneralNamePtr = std::unique_ptr<GENERAL_NAME, GeneralNameDeleter>;
using PkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, PkeyCtxDeleter>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyDeleter>;
using Asn1StringPtr = std::unique_ptr<ASN1_STRING, Asn1StringDeleter>;

// Test helpers fail loudly: a certificate that silently lacks an extension would make a test
// assert against the wrong thing.
void check(bool ok, std::string_view what) {
  if (!ok) throw std::runtime_error("certgen: " + std::string(what) + " failed");
}

std::shared_ptr<void> own_x509(X509* cert) {
  check(cert != nullptr, "X509_new");
  return {cert, [](void* p) { X509_free(static_cast<X509*>(p)); }};
}

std::shared_ptr<void> own_key(EVP_PKEY* key) {
  check(key != nullptr, "key generation");
  return {key, [](void* p) { EVP_PKEY_free(static_cast<EVP_PKEY*>(p)); }};
}

X509* as_x509(const std::shared_ptr<void>& p) { return static_cast<X509*>(p.get()); }
EVP_PKEY* as_key(const std::shared_ptr<void>& p) { return static_cast<EVP_PKEY*>(p.get()); }

// DSA needs domain parameters first; OpenSSL 3 still generates them (FIPS 186-4).
EVP_PKEY* generate_dsa_key(int bits) {
  const PkeyCtxPtr param_ctx(EVP_PKEY_CTX_new_from_name(nullptr, "DSA", nullptr));
  check(param_ctx != nullptr && EVP_PKEY_paramgen_init(param_ctx.get()) == 1, "DSA paramgen init");
  check(EVP_PKEY_CTX_set_dsa_paramgen_bits(param_ctx.get(), bits) == 1, "DSA paramgen bits");
  EVP_PKEY* raw_params = nullptr;
  check(EVP_PKEY_paramgen(param_ctx.get(), &raw_params) == 1, "DSA paramgen");
  const PkeyPtr params(raw_params);
  const PkeyCtxPtr key_ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, params.get(), nullptr));
  check(key_ctx != nullptr && EVP_PKEY_keygen_init(key_ctx.get()) == 1, "DSA keygen init");
  EVP_PKEY* key = nullptr;
  check(EVP_PKEY_keygen(key_ctx.get(), &key) == 1, "DSA keygen");
  return key;
}

EVP_PKEY* generate_key(KeyAlgorithm algorithm, int bits) {
  switch (algorithm) {
    case KeyAlgorithm::ec:
      check(bits == 256 || bits == 384, "EC key size (256 or 384)");
      return EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", bits == 256 ? "P-256" : "P-384");
    case KeyAlgorithm::rsa:
      return EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<std::size_t>(bits));
    case KeyAlgorithm::dsa:
      return generate_dsa_key(bits);
    case KeyAlgorithm::ed25519:
      return EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
  }
  return nullptr;
}

// RSA 4096 takes seconds and DSA parameters longer; EC and Ed25519 keys are made fresh each time
// so that certificates stay key-distinct by default.
std::shared_ptr<void> key_for(const CertSpec& spec) {
  if (spec.reuse_key_of != nullptr) return spec.reuse_key_of->key;
  if (spec.explicit_curve) {
    // Written with its curve's parameters spelled out instead of the curve's name.
    EVP_PKEY* key = generate_key(KeyAlgorithm::ec, 256);
    check(key != nullptr && EVP_PKEY_set_utf8_string_param(key, "encoding", "explicit") == 1,
          "explicit EC encoding");
    return own_key(key);
  }
  const bool slow =
      spec.key_algorithm == KeyAlgorithm::rsa || spec.key_algorithm == KeyAlgorithm::dsa;
  if (!slow) return own_key(generate_key(spec.key_algorithm, spec.key_bits));
  static std::mutex mutex;
  static std::map<std::pair<KeyAlgorithm, int>, std::shared_ptr<void>> cache;
  const std::lock_guard lock(mutex);
  auto& key = cache[{spec.key_algorithm, spec.key_bits}];
  if (!key) key = own_key(generate_key(spec.key_algorithm, spec.key_bits));
  return key;
}

const char* extended_key_usage_value(const CertSpec& spec) {
  switch (spec.extended_key_usage) {
    case ExtendedKeyUsage::by_role:
      return spec.is_ca ? nullptr : "serverAuth,clientAuth";
    case ExtendedKeyUsage::none:
      return nullptr;
    case ExtendedKeyUsage::server_auth:
      return "serverAuth";
    case ExtendedKeyUsage::client_auth:
      return "clientAuth";
    case ExtendedKeyUsage::both:
      return "serverAuth,clientAuth";
    case ExtendedKeyUsage::any:
      return "anyExtendedKeyUsage";
  }
  return nullptr;
}

std::string drain(BIO* bio) {
  const std::size_t pending = BIO_ctrl_pending(bio);
  std::string out(pending, '\0');
  if (pending > 0) {
    check(BIO_read(bio, out.data(), static_cast<int>(pending)) == static_cast<int>(pending),
          "BIO_read");
  }
  return out;
}

std::uint64_t random_serial() {
  std::uint64_t serial = 0;
  while (serial == 0) {
    check(RAND_bytes(reinterpret_cast<unsigned char*>(&serial), sizeof serial) == 1, "RAND_bytes");
  }
  return serial;
}

void set_time(ASN1_TIME* field, std::int64_t unix_seconds) {
  // ASN1_TIME_set picks UTCTime for 1950..2049 and GeneralizedTime otherwise, as RFC 5280 wants.
  check(ASN1_TIME_set(field, static_cast<time_t>(unix_seconds)) != nullptr, "ASN1_TIME_set");
}

void add_conf_extension(X509* cert, X509V3_CTX& ctx, int nid, const char* value) {
  const X509ExtensionPtr ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value));
  check(ext != nullptr, value);
  check(X509_add_ext(cert, ext.get(), -1) == 1, "X509_add_ext");
}

void push_name(GENERAL_NAMES* names, int type, Asn1StringPtr value) {
  GeneralNamePtr name(GENERAL_NAME_new());
  check(name != nullptr, "GENERAL_NAME_new");
  GENERAL_NAME_set0_value(name.get(), type, value.release());
  check(sk_GENERAL_NAME_push(names, name.get()) > 0, "sk_GENERAL_NAME_push");
  static_cast<void>(name.release());  // the stack owns it now
}

void add_subject_alt_names(X509* cert, const CertSpec& spec) {
  if (spec.dns_names.empty() && spec.ip_addresses.empty()) return;
  const GeneralNamesPtr names(sk_GENERAL_NAME_new_null());
  check(names != nullptr, "sk_GENERAL_NAME_new_null");
  for (const auto& dns : spec.dns_names) {
    Asn1StringPtr value(ASN1_IA5STRING_new());
    check(value != nullptr, "ASN1_IA5STRING_new");
    check(ASN1_STRING_set(value.get(), dns.data(), static_cast<int>(dns.size())) == 1,
          "ASN1_STRING_set");
    push_name(names.get(), GEN_DNS, std::move(value));
  }
  for (const auto& ip : spec.ip_addresses) {
    Asn1StringPtr value(a2i_IPADDRESS(ip.c_str()));
    check(value != nullptr, "a2i_IPADDRESS " + ip);
    push_name(names.get(), GEN_IPADD, std::move(value));
  }
  check(X509_add1_ext_i2d(cert, NID_subject_alt_name, names.get(), 0, X509V3_ADD_DEFAULT) == 1,
        "subjectAltName");
}

// Writes the declared algorithms in place of the real one and signs the changed TBSCertificate
// again with the real one, so only the algorithm fields lie.
void resign_with_declared_algorithms(X509* cert, const CertSpec& spec, EVP_PKEY* signing_key,
                                     const EVP_MD* digest) {
  const auto declare = [](const X509_ALGOR* field, const std::string& name) {
    if (name.empty()) return;
    ASN1_OBJECT* object = OBJ_txt2obj(name.c_str(), 0);
    check(object != nullptr, "algorithm " + name);
    // The only way to rewrite a signed certificate's algorithm fields is through their objects.
    check(X509_ALGOR_set0(const_cast<X509_ALGOR*>(field), object, V_ASN1_UNDEF, nullptr) == 1,
          "X509_ALGOR_set0");
  };
  const ASN1_BIT_STRING* signature = nullptr;
  const X509_ALGOR* outer = nullptr;
  X509_get0_signature(&signature, &outer, cert);
  declare(X509_get0_tbs_sigalg(cert), spec.inner_signature_algorithm);
  declare(outer, spec.outer_signature_algorithm);
  unsigned char* tbs = nullptr;
  const int tbs_length = i2d_re_X509_tbs(cert, &tbs);  // re-encodes the changed TBSCertificate
  check(tbs_length > 0, "i2d_re_X509_tbs");
  const std::unique_ptr<unsigned char, OpensslFreeDeleter> tbs_owner(tbs);
  const std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(),
                                                                    &EVP_MD_CTX_free);
  std::size_t length = 0;
  check(ctx && EVP_DigestSignInit(ctx.get(), nullptr, digest, nullptr, signing_key) == 1 &&
            EVP_DigestSign(ctx.get(), nullptr, &length, tbs,
                           static_cast<std::size_t>(tbs_length)) == 1,
        "EVP_DigestSign length");
  std::string bytes(length, '\0');
  auto* out = reinterpret_cast<unsigned char*>(bytes.data());
  check(EVP_DigestSign(ctx.get(), out, &length, tbs, static_cast<std::size_t>(tbs_length)) == 1,
        "EVP_DigestSign");
  auto* bits = const_cast<ASN1_BIT_STRING*>(signature);
  check(ASN1_BIT_STRING_set(bits, out, static_cast<int>(length)) == 1, "ASN1_BIT_STRING_set");
  bits->flags &= ~(ASN1_STRING_FLAG_BITS_LEFT | 0x07);
  bits->flags |= ASN1_STRING_FLAG_BITS_LEFT;
}

}  // namespace

GeneratedCert generate_cert(const CertSpec& spec, const GeneratedCert* issuer) {
  GeneratedCert out;
  out.key = key_for(spec);
  out.x509 = own_x509(X509_new());
  X509* cert = as_x509(out.x509);

  check(X509_set_version(cert, X509_VERSION_3) == 1, "X509_set_version");
  const std::uint64_t serial = spec.serial != 0 ? spec.serial : random_serial();
  check(ASN1_INTEGER_set_uint64(X509_get_serialNumber(cert), serial) == 1, "serial");

  const std::int64_t now = unix_now();
  set_time(X509_getm_notBefore(cert), spec.not_before != 0 ? spec.not_before : now - 3600);
  set_time(X509_getm_notAfter(cert), spec.not_after != 0 ? spec.not_after : now + 365 * kDay);

  if (!spec.organization.empty()) {
    check(X509_NAME_add_entry_by_txt(
              X509_get_subject_name(cert), "O", MBSTRING_UTF8,
              reinterpret_cast<const unsigned char*>(spec.organization.c_str()), -1, -1, 0) == 1,
          "O " + spec.organization);
  }
  if (!spec.common_name.empty()) {
    X509_NAME* subject = X509_get_subject_name(cert);
    check(X509_NAME_add_entry_by_txt(
              subject, "CN", MBSTRING_UTF8,
              reinterpret_cast<const unsigned char*>(spec.common_name.c_str()), -1, -1, 0) == 1,
          "CN " + spec.common_name);
  }
  X509* issuer_cert = issuer != nullptr ? as_x509(issuer->x509) : cert;
  check(X509_set_issuer_name(cert, X509_get_subject_name(issuer_cert)) == 1, "issuer name");
  check(X509_set_pubkey(cert, as_key(out.key)) == 1, "X509_set_pubkey");

  X509V3_CTX ctx{};
  X509V3_set_ctx(&ctx, issuer_cert, cert, nullptr, nullptr, 0);
  const std::string path_length =
      spec.path_length >= 0 ? ",pathlen:" + std::to_string(spec.path_length) : "";
  add_conf_extension(cert, ctx, NID_basic_constraints,
                     spec.is_ca ? ("critical,CA:TRUE" + path_length).c_str() : "critical,CA:FALSE");
  const std::string usage = !spec.key_usage.empty() ? spec.key_usage
                            : spec.is_ca ? "critical,keyCertSign,cRLSign,digitalSignature"
                                         : "critical,digitalSignature,keyEncipherment";
  if (usage != "none") add_conf_extension(cert, ctx, NID_key_usage, usage.c_str());
  if (const char* extended = extended_key_usage_value(spec)) {
    add_conf_extension(cert, ctx, NID_ext_key_usage, extended);
  }
  const std::string critical = spec.critical_key_identifiers ? "critical," : "";
  add_conf_extension(cert, ctx, NID_subject_key_identifier, (critical + "hash").c_str());
  if (issuer != nullptr) {
    const X509ExtensionPtr akid(X509V3_EXT_conf_nid(nullptr, &ctx, NID_authority_key_identifier,
                                                    (critical + "keyid").c_str()));
    check(akid != nullptr, "authorityKeyIdentifier");
    if (spec.wrong_authority_key_id) {
      // The key id is the extension's last bytes: flipping one names a key nobody has.
      ASN1_OCTET_STRING* data = X509_EXTENSION_get_data(akid.get());
      data->data[data->length - 1] ^= 0x01;
    }
    check(X509_add_ext(cert, akid.get(), -1) == 1, "X509_add_ext");
  }
  add_subject_alt_names(cert, spec);
  for (const auto& [name, value] : spec.extra_extensions) {
    const X509ExtensionPtr ext(X509V3_EXT_nconf(nullptr, &ctx, name.c_str(), value.c_str()));
    check(ext != nullptr, name + "=" + value);
    check(X509_add_ext(cert, ext.get(), -1) == 1, "X509_add_ext " + name);
  }

  EVP_PKEY* signing_key = issuer != nullptr ? as_key(issuer->key) : as_key(out.key);
  // Ed25519 hashes internally: OpenSSL wants no digest for it.
  const bool digest_free = EVP_PKEY_is_a(signing_key, "ED25519") == 1;
  const EVP_MD* digest =
      digest_free ? nullptr : EVP_get_digestbyname(spec.signature_digest.c_str());
  check(digest_free || digest != nullptr, "digest " + spec.signature_digest);
  check(X509_sign(cert, signing_key, digest) > 0, "X509_sign with " + spec.signature_digest);
  if (!spec.inner_signature_algorithm.empty() || !spec.outer_signature_algorithm.empty()) {
    resign_with_declared_algorithms(cert, spec, signing_key, digest);
    // A fresh object from the final DER, so nothing cached from before the change remains.
    const int length = i2d_X509(cert, nullptr);
    std::string der(static_cast<std::size_t>(length), '\0');
    auto* cursor = reinterpret_cast<unsigned char*>(der.data());
    check(i2d_X509(cert, &cursor) == length, "i2d_X509");
    const auto* in = reinterpret_cast<const unsigned char*>(der.data());
    out.x509 = own_x509(d2i_X509(nullptr, &in, length));
    cert = as_x509(out.x509);
  }

  const BioPtr cert_bio(BIO_new(BIO_s_mem()));
  check(cert_bio != nullptr && PEM_write_bio_X509(cert_bio.get(), cert) == 1, "PEM_write_bio_X509");
  out.cert_pem = drain(cert_bio.get());

  out.key_pem = private_key_pem(out, KeyPemFormat::pkcs8);

  const int der_length = i2d_X509(cert, nullptr);
  check(der_length > 0, "i2d_X509 length");
  out.der.assign(static_cast<std::size_t>(der_length), '\0');
  auto* der_cursor = reinterpret_cast<unsigned char*>(out.der.data());
  check(i2d_X509(cert, &der_cursor) == der_length, "i2d_X509");
  return out;
}

std::string private_key_pem(const GeneratedCert& cert, KeyPemFormat format) {
  const BioPtr bio(BIO_new(BIO_s_mem()));
  check(bio != nullptr, "BIO_new");
  EVP_PKEY* key = as_key(cert.key);
  const int written =
      format == KeyPemFormat::pkcs8
          ? PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr)
          : PEM_write_bio_PrivateKey_traditional(bio.get(), key, nullptr, nullptr, 0, nullptr,
                                                 nullptr);
  check(written == 1, "PEM_write_bio_PrivateKey");
  return drain(bio.get());
}

std::filesystem::path write_key_file(const TempDir& dir, std::string_view relative,
                                     const GeneratedCert& cert, KeyPemFormat format,
                                     unsigned mode) {
  return dir.write(relative, private_key_pem(cert, format), mode);
}

std::string pem_encode(std::string_view der, const std::string& label) {
  const BioPtr bio(BIO_new(BIO_s_mem()));
  check(bio != nullptr, "BIO_new");
  check(PEM_write_bio(bio.get(), label.c_str(), "",
                      reinterpret_cast<const unsigned char*>(der.data()),
                      static_cast<long>(der.size())) > 0,
        "PEM_write_bio");
  return drain(bio.get());
}

std::string sha256_fingerprint(const GeneratedCert& cert) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int length = 0;
  check(X509_digest(as_x509(cert.x509), EVP_sha256(), digest.data(), &length) == 1, "X509_digest");
  std::string hex;
  for (unsigned int i = 0; i < length; ++i) {
    std::array<char, 3> pair{};
    std::snprintf(pair.data(), pair.size(), "%02x", digest[i]);
    hex += pair.data();
  }
  return hex;
}

std::string cert_pem_with_time_left(const std::string& common_name, std::int64_t seconds_left,
                                    bool is_ca) {
  CertSpec spec;
  spec.common_name = common_name;
  spec.is_ca = is_ca;
  spec.not_before = unix_now() - 400 * kDay;
  spec.not_after = unix_now() + seconds_left;
  return generate_cert(spec).cert_pem;
}

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace certwatch::testing
