// The trust verdict of a certificate: OpenSSL's X509_verify_cert over the anchors CockroachDB
// would trust for it and the intermediates that travel with it, judged as if every certificate
// were in its validity (time is the expiry states' business), and the cause of a failure named in
// a bounded vocabulary. Pure: DER in, verdict out; no files, no clock. docs/trust-verdict.md says
// which semantics this follows and where CockroachDB's Go verifier differs.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "x509/verify.hpp"

namespace certwatch::x509 {

// Why a chain does not verify: the `detail` of chain_untrusted (a label value: bounded, never text
// from a certificate).
enum class ChainCause {
  unknown_issuer,        // no certificate given issued it: the CA is missing from the CA file
  issuer_name_mismatch,  // a CA with its issuer's CN is there, but the full names differ
  key_id_mismatch,       // its authority key id is not the subject key id of the CA of that name
  issuer_not_ca,         // the certificate that signed it is not a CA (no CA:TRUE)
  invalid_ca,            // a CA that may not sign certificates (keyUsage without keyCertSign)
  path_length,           // a CA's pathlen constraint is exceeded
  name_constraints,      // a CA's name constraints exclude (or do not permit) its names
  critical_extension,    // a critical extension the verifier does not know
  bad_signature,         // the signature does not verify with the issuer's key
  algorithm_mismatch,    // inner and outer signature algorithms differ, or do not fit the key
  explicit_curve,        // an EC key given by explicit curve parameters instead of a named curve
  policy,                // certificate policy constraints
  malformed,             // OpenSSL cannot fully parse it (a duplicate or undecodable extension)
  intermediate_expired,  // a CA of its chain is past its notAfter (judged by the caller's clock)
  intermediate_not_yet_valid,  // a CA of its chain is before its notBefore
  other,                       // any other verify error (the OpenSSL text is in the log)
};
std::string_view to_string(ChainCause cause);
const std::vector<ChainCause>& all_chain_causes();

// When a certificate is valid, in unix seconds, both ends inclusive.
struct ValidityWindow {
  std::int64_t not_before = 0;
  std::int64_t not_after = 0;
  friend bool operator==(const ValidityWindow&, const ValidityWindow&) = default;
};

struct ChainOutcome {
  std::optional<ChainCause> failure;  // nullopt: trusted
  std::string openssl_error;          // X509_verify_cert's error text, for logs; empty if trusted
  // Trusted: one entry per certificate above the leaf in the chain, its issuer first. Each holds
  // the validity of that certificate and of every other one given (anchor or intermediate) with
  // the same subject and key, which a verifier that checks time may use in its place.
  std::vector<std::vector<ValidityWindow>> links;
  bool fast = false;  // decided by the fast path, not by X509_verify_cert

  friend bool operator==(const ChainOutcome&, const ChainOutcome&) = default;
};

// The anchors of one CA file, decoded once into an X509_STORE, for the verification of many
// leaves. Every certificate of the file is an anchor, self-signed or not (partial chains): a
// bundle may hold an intermediate the nodes trust directly, as Go's root pool does. Thread-safe
// once made.
class AnchorSet {
 public:
  // Null anchors (DER that did not decode) are skipped.
  static std::shared_ptr<const AnchorSet> make(
      std::span<const std::shared_ptr<const TrustAnchor>> anchors);
  ~AnchorSet();
  AnchorSet(const AnchorSet&) = delete;
  AnchorSet& operator=(const AnchorSet&) = delete;

  struct State;
  const State& state() const { return *state_; }

 private:
  explicit AnchorSet(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

struct ChainOptions {
  // Let a leaf issued directly by a plain self-signed anchor be judged by a signature check
  // alone. It only ever says "trusted", and only where X509_verify_cert says so too; it declines
  // anything it does not model (see chain.cpp), and OpenSSL decides then.
  bool fast_path = true;
  // How the fast path checks the leaf's signature with the key of anchors[i] (the index among
  // the anchors the set was made from): a caller with a memo of signature checks shares it here.
  // Unset: with the anchor's key decoded once. nullopt or false: the fast path declines.
  std::function<std::optional<bool>(std::size_t anchor)> signature_check;
};

// The verdict for `leaf_der` with the untrusted `intermediates` (the rest of its file, or of the
// served chain; null entries skipped) against `anchors`: X509_verify_cert with
// X509_V_FLAG_PARTIAL_CHAIN and X509_V_FLAG_NO_CHECK_TIME, purpose any (extended key usage is
// eku_missing's), no auth level (weak algorithms are weak_key's and weak_signature's). As
// `openssl verify -partial_chain -no_check_time -purpose any -CAfile anchors -untrusted
// intermediates leaf` says. Time is the caller's: check `links` against its clock.
ChainOutcome verify_chain(std::string_view leaf_der,
                          std::span<const std::shared_ptr<const TrustAnchor>> intermediates,
                          const AnchorSet& anchors, const ChainOptions& options = {});

// The same from DER (decodes everything; for tests and the fuzzer).
ChainOutcome verify_chain_der(std::string_view leaf_der,
                              std::span<const std::string> intermediate_ders,
                              std::span<const std::string> anchor_ders,
                              const ChainOptions& options = {});

// What a trusted chain says at `now`: the cause when one of its CAs is out of its validity (no
// certificate that could stand in for it is in its validity), else nullopt.
std::optional<ChainCause> chain_time_failure(const ChainOutcome& outcome, std::int64_t now);

// The latest moment the chain keeps verifying: the earliest, over its links, of the latest
// notAfter that can serve the link. 0 for an untrusted or a leaf-only chain.
std::int64_t chain_verifies_until(const ChainOutcome& outcome);

}  // namespace certwatch::x509
