#include "rules/denylist.hpp"

#include <vector>

#include "rules/checks.hpp"

namespace certwatch::rules {
namespace {

std::string serial_key(std::string_view serial, std::string_view issuer_dn) {
  std::string key;
  key.reserve(serial.size() + 1 + issuer_dn.size());
  key.append(serial).append(1, '\n').append(issuer_dn);
  return key;
}

}  // namespace

void Denylist::add(std::string_view line) {
  auto entry = parse_deny_entry(line);
  if (!entry) return;
  if (!entry->fingerprint.empty()) {
    fingerprints_.insert(std::move(entry->fingerprint));
  } else {
    serials_.insert(serial_key(entry->serial, entry->issuer_dn));
  }
}

bool Denylist::contains(const CertificateFacts& facts) const {
  if (fingerprints_.contains(facts.fingerprint_sha256)) return true;
  return !serials_.empty() && serials_.contains(serial_key(facts.serial_hex, facts.issuer_dn));
}

DenyVerdicts judge_denylist(const Denylist& denylist,
                            std::span<const CertObservation* const> certificates,
                            VerifyCache& cache) {
  DenyVerdicts out;
  if (denylist.empty()) return out;
  // One pass: each certificate looked up once; the denylisted CAs kept by subject CN.
  std::unordered_multimap<std::string_view, const CertObservation*> denied_cas;
  std::vector<const CertObservation*> clean;
  for (const CertObservation* cert : certificates) {
    if (!cert->facts) continue;
    ++out.lookups;
    if (denylist.contains(*cert->facts)) {
      out.detail.emplace(cert, "fingerprint " + cert->facts->fingerprint_sha256.substr(0, 16));
      if (cert->facts->is_ca) denied_cas.emplace(cert->facts->subject_cn, cert);
    } else {
      clean.push_back(cert);
    }
  }
  if (denied_cas.empty()) return out;
  // A denylisted CA taints every certificate it issued: only the CAs named as the issuer are
  // asked, and the verify cache keeps each answer across snapshots.
  for (const CertObservation* cert : clean) {
    const auto [first, last] = denied_cas.equal_range(cert->facts->issuer_cn);
    for (auto it = first; it != last; ++it) {
      const CertObservation* ca = it->second;
      if (ca == cert) continue;
      ++out.issuer_checks;
      if (cache.issued_by(*cert->facts, *ca->facts)) {
        out.detail.emplace(cert, "issued by denylisted CA " + ca->facts->subject_cn);
        break;
      }
    }
  }
  return out;
}

}  // namespace certwatch::rules
