// The denylist as a snapshot judges it (issue 28: a 2,000-CA bundle and a 16k-line list took
// 341 s, every certificate compared with every entry for every CA). Entries are hashed once;
// each certificate, CA or not, is looked up once; a certificate is tainted by a denylisted CA
// only when that CA's subject is its issuer's name and the CA's key verifies its signature.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

#include "core/types.hpp"

namespace certwatch::rules {

class VerifyCache;

class Denylist {
 public:
  // Adds an entry (parse_deny_entry); a line that is not one is ignored (config validation and
  // the file source report those).
  void add(std::string_view line);
  bool empty() const { return fingerprints_.empty() && serials_.empty(); }
  // Constant time, whatever the number of entries.
  bool contains(const CertificateFacts& facts) const;

 private:
  std::unordered_set<std::string> fingerprints_;  // lowercase hex
  std::unordered_set<std::string> serials_;       // serial, '\n', issuer DN (RFC 2253)
};

// What the denylist condemns in one snapshot, and what judging it cost (for budget tests).
struct DenyVerdicts {
  // The detail of each condemned certificate's `compromised` failure.
  std::unordered_map<const CertObservation*, std::string> detail;
  std::size_t lookups = 0;        // Denylist::contains calls: one per certificate
  std::size_t issuer_checks = 0;  // signatures checked against a denylisted CA
};

DenyVerdicts judge_denylist(const Denylist& denylist,
                            std::span<const CertObservation* const> certificates,
                            VerifyCache& cache);

}  // namespace certwatch::rules
