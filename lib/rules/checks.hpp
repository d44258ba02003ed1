// Posture checks: will the next handshake, reload or rotation break the cluster? Each check is a
// pure function of what the sources observed (certificate facts, key-file stat, the bundle a leaf
// chains to), the config and the clock. Check names are part of the metrics contract.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/types.hpp"
#include "x509/chain.hpp"
#include "x509/verify.hpp"

namespace certwatch::rules {

inline constexpr std::string_view kCheckChainUntrusted = "chain_untrusted";
inline constexpr std::string_view kCheckOutlivesCa = "outlives_ca";
inline constexpr std::string_view kCheckSanMissing = "san_missing";
inline constexpr std::string_view kCheckCnMismatch = "cn_mismatch";
inline constexpr std::string_view kCheckEkuMissing = "eku_missing";
inline constexpr std::string_view kCheckKeyPermissions = "key_permissions";
inline constexpr std::string_view kCheckKeyOwner = "key_owner";
inline constexpr std::string_view kCheckKeyMissing = "key_missing";
inline constexpr std::string_view kCheckCaKeyPresent = "ca_key_present";
inline constexpr std::string_view kCheckWeakKey = "weak_key";
inline constexpr std::string_view kCheckWeakSignature = "weak_signature";
inline constexpr std::string_view kCheckKeyMismatch = "key_mismatch";
inline constexpr std::string_view kCheckCompromised = "compromised";

// One row per check: its default severity, its alert, and words for people.
struct CheckInfo {
  std::string_view name;
  Severity severity;
  std::string_view alert;    // CrdbCert... in the generated rules
  std::string_view summary;  // what failed, in a few words
  std::string_view why;      // why it matters
};
const std::vector<CheckInfo>& all_checks();
const CheckInfo* find_check(std::string_view name);

// The `checks:` section of the config.
struct ChecksConfig {
  bool enabled = true;
  std::vector<std::string> disable;          // check names
  std::map<std::string, Severity> severity;  // check name -> severity
  std::vector<std::string> san_required;     // names node.crt must carry
  bool san_include_local = true;             // and localhost, 127.0.0.1
  std::string key_owner;                     // empty: key_owner is not checked
  bool key_match = false;                    // reads keys: key_mismatch
  std::vector<std::string> denylist;         // entries, see parse_deny_entry
  std::string denylist_file;                 // one entry a line, re-read on change

  bool runs(std::string_view check) const;             // enabled and not disabled
  Severity severity_of(std::string_view check) const;  // configured or default

  friend bool operator==(const ChecksConfig&, const ChecksConfig&) = default;
};

// A denylist entry: a SHA-256 fingerprint (64 hex digits; colons, spaces and case ignored), or
// `serial:<hex> issuer:<issuer name>`, the name as RFC 2253 or as `openssl x509 -issuer -noout`
// prints it (default, `-nameopt compat` or `RFC2253`; x509::canonical_dn), kept as RFC 2253.
// A oneline or compat name that cannot be read is no entry.
struct DenyEntry {
  std::string fingerprint;  // lowercase hex, no separators; empty for issuer+serial entries
  std::string serial;       // lowercase hex, no leading zeros
  std::string issuer_dn;

  friend bool operator==(const DenyEntry&, const DenyEntry&) = default;
};
// nullopt when the text is neither form (blank lines and `#` comments are the caller's).
std::optional<DenyEntry> parse_deny_entry(std::string_view text);

struct CheckFailure {
  CertIdentity id;  // the certificate's (ca_key_present: the key's path and the CA type)
  std::string check;
  Severity severity = Severity::warning;
  std::string detail;  // short and bounded: a missing SAN, a verify error, a mode

  friend bool operator==(const CheckFailure&, const CheckFailure&) = default;
};

// How many of the certificates read verify through a CA of a bundle: the CA rotation progress.
struct CaUsage {
  const CertObservation* ca = nullptr;
  std::size_t issued = 0;  // certificates (other than itself) that verify through it
  // Nothing depends on it and another CA of the same bundle verifies everything it did: it can
  // leave the bundle.
  bool removable = false;
};

struct CheckInputs {
  std::span<const CertObservation* const> certificates;
  std::span<const KeyFile* const> keys;
  std::span<const std::string> denylist;      // read by sources (denylist_file)
  std::vector<std::string> local_node_names;  // how this host's node is reached (cluster)
  std::int64_t now = 0;                       // unix seconds
};

struct CheckResults {
  std::vector<CheckFailure> failures;
  std::vector<CaUsage> ca_usage;
};

// Memoises signature verification and chain checks across snapshots, keyed by the fingerprints
// involved, so a poll where nothing changed verifies nothing. Thread-safe.
class VerifyCache {
 public:
  // Whether `issuer` signed `subject` (names chain and the issuer's key verifies the signature).
  bool issued_by(const CertificateFacts& subject, const CertificateFacts& issuer);
  // x509::verify_chain of `leaf` with the `intermediates` that travel with it against the
  // anchors `cas`, remembered by all three: the verdict does not depend on the time (the caller
  // checks the chain's links against its clock), so a poll where nothing changed verifies nothing.
  x509::ChainOutcome chain(const CertificateFacts& leaf,
                           const std::vector<const CertificateFacts*>& intermediates,
                           const std::vector<const CertificateFacts*>& cas);

 private:
  std::shared_ptr<const x509::IssuerKey> issuer_key(const CertificateFacts& issuer);
  std::shared_ptr<const x509::TrustAnchor> trust_anchor(const CertificateFacts& ca);
  std::shared_ptr<const x509::AnchorSet> anchor_set(
      const std::vector<const CertificateFacts*>& cas);
  // table[key], made by make() (outside the lock) the first time; a full table starts over.
  template <typename Value, typename Make>
  Value remembered(std::unordered_map<std::string, Value>& table, std::string key,
                   const Make& make);

  std::mutex mutex_;
  std::unordered_map<std::string, bool> issued_by_;  // subject fp + issuer fp
  // Each CA's decoded key, by fingerprint: decoded once, used for every certificate it checks.
  std::unordered_map<std::string, std::shared_ptr<const x509::IssuerKey>> issuer_keys_;
  std::unordered_map<std::string, x509::ChainOutcome> verified_;
  // Each CA (or intermediate) decoded, by fingerprint: once, not once per leaf verified.
  std::unordered_map<std::string, std::shared_ptr<const x509::TrustAnchor>> anchors_;
  // Each CA file's anchors in one X509_STORE, by their fingerprints in order.
  std::unordered_map<std::string, std::shared_ptr<const x509::AnchorSet>> anchor_sets_;
};

CheckResults run_checks(const CheckInputs& inputs, const ChecksConfig& config, VerifyCache& cache);

// The CA files CockroachDB verifies a leaf of `type` against, first found first, by their names in
// the leaf's directory ("ca-client.crt", then "ca.crt" for a client certificate); empty for CAs.
std::vector<std::string> ca_files_for(CertType type);

}  // namespace certwatch::rules
