#include "alerting/preflight.hpp"

#include <algorithm>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "alerting/report_text.hpp"
#include "core/names.hpp"
#include "core/read_file.hpp"
#include "core/text.hpp"
#include "x509/chain.hpp"

namespace certwatch::alerting {

std::optional<std::string> preflight_trust_error(
    const CertificateFacts& leaf, const std::vector<const CertificateFacts*>& cas, std::int64_t now,
    const std::vector<const CertificateFacts*>& intermediates) {
  std::vector<std::string> ca_ders;
  ca_ders.reserve(cas.size());
  for (const CertificateFacts* ca : cas) ca_ders.push_back(ca->der);
  std::vector<std::string> intermediate_ders;
  intermediate_ders.reserve(intermediates.size());
  for (const CertificateFacts* cert : intermediates) intermediate_ders.push_back(cert->der);
  const x509::ChainOutcome outcome = x509::verify_chain_der(leaf.der, intermediate_ders, ca_ders);
  std::optional<x509::ChainCause> cause = outcome.failure;
  if (!cause) cause = x509::chain_time_failure(outcome, now);
  if (!cause) return std::nullopt;
  std::string why(x509::to_string(*cause));
  if (!outcome.openssl_error.empty()) why += " (" + outcome.openssl_error + ")";
  return why;
}

namespace {

constexpr std::size_t kMaxDependentsNamed = 5;

bool is_leaf_type(CertType type) { return !is_ca_type(type) && type != CertType::other; }

bool is_first(const CertIdentity& id) { return id.index.empty() || id.index == "0"; }

// A certificate's name in its set: the path below the set's directory, and `#i` for the i-th
// certificate of a bundle.
std::string file_name_in(const std::string& dir, const std::string& path) {
  std::string prefix = dir;
  if (!prefix.empty() && prefix.back() != '/') prefix += '/';
  return path.starts_with(prefix) ? path.substr(prefix.size()) : path;
}

std::string name_in(const std::string& dir, const CertIdentity& id) {
  const std::string file = file_name_in(dir, id.path);
  return is_first(id) ? file : file + " #" + id.index;
}

std::string key_text(const CertificateFacts& facts) {
  return facts.key_type + (facts.key_bits > 0 ? " " + std::to_string(facts.key_bits) : "");
}

// Comparable strength in bits of security (NIST SP 800-57 for RSA and DSA; half the order for
// EC): a downgrade is a lower number. nullopt for a key type it does not know.
std::optional<int> key_strength(const CertificateFacts& facts) {
  const int bits = facts.key_bits;
  if (facts.key_type == "rsa" || facts.key_type == "dsa") {
    if (bits < 2048) return 80;
    if (bits < 3072) return 112;
    if (bits < 4096) return 128;
    if (bits < 7680) return 144;
    if (bits < 15360) return 192;
    return 256;
  }
  if (facts.key_type == "ec") return bits / 2;
  if (facts.key_type == "ed25519") return 128;
  if (facts.key_type == "ed448") return 224;
  return std::nullopt;
}

// Signature digests from weakest to strongest; an EdDSA signature has none and counts as strong.
std::optional<int> signature_strength(const std::string& hash) {
  static const std::map<std::string, int> kOrder{
      {"md5", 0}, {"sha1", 1}, {"sha224", 2}, {"sha256", 3}, {"sha384", 4}, {"sha512", 5}, {"", 4}};
  const auto found = kOrder.find(hash);
  if (found == kOrder.end()) return std::nullopt;
  return found->second;
}

std::string date(std::int64_t unix_seconds) { return utc_time(unix_seconds, "%Y-%m-%d"); }

PreflightCertSide side_of(const CertificateFacts& facts) {
  return {facts.subject_cn,        facts.issuer_cn,
          facts.not_before,        facts.not_after,
          key_text(facts),         facts.signature_hash.empty() ? "-" : facts.signature_hash,
          facts.fingerprint_sha256};
}

std::vector<std::string> san_list(const CertificateFacts& facts) {
  std::vector<std::string> names = facts.dns_names;
  names.insert(names.end(), facts.ip_addresses.begin(), facts.ip_addresses.end());
  return names;
}

// The names of `from` that `to` does not cover, as a TLS peer dialing each would judge.
std::vector<std::string> names_not_covered(const CertificateFacts& from,
                                           const CertificateFacts& to) {
  std::vector<std::string> missing;
  for (const std::string& name : san_list(from)) {
    if (!san_covers(to.dns_names, to.ip_addresses, name)) missing.push_back(name);
  }
  return missing;
}

// Fixes of the posture checks, as they read before a swap.
std::string posture_fix(std::string_view check) {
  static const std::map<std::string_view, std::string_view> kFixes{
      {rules::kCheckChainUntrusted,
       "issue the certificate from a CA in the staged CA file, or put its CA in that file"},
      {rules::kCheckOutlivesCa, "issue it with a notAfter before the CA's, or rotate the CA first"},
      {rules::kCheckSanMissing, "re-issue it with every name the node is reached by"},
      {rules::kCheckCnMismatch,
       "re-issue it with CN=node (node certificates) or CN=<user> (client.<user>.crt)"},
      {rules::kCheckEkuMissing,
       "re-issue it with the missing extended key usage (cockroach cert writes both)"},
      {rules::kCheckKeyPermissions,
       "chmod 0600 the staged key (0700 at most; 0740 only when owned by root)"},
      {rules::kCheckKeyOwner, "chown the staged key to the user that runs cockroach"},
      {rules::kCheckKeyMissing, "stage the key beside the certificate (node.crt -> node.key)"},
      {rules::kCheckCaKeyPresent,
       "take the CA key out of the staged set: node hosts must not hold it"},
      {rules::kCheckWeakKey, "re-issue it with RSA 2048+ or ECDSA P-256+"},
      {rules::kCheckWeakSignature, "re-issue it signed with SHA-256 or stronger"},
      {rules::kCheckKeyMismatch,
       "stage the key this certificate was issued for (the CSR's key), or re-issue the "
       "certificate for the staged key"},
      {rules::kCheckCompromised, "do not deploy it: issue a new certificate from a clean CA"},
  };
  const auto found = kFixes.find(check);
  return found == kFixes.end() ? std::string() : std::string(found->second);
}

bool is_key_check(std::string_view check) {
  return check == rules::kCheckKeyPermissions || check == rules::kCheckKeyOwner ||
         check == rules::kCheckKeyMissing || check == rules::kCheckKeyMismatch;
}

// One set indexed by certificate name and by file.
struct IndexedSet {
  const CertSet* set = nullptr;
  std::map<std::string, std::vector<const CertObservation*>> by_file;  // file name in the set

  explicit IndexedSet(const CertSet* s) : set(s) {
    if (set == nullptr) return;
    for (const CertObservation& cert : set->certificates) {
      if (cert.facts) by_file[file_name_in(set->dir, cert.id.path)].push_back(&cert);
    }
  }
  const CertObservation* leaf(const std::string& file) const {
    const auto found = by_file.find(file);
    if (found == by_file.end()) return nullptr;
    for (const CertObservation* cert : found->second) {
      if (is_first(cert->id)) return cert;
    }
    return nullptr;
  }
  // The CA file CockroachDB verifies a leaf of `type` against, and its certificates; empty name
  // when the set has none of the candidates.
  std::pair<std::string, std::vector<const CertificateFacts*>> bundle_for(CertType type) const {
    for (const std::string& name : rules::ca_files_for(type)) {
      const auto found = by_file.find(name);
      if (found == by_file.end()) continue;
      std::vector<const CertificateFacts*> cas;
      for (const CertObservation* ca : found->second) cas.push_back(&*ca->facts);
      return {name, cas};
    }
    return {};
  }
};

class Evaluation {
 public:
  explicit Evaluation(const PreflightInputs& in)
      : in_(in), staged_(&in.staged), live_(in.live && !in.live->error ? &*in.live : nullptr) {}

  PreflightReport run() {
    report_.generated_at = in_.now;
    report_.staged_dir = in_.staged.dir;
    report_.layout = in_.layout;
    if (in_.live) report_.live_dir = in_.live->dir;
    if (in_.staged.error) {
      report_.status = CheckStatus::unknown;
      report_.error = "the staged set cannot be read: " + in_.staged.error->path + ": " +
                      describe(*in_.staged.error);
      return std::move(report_);
    }
    if (in_.staged.certificates.empty() && in_.staged.file_errors.empty()) {
      report_.status = CheckStatus::unknown;
      report_.error = "no certificate in the staged set " + in_.staged.dir;
      return std::move(report_);
    }
    say_skipped();
    table();
    file_errors();
    not_yet_valid_soon();
    if (live_.set != nullptr) {
      sans_dropped();
      identity_changed();
      downgrade();
      trust_break();
      ca_dropped();
    } else {
      required_names();
    }
    posture();
    std::stable_sort(report_.findings.begin(), report_.findings.end(),
                     [](const PreflightFinding& a, const PreflightFinding& b) {
                       return a.severity > b.severity;
                     });
    Severity worst = Severity::none;
    for (const PreflightFinding& f : report_.findings) worst = std::max(worst, f.severity);
    report_.status = worst == Severity::critical  ? CheckStatus::critical
                     : worst == Severity::warning ? CheckStatus::warning
                                                  : CheckStatus::ok;
    return std::move(report_);
  }

 private:
  void add(std::string_view check, Severity severity, std::string subject, std::string detail,
           std::string fix) {
    report_.findings.push_back(
        {std::string(check), severity, std::move(subject), std::move(detail), std::move(fix)});
  }
  bool found(std::string_view check, const std::string& subject) const {
    return std::any_of(
        report_.findings.begin(), report_.findings.end(),
        [&](const PreflightFinding& f) { return f.check == check && f.subject == subject; });
  }
  std::string staged_name(const CertIdentity& id) const { return name_in(staged_.set->dir, id); }

  void say_skipped() {
    if (live_.set == nullptr) {
      const std::string reason = in_.live
                                     ? "the live set cannot be read: " + in_.live->error->path +
                                           ": " + describe(*in_.live->error)
                                     : in_.live_skip_reason;
      for (std::string_view check :
           {kPreflightSansDropped, kPreflightTrustBreak, kPreflightCaDropped,
            kPreflightIdentityChanged, kPreflightDowngrade}) {
        report_.skipped.push_back({std::string(check), reason});
      }
      return;
    }
    if (!in_.cluster.consulted) {
      report_.skipped.push_back(
          {std::string(kPreflightCaDropped) + " (the cluster's report)", in_.cluster.skip_reason});
    }
  }

  // Old -> new per certificate: leaves paired by name, CAs of a bundle by fingerprint (a CA
  // rotation puts the new CA first, which renumbers the old one).
  void table() {
    std::set<std::string> files;
    for (const auto& [file, certs] : staged_.by_file) files.insert(file);
    for (const auto& [file, certs] : live_.by_file) files.insert(file);
    for (const std::string& file : files) {
      const auto staged = staged_.by_file.find(file);
      const auto live = live_.by_file.find(file);
      const std::vector<const CertObservation*> none;
      const auto& new_certs = staged == staged_.by_file.end() ? none : staged->second;
      const auto& old_certs = live == live_.by_file.end() ? none : live->second;
      const bool bundle = std::any_of(new_certs.begin(), new_certs.end(),
                                      [](const auto* c) { return is_ca_type(c->id.cert_type); }) ||
                          std::any_of(old_certs.begin(), old_certs.end(),
                                      [](const auto* c) { return is_ca_type(c->id.cert_type); });
      if (bundle) {
        table_bundle(file, old_certs, new_certs);
      } else {
        table_leaves(old_certs, new_certs);
      }
    }
  }

  void table_bundle(const std::string& file, const std::vector<const CertObservation*>& old_certs,
                    const std::vector<const CertObservation*>& new_certs) {
    const auto has = [](const std::vector<const CertObservation*>& certs, const std::string& fp) {
      return std::any_of(certs.begin(), certs.end(), [&](const CertObservation* c) {
        return c->facts->fingerprint_sha256 == fp;
      });
    };
    for (const CertObservation* cert : new_certs) {
      PreflightCertChange row;
      row.name = name_in(staged_.set->dir, cert->id);
      row.cert_type = cert->id.cert_type;
      row.staged = side_of(*cert->facts);
      if (has(old_certs, cert->facts->fingerprint_sha256)) {
        row.live = row.staged;
        row.change = "unchanged";
      } else {
        row.change = "added";
      }
      report_.certificates.push_back(std::move(row));
    }
    for (const CertObservation* cert : old_certs) {
      if (has(new_certs, cert->facts->fingerprint_sha256)) continue;
      PreflightCertChange row;
      row.name = file + " (live #" + (cert->id.index.empty() ? "0" : cert->id.index) + ")";
      row.cert_type = cert->id.cert_type;
      row.live = side_of(*cert->facts);
      row.change = "removed";
      report_.certificates.push_back(std::move(row));
    }
  }

  void table_leaves(const std::vector<const CertObservation*>& old_certs,
                    const std::vector<const CertObservation*>& new_certs) {
    const std::size_t count = std::max(old_certs.size(), new_certs.size());
    for (std::size_t i = 0; i < count; ++i) {
      const CertObservation* now = i < new_certs.size() ? new_certs[i] : nullptr;
      const CertObservation* old = i < old_certs.size() ? old_certs[i] : nullptr;
      PreflightCertChange row;
      const CertIdentity& id = now != nullptr ? now->id : old->id;
      row.name = name_in(now != nullptr ? staged_.set->dir : live_.set->dir, id);
      row.cert_type = id.cert_type;
      if (now != nullptr) row.staged = side_of(*now->facts);
      if (old != nullptr) row.live = side_of(*old->facts);
      if (now != nullptr && old != nullptr) {
        for (const std::string& name : san_list(*now->facts)) {
          const auto& old_names = san_list(*old->facts);
          if (std::find(old_names.begin(), old_names.end(), name) == old_names.end()) {
            row.sans_added.push_back(name);
          }
        }
        for (const std::string& name : san_list(*old->facts)) {
          const auto& new_names = san_list(*now->facts);
          if (std::find(new_names.begin(), new_names.end(), name) == new_names.end()) {
            row.sans_removed.push_back(name);
          }
        }
        row.change = now->facts->fingerprint_sha256 == old->facts->fingerprint_sha256 ? "unchanged"
                                                                                      : "renewed";
      } else {
        row.change = now != nullptr ? "added" : "removed";
      }
      report_.certificates.push_back(std::move(row));
    }
  }

  // A staged file the node could not load is unsafe; a file outside the set (the denylist file)
  // weakens the check but does not stop the swap.
  void file_errors() {
    for (const FileError& error : in_.staged.file_errors) {
      const std::string name = file_name_in(in_.staged.dir, error.path);
      const bool in_set = name != error.path;
      add(kPreflightFileError, in_set ? Severity::critical : Severity::warning, name,
          describe(error),
          in_set ? "stage a regular, readable PEM file under its CockroachDB name (the node "
                   "refuses to load this one)"
                 : "make the file readable; the checks that need it were weaker");
    }
  }

  void not_yet_valid_soon() {
    for (const CertObservation& cert : in_.staged.certificates) {
      if (!cert.facts || cert.facts->not_before <= in_.now) continue;
      add(kPreflightNotYetValidSoon, Severity::warning, staged_name(cert.id),
          "valid from " + utc_timestamp(cert.facts->not_before) + ", in " +
              human_duration(static_cast<double>(cert.facts->not_before - in_.now)),
          "the signing host's clock was ahead: swap after " +
              utc_timestamp(cert.facts->not_before) +
              ", or re-issue it with a notBefore in the past (and check NTP on that host)");
    }
  }

  // The leaves present in both sets, by file name: (live, staged).
  std::vector<std::pair<const CertObservation*, const CertObservation*>> pairs() const {
    std::vector<std::pair<const CertObservation*, const CertObservation*>> out;
    for (const auto& [file, certs] : staged_.by_file) {
      const CertObservation* now = staged_.leaf(file);
      const CertObservation* old = live_.leaf(file);
      if (now == nullptr || old == nullptr || !is_leaf_type(now->id.cert_type)) continue;
      out.emplace_back(old, now);
    }
    return out;
  }

  // Names the staged node certificate must carry whatever the live one had: the configured
  // required SANs, localhost, the advertise address the cluster reports; the posture check
  // san_missing asks the same and gives way to this one.
  void required_names() {
    for (const CertObservation& cert : in_.staged.certificates) {
      if (!cert.facts || cert.id.cert_type != CertType::node || !is_first(cert.id)) {
        continue;
      }
      std::vector<std::pair<std::string, std::string>> required;  // name, why
      for (const std::string& name : in_.checks.san_required) {
        required.emplace_back(name, "checks.san.required");
      }
      if (in_.checks.san_include_local) {
        required.emplace_back("localhost", "checks.san.include_local");
        required.emplace_back("127.0.0.1", "checks.san.include_local");
      }
      for (const std::string& name : in_.cluster.local_node_names) {
        required.emplace_back(name, "the node's advertise address (cluster)");
      }
      std::set<std::string> said;
      for (const auto& [name, why] : required) {
        if (name.empty() || san_covers(cert.facts->dns_names, cert.facts->ip_addresses, name)) {
          continue;
        }
        const std::string key = canonical_ip(name).value_or(canonical_dns_name(name));
        if (!said.insert(key).second || dropped_names_.count({staged_name(cert.id), key}) != 0) {
          continue;
        }
        add(kPreflightSansDropped, Severity::critical, staged_name(cert.id),
            name + " missing (required: " + why + ")",
            "re-issue it with " + name + " among its SANs before the swap");
      }
    }
  }

  void sans_dropped() {
    for (const auto& [old, now] : pairs()) {
      if (now->id.cert_type != CertType::node && now->id.cert_type != CertType::ui) continue;
      for (const std::string& name : names_not_covered(*old->facts, *now->facts)) {
        dropped_names_.insert(
            {staged_name(now->id), canonical_ip(name).value_or(canonical_dns_name(name))});
        add(kPreflightSansDropped, Severity::critical, staged_name(now->id),
            name +
                " (the live certificate has it; clients that dial it fail with \"certificate "
                "is valid for ..., not " +
                name + "\")",
            "re-issue it with every SAN of the live certificate: add " + name);
      }
    }
    required_names();
  }

  void identity_changed() {
    const auto uses = [](const CertificateFacts& f) {
      return std::pair{!f.has_eku || f.eku_server_auth, !f.has_eku || f.eku_client_auth};
    };
    for (const auto& [old, now] : pairs()) {
      const CertType type = now->id.cert_type;
      const std::string name = staged_name(now->id);
      if ((type == CertType::node || type == CertType::node_client) &&
          now->facts->subject_cn != old->facts->subject_cn) {
        add(kPreflightIdentityChanged, Severity::critical, name,
            "CN " + old->facts->subject_cn + " -> " + now->facts->subject_cn,
            "re-issue it with CN=" + old->facts->subject_cn + " (node certificates say CN=node)");
      }
      const auto [old_server, old_client] = uses(*old->facts);
      const auto [new_server, new_client] = uses(*now->facts);
      std::string lost;
      if (old_server && !new_server && type != CertType::client) lost += " serverAuth";
      if (old_client && !new_client) lost += " clientAuth";
      if (!lost.empty()) {
        add(kPreflightIdentityChanged, Severity::critical, name, "extended key usage loses" + lost,
            "re-issue it with the extended key usages of the live certificate");
      }
    }
    // A client certificate authenticates the user its CN names, whether or not a live one exists.
    for (const CertObservation& cert : in_.staged.certificates) {
      if (!cert.facts || cert.id.cert_type != CertType::client || cert.id.user.empty() ||
          !is_first(cert.id) || cert.facts->subject_cn == cert.id.user) {
        continue;
      }
      add(kPreflightIdentityChanged, Severity::critical, staged_name(cert.id),
          "CN " + cert.facts->subject_cn + " no longer names the user " + cert.id.user,
          "re-issue it with CN=" + cert.id.user + " (cockroach cert create-client " + cert.id.user +
              ")");
    }
  }

  void downgrade() {
    for (const auto& [old, now] : pairs()) {
      const CertificateFacts& o = *old->facts;
      const CertificateFacts& n = *now->facts;
      const std::string name = staged_name(now->id);
      if (n.not_after < o.not_after) {
        add(kPreflightDowngrade, Severity::warning, name,
            "expires " + date(n.not_after) + ", before the live one (" + date(o.not_after) + ")",
            "re-issue it with a later notAfter, or check that the live certificate is the older "
            "one");
      }
      const auto old_key = key_strength(o);
      const auto new_key = key_strength(n);
      if (old_key && new_key && *new_key < *old_key) {
        add(kPreflightDowngrade, Severity::warning, name,
            "weaker key: " + key_text(o) + " -> " + key_text(n),
            "re-issue it with a key at least as strong as the live one (" + key_text(o) + ")");
      }
      const auto old_sig = signature_strength(o.signature_hash);
      const auto new_sig = signature_strength(n.signature_hash);
      if (old_sig && new_sig && *new_sig < *old_sig) {
        add(kPreflightDowngrade, Severity::warning, name,
            "weaker signature: " + (o.signature_hash.empty() ? "-" : o.signature_hash) + " -> " +
                (n.signature_hash.empty() ? "-" : n.signature_hash),
            "have the CA sign it with " + o.signature_hash + " or stronger");
      }
    }
  }

  // A CA of the live CA file `file` that the staged file of that name lacks.
  bool dropped(const std::string& file, const CertificateFacts& ca) const {
    const auto staged = staged_.by_file.find(file);
    if (staged == staged_.by_file.end()) return true;
    return std::none_of(staged->second.begin(), staged->second.end(),
                        [&](const CertObservation* c) {
                          return c->facts->fingerprint_sha256 == ca.fingerprint_sha256;
                        });
  }

  // Whether a live CA that the staged set drops issued `leaf`: ca_dropped reports it then.
  bool issued_by_dropped_ca(const CertificateFacts& leaf) {
    for (const auto& [file, certs] : live_.by_file) {
      for (const CertObservation* ca : certs) {
        if (is_ca_type(ca->id.cert_type) && dropped(file, *ca->facts) &&
            cache_.issued_by(leaf, *ca->facts)) {
          return true;
        }
      }
    }
    return false;
  }

  // The rest of a leaf's file: the intermediates that travel with it (an enterprise PKI's or
  // Vault's chain in node.crt), verified with it as a peer would.
  static std::vector<const CertificateFacts*> rest_of_file(
      const std::vector<CertObservation>& certs, const CertObservation& leaf) {
    std::vector<const CertificateFacts*> rest;
    for (const CertObservation& other : certs) {
      if (other.facts && other.id.path == leaf.id.path && !is_first(other.id)) {
        rest.push_back(other.facts.get());
      }
    }
    return rest;
  }

  // Both directions: a staged leaf that peers which have not rotated yet (the live CA file)
  // refuse, and a live leaf (what such peers still present) that the staged CA file refuses.
  void trust_break() {
    for (const CertObservation& cert : in_.staged.certificates) {
      if (!cert.facts || !is_first(cert.id) || !is_leaf_type(cert.id.cert_type)) continue;
      const auto [ca_file, cas] = live_.bundle_for(cert.id.cert_type);
      if (ca_file.empty()) continue;
      // A staged leaf its own staged CA file does not verify either is chain_untrusted's.
      const auto [own_file, own_cas] = staged_.bundle_for(cert.id.cert_type);
      const auto chain = rest_of_file(in_.staged.certificates, cert);
      if (!own_file.empty() && preflight_trust_error(*cert.facts, own_cas, in_.now, chain)) {
        continue;
      }
      if (const auto error = preflight_trust_error(*cert.facts, cas, in_.now, chain)) {
        add(kPreflightTrustBreak, Severity::critical, staged_name(cert.id),
            "the live " + ca_file +
                " (what peers that have not rotated yet trust) does not "
                "verify it: " +
                *error,
            "first deploy a " + ca_file +
                " holding the new CA and the old one to every node "
                "and client and reload them; then this certificate");
      }
    }
    for (const CertObservation& cert : live_.set->certificates) {
      if (!cert.facts || !is_first(cert.id) || !is_leaf_type(cert.id.cert_type)) continue;
      const auto [ca_file, cas] = staged_.bundle_for(cert.id.cert_type);
      if (ca_file.empty()) continue;
      // A live leaf its own live CA file does not verify was broken before: not this swap's.
      const auto [live_file, live_cas] = live_.bundle_for(cert.id.cert_type);
      const auto chain = rest_of_file(live_.set->certificates, cert);
      if (live_file.empty() || preflight_trust_error(*cert.facts, live_cas, in_.now, chain)) {
        continue;
      }
      const auto error = preflight_trust_error(*cert.facts, cas, in_.now, chain);
      if (!error || issued_by_dropped_ca(*cert.facts)) continue;
      add(kPreflightTrustBreak, Severity::critical, "live " + name_in(live_.set->dir, cert.id),
          "the staged " + ca_file + " does not verify the live " +
              file_name_in(live_.set->dir, cert.id.path) +
              ": after the swap this node refuses peers that still present such a "
              "certificate: " +
              *error,
          "keep the CA that issued the live certificates in the staged " + ca_file +
              " until every peer has rotated");
    }
  }

  // A CA the staged set drops while certificates still chain to it: the live and staged sets,
  // the other certificates this host reads, and the nodes whose first CA (the cluster's report)
  // is that one.
  void ca_dropped() {
    for (const auto& [file, certs] : live_.by_file) {
      const auto staged_bundle = staged_.by_file.find(file);
      std::vector<const CertificateFacts*> staged_cas;
      if (staged_bundle != staged_.by_file.end()) {
        for (const CertObservation* c : staged_bundle->second) staged_cas.push_back(&*c->facts);
      }
      for (const CertObservation* ca : certs) {
        if (!is_ca_type(ca->id.cert_type) || !dropped(file, *ca->facts)) continue;
        const std::vector<std::string> dependents = dependents_of(*ca, staged_cas);
        if (dependents.empty()) continue;
        std::string named;
        for (std::size_t i = 0; i < dependents.size() && i < kMaxDependentsNamed; ++i) {
          named += (i == 0 ? "" : ", ") + dependents[i];
        }
        if (dependents.size() > kMaxDependentsNamed) {
          named += " and " + std::to_string(dependents.size() - kMaxDependentsNamed) + " more";
        }
        add(kPreflightCaDropped, Severity::critical, file,
            "CA " + ca->facts->subject_cn + " (expires " + date(ca->facts->not_after) +
                ") leaves " + file + " while these still chain to it: " + named,
            "keep it in the staged " + file +
                " (new CA first, old second) until every "
                "certificate has been re-issued from the new CA and every node reloaded; "
                "remove it last");
      }
    }
  }

  std::vector<std::string> dependents_of(const CertObservation& ca,
                                         const std::vector<const CertificateFacts*>& staged_cas) {
    std::vector<std::string> out;
    std::set<std::string> seen{ca.facts->fingerprint_sha256};
    const auto consider = [&](const CertObservation& cert, const std::string& label) {
      if (!cert.facts || !seen.insert(cert.facts->fingerprint_sha256).second) return;
      if (!cache_.issued_by(*cert.facts, *ca.facts)) return;
      // Still fine when a CA the staged file keeps verifies it as well (a cross-signed CA).
      if (!staged_cas.empty() && !preflight_trust_error(*cert.facts, staged_cas, in_.now)) return;
      out.push_back(label);
    };
    for (const CertObservation& cert : in_.staged.certificates) {
      consider(cert, "staged " + staged_name(cert.id));
    }
    for (const CertObservation& cert : live_.set->certificates) {
      consider(cert, "live " + name_in(live_.set->dir, cert.id));
    }
    for (const CertObservation& cert : in_.host_certificates) {
      consider(cert, cert.id.path + (is_first(cert.id) ? "" : " #" + cert.id.index));
    }
    // The cluster reports only expiry dates: a node whose loaded CA file starts with a CA that
    // expires exactly when this one does (and no staged CA does) has not taken the new CA yet,
    // so its own certificates still chain to this one.
    const bool ambiguous = std::any_of(
        staged_cas.begin(), staged_cas.end(),
        [&](const CertificateFacts* kept) { return kept->not_after == ca.facts->not_after; });
    if (in_.cluster.consulted && !ambiguous) {
      for (const CertObservation& node : in_.cluster.reported) {
        if (node.id.cert_type == ca.id.cert_type && node.not_after == ca.facts->not_after) {
          out.push_back("node " + node.id.node_id + " (cluster: its " +
                        std::string(to_string(ca.id.cert_type)) + " certificate is this CA)");
        }
      }
    }
    return out;
  }

  // Every posture check on the staged set; the ones a transition check has explained give way
  // (one root cause per certificate), and key problems stop the swap whatever their configured
  // severity: CockroachDB refuses the key at the reload.
  void posture() {
    std::vector<const CertObservation*> certs;
    for (const CertObservation& cert : in_.staged.certificates) certs.push_back(&cert);
    std::vector<const KeyFile*> keys;
    for (const KeyFile& key : in_.staged.keys) keys.push_back(&key);
    rules::CheckInputs inputs;
    inputs.certificates = certs;
    inputs.keys = keys;
    inputs.denylist = in_.staged.denylist;
    inputs.local_node_names = in_.cluster.local_node_names;
    inputs.now = in_.now;
    const rules::CheckResults results = rules::run_checks(inputs, in_.checks, cache_);
    for (const rules::CheckFailure& failure : results.failures) {
      const std::string name = staged_name(failure.id);
      if (failure.check == rules::kCheckSanMissing && failure.id.cert_type == CertType::node) {
        continue;  // sans_dropped asks for the same names, and more
      }
      if (failure.check == rules::kCheckCnMismatch && found(kPreflightIdentityChanged, name)) {
        continue;
      }
      // The verdict judges a chain without the leaf's time; until the chain verdict says so
      // itself, a staged leaf that is not valid yet is not_yet_valid_soon's alone.
      if (failure.check == rules::kCheckChainUntrusted &&
          failure.detail.find("not yet valid") != std::string::npos &&
          found(kPreflightNotYetValidSoon, name)) {
        continue;
      }
      const Severity severity = is_key_check(failure.check) ? Severity::critical : failure.severity;
      if (severity == Severity::none) continue;
      add(failure.check, severity, name, failure.detail, posture_fix(failure.check));
    }
  }

  const PreflightInputs& in_;
  IndexedSet staged_;
  IndexedSet live_;
  rules::VerifyCache cache_;
  std::set<std::pair<std::string, std::string>> dropped_names_;  // (certificate, canonical name)
  PreflightReport report_;
};

std::string status_line(const PreflightReport& report) {
  std::size_t unsafe = 0;
  std::size_t warnings = 0;
  for (const PreflightFinding& f : report.findings) {
    unsafe += f.severity == Severity::critical ? 1 : 0;
    warnings += f.severity == Severity::warning ? 1 : 0;
  }
  std::string line = std::string(to_string(report.status)) + ": ";
  if (report.status == CheckStatus::unknown) return line + report.error;
  line += report.status == CheckStatus::ok         ? "safe to swap"
          : report.status == CheckStatus::critical ? "UNSAFE to swap"
                                                   : "safe to swap, with warnings";
  line += " (" + std::to_string(unsafe) + " unsafe, " + std::to_string(warnings) +
          " warnings): staged " + report.staged_dir;
  line += report.live_dir.empty() ? ", no live set" : " -> live " + report.live_dir;
  return line;
}

std::string or_dash(const std::string& text) { return text.empty() ? "-" : text; }

std::string arrow(const std::optional<PreflightCertSide>& old_side,
                  const std::optional<PreflightCertSide>& new_side,
                  const std::function<std::string(const PreflightCertSide&)>& field) {
  const std::string a = old_side ? field(*old_side) : "-";
  const std::string b = new_side ? field(*new_side) : "-";
  return a == b ? a : a + " -> " + b;
}

}  // namespace

PreflightReport evaluate_preflight(const PreflightInputs& inputs) {
  return Evaluation(inputs).run();
}

std::string render_preflight_table(const PreflightReport& report) {
  std::string out = escape_for_display(status_line(report)) + "\n";
  if (!report.certificates.empty()) {
    std::vector<std::vector<std::string>> rows{{"CERTIFICATE", "TYPE", "CHANGE",
                                                "EXPIRES (LIVE -> STAGED)", "SANS ADDED",
                                                "SANS REMOVED", "ISSUER", "KEY"}};
    for (const PreflightCertChange& c : report.certificates) {
      std::string added;
      for (const std::string& s : c.sans_added) added += (added.empty() ? "+" : " +") + s;
      std::string removed;
      for (const std::string& s : c.sans_removed) removed += (removed.empty() ? "-" : " -") + s;
      rows.push_back(
          {c.name, std::string(to_string(c.cert_type)), c.change,
           arrow(c.live, c.staged, [](const auto& s) { return date(s.not_after); }), or_dash(added),
           or_dash(removed),
           arrow(c.live, c.staged, [](const auto& s) { return or_dash(s.issuer_cn); }),
           arrow(c.live, c.staged, [](const auto& s) { return s.key + " " + s.signature; })});
    }
    out += "\n" + render_columns(std::move(rows));
  }
  if (!report.findings.empty()) {
    out += "\nFINDINGS\n";
    for (const PreflightFinding& f : report.findings) {
      out += escape_for_display(std::string(to_string(f.severity)) + "  " + f.check + "  " +
                                f.subject + ": " + f.detail) +
             "\n";
      if (!f.fix.empty()) out += escape_for_display("    fix: " + f.fix) + "\n";
    }
  }
  if (!report.skipped.empty()) {
    out += "\nSKIPPED\n";
    for (const PreflightSkip& s : report.skipped) {
      out += escape_for_display(s.check + ": " + s.reason) + "\n";
    }
  }
  return out;
}

std::string render_preflight_json(const PreflightReport& report) {
  using nlohmann::json;
  const auto side = [](const std::optional<PreflightCertSide>& s) -> json {
    if (!s) return nullptr;
    return {{"subject_cn", s->subject_cn},
            {"issuer_cn", s->issuer_cn},
            {"not_before", s->not_before},
            {"not_after", s->not_after},
            {"expires", utc_timestamp(s->not_after)},
            {"key", s->key},
            {"signature", s->signature},
            {"fingerprint_sha256", s->fingerprint_sha256}};
  };
  json out;
  out["status"] = std::string(to_string(report.status));
  out["exit_code"] = static_cast<int>(report.status);
  out["generated_at"] = report.generated_at;
  out["staged"] = report.staged_dir;
  out["live"] = report.live_dir.empty() ? json(nullptr) : json(report.live_dir);
  out["layout"] = {
      {"kind", report.layout.tls_secret ? "tls_secret" : "certs_dir"},
      {"cert_type", report.layout.tls_secret ? json(std::string(to_string(report.layout.cert_type)))
                                             : json(nullptr)},
      {"user", report.layout.user}};
  out["error"] = report.error;
  out["certificates"] = json::array();
  for (const PreflightCertChange& c : report.certificates) {
    out["certificates"].push_back({{"name", c.name},
                                   {"cert_type", to_string(c.cert_type)},
                                   {"change", c.change},
                                   {"live", side(c.live)},
                                   {"staged", side(c.staged)},
                                   {"sans_added", c.sans_added},
                                   {"sans_removed", c.sans_removed}});
  }
  out["findings"] = json::array();
  for (const PreflightFinding& f : report.findings) {
    out["findings"].push_back({{"check", f.check},
                               {"severity", to_string(f.severity)},
                               {"subject", f.subject},
                               {"detail", f.detail},
                               {"fix", f.fix}});
  }
  out["skipped"] = json::array();
  for (const PreflightSkip& s : report.skipped) {
    out["skipped"].push_back({{"check", s.check}, {"reason", s.reason}});
  }
  return dump_json(std::move(out));
}

}  // namespace certwatch::alerting
