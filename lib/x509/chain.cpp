#include "x509/chain.hpp"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <climits>

#include "core/openssl_handles.hpp"
#include "x509/der.hpp"
#include "x509/fast_parse.hpp"

namespace certwatch::x509 {

std::string_view to_string(ChainCause cause) {
  switch (cause) {
    case ChainCause::unknown_issuer:
      return "unknown_issuer";
    case ChainCause::issuer_name_mismatch:
      return "issuer_name_mismatch";
    case ChainCause::key_id_mismatch:
      return "key_id_mismatch";
    case ChainCause::issuer_not_ca:
      return "issuer_not_ca";
    case ChainCause::invalid_ca:
      return "invalid_ca";
    case ChainCause::path_length:
      return "path_length";
    case ChainCause::name_constraints:
      return "name_constraints";
    case ChainCause::critical_extension:
      return "critical_extension";
    case ChainCause::bad_signature:
      return "bad_signature";
    case ChainCause::algorithm_mismatch:
      return "algorithm_mismatch";
    case ChainCause::explicit_curve:
      return "explicit_curve";
    case ChainCause::policy:
      return "policy";
    case ChainCause::malformed:
      return "malformed";
    case ChainCause::intermediate_expired:
      return "intermediate_expired";
    case ChainCause::intermediate_not_yet_valid:
      return "intermediate_not_yet_valid";
    case ChainCause::other:
      return "other";
  }
  return "other";
}

const std::vector<ChainCause>& all_chain_causes() {
  static const std::vector<ChainCause> causes{
      ChainCause::unknown_issuer,
      ChainCause::issuer_name_mismatch,
      ChainCause::key_id_mismatch,
      ChainCause::issuer_not_ca,
      ChainCause::invalid_ca,
      ChainCause::path_length,
      ChainCause::name_constraints,
      ChainCause::critical_extension,
      ChainCause::bad_signature,
      ChainCause::algorithm_mismatch,
      ChainCause::explicit_curve,
      ChainCause::policy,
      ChainCause::malformed,
      ChainCause::intermediate_expired,
      ChainCause::intermediate_not_yet_valid,
      ChainCause::other,
  };
  return causes;
}

namespace {

struct NameFree {
  void operator()(X509_NAME* name) const { X509_NAME_free(name); }
};
struct X509StackFree {
  void operator()(STACK_OF(X509) * stack) const { sk_X509_free(stack); }  // not the certificates
};

X509* x509_of(const std::shared_ptr<const TrustAnchor>& holder) {
  return holder ? holder->certificate().cert.get() : nullptr;
}

ValidityWindow window_of(const X509* cert) {
  return {unix_seconds(X509_get0_notBefore(cert)).value_or(LLONG_MIN),
          unix_seconds(X509_get0_notAfter(cert)).value_or(LLONG_MIN)};
}

bool invalid(X509* cert) { return (X509_get_extension_flags(cert) & EXFLAG_INVALID) != 0; }

// An EC key given by explicit curve parameters (OpenSSL's own test,
// X509_V_ERR_EC_KEY_EXPLICIT_PARAMS).
bool explicit_curve_key(EVP_PKEY* key) {
  if (key == nullptr || EVP_PKEY_get_base_id(key) != EVP_PKEY_EC) return false;
  int explicit_params = 0;
  return EVP_PKEY_get_int_param(key, OSSL_PKEY_PARAM_EC_DECODED_FROM_EXPLICIT_PARAMS,
                                &explicit_params) != 1 ||
         explicit_params != 0;
}

// The extensions an anchor may carry and still take the fast path: those that change nothing in
// a verification with these flags (no revocation, no policy check) beyond what the flags below
// test. Name constraints, policy extensions, RFC 3779 blocks and anything unknown send the leaf to
// X509_verify_cert.
bool plain_extensions(const X509* cert) {
  static constexpr int kPlain[] = {NID_basic_constraints,
                                   NID_key_usage,
                                   NID_ext_key_usage,
                                   NID_subject_key_identifier,
                                   NID_authority_key_identifier,
                                   NID_subject_alt_name,
                                   NID_crl_distribution_points,
                                   NID_info_access};
  for (int i = 0; i < X509_get_ext_count(cert); ++i) {
    const int nid = OBJ_obj2nid(X509_EXTENSION_get_object(X509_get_ext(cert, i)));
    if (std::find(std::begin(kPlain), std::end(kPlain), nid) == std::end(kPlain)) return false;
  }
  return true;
}

}  // namespace

struct AnchorSet::State {
  struct Anchor {
    std::shared_ptr<const TrustAnchor> holder;
    X509* cert = nullptr;
    std::string der;
    // Self-signed (OpenSSL's EXFLAG_SS), CA:TRUE, well formed, no critical extension OpenSSL does
    // not handle, plain extensions only, an RSA or named-curve EC key: a chain that ends here
    // adds nothing to the leaf's own checks but the signature.
    bool plain = false;
    std::shared_ptr<const IssuerKey> key;  // plain anchors only
    std::size_t given = 0;                 // its index among the anchors given to make()
  };
  openssl::X509StorePtr store;
  std::vector<Anchor> anchors;
};

AnchorSet::AnchorSet(std::unique_ptr<State> state) : state_(std::move(state)) {}
AnchorSet::~AnchorSet() = default;

std::shared_ptr<const AnchorSet> AnchorSet::make(
    std::span<const std::shared_ptr<const TrustAnchor>> anchors) {
  const ErrorQueueGuard errors;
  auto state = std::make_unique<State>();
  state->store.reset(X509_STORE_new());
  if (!state->store) return nullptr;
  for (std::size_t given = 0; given < anchors.size(); ++given) {
    const auto& holder = anchors[given];
    X509* cert = x509_of(holder);
    if (cert == nullptr) continue;
    // The store takes its own reference, and a duplicate is not an error.
    X509_STORE_add_cert(state->store.get(), cert);
    State::Anchor anchor{holder, cert, {}, false, nullptr, given};
    unsigned char* der = nullptr;
    const int length = i2d_X509(cert, &der);
    if (length > 0) {
      anchor.der.assign(reinterpret_cast<const char*>(der), static_cast<std::size_t>(length));
      OPENSSL_free(der);
    }
    const std::uint32_t flags = X509_get_extension_flags(cert);
    EVP_PKEY* key = X509_get0_pubkey(cert);
    const int key_type = key != nullptr ? EVP_PKEY_get_base_id(key) : NID_undef;
    anchor.plain = (flags & EXFLAG_SS) != 0 && (flags & (EXFLAG_INVALID | EXFLAG_CRITICAL)) == 0 &&
                   X509_check_ca(cert) == 1 && plain_extensions(cert) && !anchor.der.empty() &&
                   (key_type == EVP_PKEY_RSA || key_type == EVP_PKEY_EC) &&
                   !explicit_curve_key(key);
    if (anchor.plain) anchor.key = IssuerKey::from_der(anchor.der);
    anchor.plain = anchor.plain && anchor.key != nullptr;
    state->anchors.push_back(std::move(anchor));
  }
  return std::shared_ptr<const AnchorSet>(new AnchorSet(std::move(state)));
}

namespace {

// One DER element: its tag, the bytes of its value, and the whole element.
struct Element {
  unsigned char tag = 0;
  std::string_view value;
  std::string_view whole;
};

// Reads one definite-length DER element from the front of `in` (lengths up to 4 bytes).
std::optional<Element> next_element(std::string_view& in) {
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

// What the fast path needs of a leaf beyond its facts, read from its DER.
struct LeafView {
  std::string_view inner_algorithm;  // TBSCertificate.signature, whole element
  std::string_view outer_algorithm;  // Certificate.signatureAlgorithm, whole element
  std::string_view issuer;           // whole Name element
  std::string_view subject;
  std::optional<std::string_view> authority_key_id;  // keyIdentifier bytes
};

constexpr std::string_view kOidSubjectKeyId = "\x55\x1D\x0E";
constexpr std::string_view kOidAuthorityKeyId = "\x55\x1D\x23";

// nullopt when the leaf has anything the fast path does not model: a critical key identifier
// (OpenSSL does not handle either as critical), unique identifiers, an authority key id with more
// than a key identifier.
std::optional<LeafView> view_leaf(std::string_view der) {
  std::string_view rest = der;
  const auto certificate = next_element(rest);
  if (!certificate || certificate->tag != 0x30 || !rest.empty()) return std::nullopt;
  std::string_view parts = certificate->value;
  const auto tbs = next_element(parts);
  const auto outer = next_element(parts);
  if (!tbs || !outer || tbs->tag != 0x30 || outer->tag != 0x30) return std::nullopt;
  LeafView view;
  view.outer_algorithm = outer->whole;
  std::string_view fields = tbs->value;
  auto field = next_element(fields);
  if (field && field->tag == 0xA0) field = next_element(fields);  // version
  // serial, signature, issuer, validity, subject, subjectPublicKeyInfo
  if (!field || field->tag != 0x02) return std::nullopt;
  const auto inner = next_element(fields);
  const auto issuer = next_element(fields);
  const auto validity = next_element(fields);
  const auto subject = next_element(fields);
  const auto key = next_element(fields);
  if (!inner || !issuer || !validity || !subject || !key) return std::nullopt;
  view.inner_algorithm = inner->whole;
  view.issuer = issuer->whole;
  view.subject = subject->whole;
  if (fields.empty()) return view;
  const auto wrapper = next_element(fields);
  if (!wrapper || wrapper->tag != 0xA3 || !fields.empty()) return std::nullopt;
  std::string_view list_bytes = wrapper->value;
  const auto list = next_element(list_bytes);
  if (!list || list->tag != 0x30) return std::nullopt;
  std::string_view extensions = list->value;
  while (!extensions.empty()) {
    const auto extension = next_element(extensions);
    if (!extension || extension->tag != 0x30) return std::nullopt;
    std::string_view inside = extension->value;
    const auto oid = next_element(inside);
    if (!oid || oid->tag != 0x06) return std::nullopt;
    auto next = next_element(inside);
    const bool critical = next && next->tag == 0x01;
    if (critical) next = next_element(inside);
    if (!next || next->tag != 0x04) return std::nullopt;
    if (oid->value == kOidSubjectKeyId || oid->value == kOidAuthorityKeyId) {
      if (critical) return std::nullopt;
    }
    if (oid->value == kOidAuthorityKeyId) {
      std::string_view value = next->value;
      const auto sequence = next_element(value);
      if (!sequence || sequence->tag != 0x30 || !value.empty()) return std::nullopt;
      std::string_view ids = sequence->value;
      if (ids.empty()) continue;
      const auto key_id = next_element(ids);
      if (!key_id || key_id->tag != 0x80 || !ids.empty()) return std::nullopt;
      view.authority_key_id = key_id->value;
    }
  }
  return view;
}

std::string subject_key_id(X509* cert) {
  const ASN1_OCTET_STRING* id = X509_get0_subject_key_id(cert);
  if (id == nullptr) return {};
  return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(id)),
                     static_cast<std::size_t>(ASN1_STRING_length(id)));
}

// For each certificate above the leaf: its validity and that of every certificate of the pool
// with the same subject and key.
std::vector<std::vector<ValidityWindow>> links_of(const std::vector<X509*>& chain,
                                                  const std::vector<X509*>& pool) {
  std::vector<std::vector<ValidityWindow>> links;
  for (std::size_t i = 1; i < chain.size(); ++i) {
    std::vector<ValidityWindow> windows{window_of(chain[i])};
    for (X509* other : pool) {
      if (other == chain[i] || X509_cmp(other, chain[i]) == 0) continue;
      if (X509_NAME_cmp(X509_get_subject_name(other), X509_get_subject_name(chain[i])) != 0) {
        continue;
      }
      if (EVP_PKEY_eq(X509_get0_pubkey(other), X509_get0_pubkey(chain[i])) == 1) {
        windows.push_back(window_of(other));
      }
    }
    links.push_back(std::move(windows));
  }
  return links;
}

std::vector<X509*> pool_of(const AnchorSet::State& anchors,
                           std::span<const std::shared_ptr<const TrustAnchor>> intermediates) {
  std::vector<X509*> pool;
  for (const auto& anchor : anchors.anchors) pool.push_back(anchor.cert);
  for (const auto& holder : intermediates) {
    if (X509* cert = x509_of(holder)) pool.push_back(cert);
  }
  return pool;
}

// A leaf issued directly by plain self-signed anchors, with no intermediates: X509_verify_cert
// builds [leaf, anchor], finds the anchor by X509_check_issued (names, key ids, keyCertSign, the
// signature algorithm fitting the key), and then checks, beyond what `plain` rules out for the
// anchor: the leaf's critical extensions (read_der_fast declines any extension but the six it
// knows, and view_leaf critical key ids), a well-formed leaf (read_der_fast declines what OpenSSL
// flags invalid), inner and outer algorithm alike, and the signature. Only a "trusted" is
// answered; everything else, and every doubt, is OpenSSL's.
std::optional<ChainOutcome> fast_verdict(std::string_view leaf_der, const AnchorSet::State& set,
                                         const ChainOptions& options) {
  if (!read_der_fast(leaf_der)) return std::nullopt;
  const auto view = view_leaf(leaf_der);
  if (!view || view->inner_algorithm != view->outer_algorithm || view->issuer == view->subject) {
    return std::nullopt;
  }
  std::string_view algorithm_bytes = view->outer_algorithm;
  const auto algorithm = next_element(algorithm_bytes);
  if (!algorithm) return std::nullopt;
  std::string_view oid_bytes = algorithm->value;
  const auto oid = next_element(oid_bytes);
  if (!oid || oid->tag != 0x06) return std::nullopt;
  const auto* whole_oid = reinterpret_cast<const unsigned char*>(oid->whole.data());
  const std::unique_ptr<ASN1_OBJECT, decltype(&ASN1_OBJECT_free)> signature_oid(
      d2i_ASN1_OBJECT(nullptr, &whole_oid, static_cast<long>(oid->whole.size())),
      &ASN1_OBJECT_free);
  int digest_nid = NID_undef;
  int key_nid = NID_undef;
  if (!signature_oid ||
      OBJ_find_sigid_algs(OBJ_obj2nid(signature_oid.get()), &digest_nid, &key_nid) == 0 ||
      (key_nid != NID_rsaEncryption && key_nid != NID_X9_62_id_ecPublicKey)) {
    return std::nullopt;
  }
  const auto* issuer_der = reinterpret_cast<const unsigned char*>(view->issuer.data());
  const std::unique_ptr<X509_NAME, NameFree> issuer(
      d2i_X509_NAME(nullptr, &issuer_der, static_cast<long>(view->issuer.size())));
  if (!issuer) return std::nullopt;

  std::vector<const AnchorSet::State::Anchor*> candidates;
  for (const auto& anchor : set.anchors) {
    if (anchor.der == leaf_der) return std::nullopt;  // a trusted leaf: OpenSSL's own case
    if (X509_NAME_cmp(issuer.get(), X509_get_subject_name(anchor.cert)) != 0) continue;
    if (!anchor.plain) return std::nullopt;
    // X509_check_issued's tests, which pass over a candidate without failing the chain.
    const std::string skid = subject_key_id(anchor.cert);
    if (view->authority_key_id && !skid.empty() && *view->authority_key_id != skid) continue;
    const std::uint32_t usage = X509_get_key_usage(anchor.cert);
    if (usage != UINT32_MAX && (usage & KU_KEY_CERT_SIGN) == 0) continue;
    if (EVP_PKEY_type(key_nid) != EVP_PKEY_get_base_id(X509_get0_pubkey(anchor.cert))) continue;
    candidates.push_back(&anchor);
  }
  // Whichever of several OpenSSL picks, the verdict must be the same: they share one key.
  if (candidates.empty()) return std::nullopt;
  for (const auto* candidate : candidates) {
    if (EVP_PKEY_eq(X509_get0_pubkey(candidate->cert), X509_get0_pubkey(candidates[0]->cert)) !=
        1) {
      return std::nullopt;
    }
  }
  const std::optional<bool> signed_by = options.signature_check
                                            ? options.signature_check(candidates[0]->given)
                                            : candidates[0]->key->signed_certificate(leaf_der);
  if (signed_by != true) return std::nullopt;
  std::vector<X509*> pool;
  for (const auto& anchor : set.anchors) pool.push_back(anchor.cert);
  ChainOutcome outcome;
  outcome.links = links_of({nullptr, candidates[0]->cert}, pool);
  outcome.fast = true;
  return outcome;
}

ChainCause cause_of_issuer_check(int error) {
  switch (error) {
    case X509_V_ERR_AKID_SKID_MISMATCH:
    case X509_V_ERR_AKID_ISSUER_SERIAL_MISMATCH:
      return ChainCause::key_id_mismatch;
    case X509_V_ERR_KEYUSAGE_NO_CERTSIGN:
      return ChainCause::invalid_ca;
    case X509_V_ERR_SIGNATURE_ALGORITHM_MISMATCH:
    case X509_V_ERR_UNSUPPORTED_SIGNATURE_ALGORITHM:
      return ChainCause::algorithm_mismatch;
    default:
      return ChainCause::unknown_issuer;
  }
}

std::string common_name_of(const X509_NAME* name) {
  const int at = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
  if (at < 0) return {};
  const ASN1_STRING* value = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, at));
  return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(value)),
                     static_cast<std::size_t>(ASN1_STRING_length(value)));
}

// OpenSSL found no issuer for `subject`: why not, if a certificate given comes close. One with its
// issuer's name that X509_check_issued refuses names the refusal (key ids, keyCertSign, an
// algorithm that does not fit the key); one with the same CN but another full name is a name
// mismatch; nothing at all is an unknown issuer.
ChainCause diagnose_missing_issuer(X509* subject, const std::vector<X509*>& pool) {
  std::optional<ChainCause> by_cn;
  const std::string issuer_cn = common_name_of(X509_get_issuer_name(subject));
  for (X509* candidate : pool) {
    if (candidate == subject) continue;
    const int checked = X509_check_issued(candidate, subject);
    if (checked == X509_V_OK) continue;
    if (checked != X509_V_ERR_SUBJECT_ISSUER_MISMATCH) {
      if (invalid(candidate)) return ChainCause::malformed;
      return cause_of_issuer_check(checked);
    }
    if (!issuer_cn.empty() && common_name_of(X509_get_subject_name(candidate)) == issuer_cn) {
      by_cn = ChainCause::issuer_name_mismatch;
    }
  }
  return by_cn.value_or(ChainCause::unknown_issuer);
}

// Inner and outer signature algorithms differ, or the algorithm does not fit the issuer's key.
bool algorithm_mismatch(X509* subject, X509* issuer) {
  const X509_ALGOR* outer = nullptr;
  X509_get0_signature(nullptr, &outer, subject);
  if (outer == nullptr || X509_ALGOR_cmp(outer, X509_get0_tbs_sigalg(subject)) != 0) return true;
  int key_nid = NID_undef;
  if (issuer == nullptr ||
      OBJ_find_sigid_algs(OBJ_obj2nid(outer->algorithm), nullptr, &key_nid) == 0) {
    return false;
  }
  EVP_PKEY* key = X509_get0_pubkey(issuer);
  return key != nullptr && key_nid != NID_rsassaPss &&
         EVP_PKEY_type(key_nid) != EVP_PKEY_get_base_id(key);
}

ChainCause classify(X509_STORE_CTX* ctx, X509* leaf, const std::vector<X509*>& pool) {
  const int error = X509_STORE_CTX_get_error(ctx);
  X509* current = X509_STORE_CTX_get_current_cert(ctx);
  const int depth = X509_STORE_CTX_get_error_depth(ctx);
  if (invalid(leaf) || (current != nullptr && invalid(current))) return ChainCause::malformed;
  STACK_OF(X509)* chain = X509_STORE_CTX_get0_chain(ctx);
  const auto at = [&](int i) -> X509* {
    return chain != nullptr && i >= 0 && i < sk_X509_num(chain) ? sk_X509_value(chain, i) : nullptr;
  };
  switch (error) {
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_CERT_UNTRUSTED:
    case X509_V_ERR_CERT_REJECTED:
      return diagnose_missing_issuer(current != nullptr ? current : leaf, pool);
    case X509_V_ERR_INVALID_CA:
    case X509_V_ERR_INVALID_NON_CA:
      return current != nullptr && (X509_get_extension_flags(current) & EXFLAG_CA) == 0
                 ? ChainCause::issuer_not_ca
                 : ChainCause::invalid_ca;
    case X509_V_ERR_KEYUSAGE_NO_CERTSIGN:
      return ChainCause::invalid_ca;
    case X509_V_ERR_PATH_LENGTH_EXCEEDED:
    case X509_V_ERR_CERT_CHAIN_TOO_LONG:
    case X509_V_ERR_PROXY_PATH_LENGTH_EXCEEDED:
      return ChainCause::path_length;
    case X509_V_ERR_UNHANDLED_CRITICAL_EXTENSION:
      return ChainCause::critical_extension;
    case X509_V_ERR_PERMITTED_VIOLATION:
    case X509_V_ERR_EXCLUDED_VIOLATION:
    case X509_V_ERR_SUBTREE_MINMAX:
    case X509_V_ERR_UNSUPPORTED_CONSTRAINT_TYPE:
    case X509_V_ERR_UNSUPPORTED_CONSTRAINT_SYNTAX:
    case X509_V_ERR_UNSUPPORTED_NAME_SYNTAX:
      return ChainCause::name_constraints;
    case X509_V_ERR_CERT_SIGNATURE_FAILURE:
    case X509_V_ERR_UNABLE_TO_DECRYPT_CERT_SIGNATURE:
    case X509_V_ERR_UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY:
      return algorithm_mismatch(current != nullptr ? current : at(depth), at(depth + 1))
                 ? ChainCause::algorithm_mismatch
                 : ChainCause::bad_signature;
    case X509_V_ERR_SIGNATURE_ALGORITHM_MISMATCH:
    case X509_V_ERR_UNSUPPORTED_SIGNATURE_ALGORITHM:
    case X509_V_ERR_SIGNATURE_ALGORITHM_INCONSISTENCY:
      return ChainCause::algorithm_mismatch;
    case X509_V_ERR_AKID_SKID_MISMATCH:
    case X509_V_ERR_AKID_ISSUER_SERIAL_MISMATCH:
      return ChainCause::key_id_mismatch;
    case X509_V_ERR_SUBJECT_ISSUER_MISMATCH:
      return ChainCause::issuer_name_mismatch;
    case X509_V_ERR_EC_KEY_EXPLICIT_PARAMS:
      return ChainCause::explicit_curve;
    case X509_V_ERR_INVALID_POLICY_EXTENSION:
    case X509_V_ERR_NO_EXPLICIT_POLICY:
      return ChainCause::policy;
    case X509_V_ERR_INVALID_EXTENSION:
      return ChainCause::malformed;
    default:
      return ChainCause::other;
  }
}

ChainOutcome openssl_verdict(std::string_view leaf_der,
                             std::span<const std::shared_ptr<const TrustAnchor>> intermediates,
                             const AnchorSet::State& anchors) {
  ChainOutcome outcome;
  const DecodedDer leaf = decode_der(leaf_der);
  if (!leaf.cert) {
    outcome.failure = ChainCause::malformed;
    outcome.openssl_error = std::string(leaf.error);
    return outcome;
  }
  const std::unique_ptr<STACK_OF(X509), X509StackFree> untrusted(sk_X509_new_null());
  const openssl::X509StoreCtxPtr ctx(X509_STORE_CTX_new());
  if (!untrusted || !ctx) {
    outcome.failure = ChainCause::other;
    outcome.openssl_error = "out of memory";
    return outcome;
  }
  for (const auto& holder : intermediates) {
    if (X509* cert = x509_of(holder)) sk_X509_push(untrusted.get(), cert);
  }
  if (X509_STORE_CTX_init(ctx.get(), anchors.store.get(), leaf.cert.get(), untrusted.get()) != 1) {
    outcome.failure = ChainCause::other;
    outcome.openssl_error = "out of memory";
    return outcome;
  }
  X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(ctx.get());
  X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_PARTIAL_CHAIN | X509_V_FLAG_NO_CHECK_TIME);
  X509_STORE_CTX_set_purpose(ctx.get(), X509_PURPOSE_ANY);

  std::vector<X509*> pool = pool_of(anchors, intermediates);
  if (X509_verify_cert(ctx.get()) == 1) {
    std::vector<X509*> chain;
    STACK_OF(X509)* built = X509_STORE_CTX_get0_chain(ctx.get());
    for (int i = 0; i < sk_X509_num(built); ++i) chain.push_back(sk_X509_value(built, i));
    outcome.links = links_of(chain, pool);
    return outcome;
  }
  const int error = X509_STORE_CTX_get_error(ctx.get());
  outcome.openssl_error =
      error == X509_V_OK ? "verification failed" : X509_verify_cert_error_string(error);
  outcome.failure = classify(ctx.get(), leaf.cert.get(), pool);
  return outcome;
}

}  // namespace

ChainOutcome verify_chain(std::string_view leaf_der,
                          std::span<const std::shared_ptr<const TrustAnchor>> intermediates,
                          const AnchorSet& anchors, const ChainOptions& options) {
  const ErrorQueueGuard errors;
  const bool alone = std::none_of(intermediates.begin(), intermediates.end(),
                                  [](const auto& holder) { return holder != nullptr; });
  if (options.fast_path && alone) {
    if (auto fast = fast_verdict(leaf_der, anchors.state(), options)) return std::move(*fast);
  }
  return openssl_verdict(leaf_der, intermediates, anchors.state());
}

ChainOutcome verify_chain_der(std::string_view leaf_der,
                              std::span<const std::string> intermediate_ders,
                              std::span<const std::string> anchor_ders,
                              const ChainOptions& options) {
  std::vector<std::shared_ptr<const TrustAnchor>> intermediates;
  for (const std::string& der : intermediate_ders) {
    intermediates.push_back(TrustAnchor::from_der(der));
  }
  std::vector<std::shared_ptr<const TrustAnchor>> anchors;
  for (const std::string& der : anchor_ders) anchors.push_back(TrustAnchor::from_der(der));
  const auto set = AnchorSet::make(anchors);
  if (!set) return {ChainCause::other, "out of memory", {}, false};
  return verify_chain(leaf_der, intermediates, *set, options);
}

std::optional<ChainCause> chain_time_failure(const ChainOutcome& outcome, std::int64_t now) {
  for (const auto& link : outcome.links) {
    const bool usable = std::any_of(link.begin(), link.end(), [&](const ValidityWindow& w) {
      return w.not_before <= now && now <= w.not_after;
    });
    if (usable) continue;
    const bool expired = std::any_of(link.begin(), link.end(),
                                     [&](const ValidityWindow& w) { return now > w.not_after; });
    return expired ? ChainCause::intermediate_expired : ChainCause::intermediate_not_yet_valid;
  }
  return std::nullopt;
}

std::int64_t chain_verifies_until(const ChainOutcome& outcome) {
  std::int64_t until = 0;
  for (const auto& link : outcome.links) {
    std::int64_t latest = LLONG_MIN;
    for (const ValidityWindow& w : link) latest = std::max(latest, w.not_after);
    until = until == 0 ? latest : std::min(until, latest);
  }
  return until;
}

}  // namespace certwatch::x509
