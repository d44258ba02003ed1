#include "x509/verify.hpp"

#include <openssl/evp.h>
#include <openssl/objects.h>
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

TrustAnchor::TrustAnchor(std::unique_ptr<Certificate> certificate)
    : certificate_(std::move(certificate)) {}

TrustAnchor::~TrustAnchor() = default;

std::shared_ptr<const TrustAnchor> TrustAnchor::from_der(std::string_view ca_der) {
  const ErrorQueueGuard errors;
  DecodedDer ca = decode_der(ca_der);
  if (!ca.cert) return nullptr;
  auto certificate = std::make_unique<Certificate>();
  certificate->cert = std::move(ca.cert);
  return std::shared_ptr<const TrustAnchor>(new TrustAnchor(std::move(certificate)));
}

namespace {

// One DER element: its tag, the bytes of its value, and the whole element.
struct Element {
  unsigned char tag = 0;
  std::string_view value;
  std::string_view whole;
};

// Reads one definite-length DER element from the front of `in` (lengths up to 4 bytes).
std::optional<Element> read_element(std::string_view& in) {
  if (in.size() < 2) return std::nullopt;
  const auto* bytes = reinterpret_cast<const unsigned char*>(in.data());
  std::size_t header = 2;
  std::size_t length = bytes[1];
  if ((length & 0x80) != 0) {
    const std::size_t count = length & 0x7f;
    if (count == 0 || count > 4 || in.size() < 2 + count) return std::nullopt;
    length = 0;
    for (std::size_t i = 0; i < count; ++i) length = (length << 8) | bytes[2 + i];
    header += count;
  }
  if (in.size() - header < length) return std::nullopt;
  Element out{bytes[0], in.substr(header, length), in.substr(0, header + length)};
  in.remove_prefix(header + length);
  return out;
}

struct MdCtxFree {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};
struct AlgorFree {
  void operator()(X509_ALGOR* alg) const { X509_ALGOR_free(alg); }
};

}  // namespace

struct IssuerKey::Key {
  openssl::PkeyPtr pkey;
};

IssuerKey::IssuerKey(std::unique_ptr<Key> key) : key_(std::move(key)) {}
IssuerKey::~IssuerKey() = default;

std::shared_ptr<const IssuerKey> IssuerKey::from_der(std::string_view ca_der) {
  const ErrorQueueGuard errors;
  const DecodedDer ca = decode_der(ca_der);
  if (!ca.cert) return nullptr;
  auto key = std::make_unique<Key>();
  key->pkey.reset(X509_get_pubkey(ca.cert.get()));
  if (!key->pkey) return nullptr;
  return std::shared_ptr<const IssuerKey>(new IssuerKey(std::move(key)));
}

std::optional<bool> IssuerKey::signed_certificate(std::string_view subject_der) const {
  const ErrorQueueGuard errors;
  std::string_view rest = subject_der;
  const auto certificate = read_element(rest);
  if (!certificate || certificate->tag != 0x30 || !rest.empty()) return std::nullopt;
  std::string_view inside = certificate->value;
  const auto tbs = read_element(inside);
  const auto algorithm = read_element(inside);
  const auto signature = read_element(inside);
  if (!tbs || !algorithm || !signature || tbs->tag != 0x30 || algorithm->tag != 0x30 ||
      signature->tag != 0x03 || signature->value.empty() || signature->value[0] != 0) {
    return std::nullopt;
  }
  const auto* alg_bytes = reinterpret_cast<const unsigned char*>(algorithm->whole.data());
  const std::unique_ptr<X509_ALGOR, AlgorFree> alg(
      d2i_X509_ALGOR(nullptr, &alg_bytes, static_cast<long>(algorithm->whole.size())));
  if (!alg) return std::nullopt;
  int md_nid = NID_undef;
  int pkey_nid = NID_undef;
  if (OBJ_find_sigid_algs(OBJ_obj2nid(alg->algorithm), &md_nid, &pkey_nid) == 0 ||
      pkey_nid == NID_rsassaPss) {
    return std::nullopt;  // PSS carries its digest in parameters: the full path handles it
  }
  const EVP_MD* md = nullptr;
  if (md_nid != NID_undef) {
    md = fetched_digest(md_nid);
    if (md == nullptr) return std::nullopt;
  }
  const std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, md, nullptr, key_->pkey.get()) != 1) {
    return std::nullopt;
  }
  const std::string_view sig = signature->value.substr(1);
  return EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
                          reinterpret_cast<const unsigned char*>(tbs->whole.data()),
                          tbs->whole.size()) == 1;
}

}  // namespace certwatch::x509
