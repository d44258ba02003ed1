#include "rules/checks.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <ctime>
#include <set>

#include "core/names.hpp"
#include "core/text.hpp"
#include "rules/chain_causes.hpp"
#include "rules/denylist.hpp"
#include "x509/dn_text.hpp"
#include "x509/verify.hpp"

namespace certwatch::rules {

const std::vector<CheckInfo>& all_checks() {
  static const std::vector<CheckInfo> checks{
      {kCheckChainUntrusted, Severity::critical, "CrdbCertChainUntrusted",
       "does not verify against the CA file CockroachDB uses for it",
       "Peers that verify it with that CA file reject it: connections fail at the next handshake. "
       "The detail names the cause (unknown_issuer, intermediate_expired, ...), each with its own "
       "fix."},
      {kCheckOutlivesCa, Severity::warning, "CrdbCertOutlivesCa",
       "outlives the only CA that verifies it",
       "It stops verifying the day that CA expires, long before its own expiry."},
      {kCheckSanMissing, Severity::warning, "CrdbCertSanMissing",
       "lacks a name the node is reached by",
       "Clients that dial that name fail with \"certificate is valid for X, not Y\"."},
      {kCheckCnMismatch, Severity::critical, "CrdbCertCnMismatch",
       "has a common name CockroachDB does not accept for it",
       "A client certificate authenticates the SQL user named by its CN; a node certificate "
       "must say CN=node."},
      {kCheckEkuMissing, Severity::critical, "CrdbCertEkuMissing",
       "lacks an extended key usage it is used for",
       "Node certificates serve and dial (serverAuth and clientAuth); client certificates need "
       "clientAuth. Handshakes that need the missing use fail."},
      {kCheckKeyPermissions, Severity::critical, "CrdbCertKeyPermissions",
       "has a key file whose permissions CockroachDB refuses",
       "CockroachDB refuses a key readable beyond 0700 (0740 when owned by root): the node keeps "
       "its old certificate at the next SIGHUP and cannot start after a restart."},
      {kCheckKeyOwner, Severity::warning, "CrdbCertKeyOwner",
       "has a key file owned by another user than configured",
       "The process that must read the key may not be able to."},
      {kCheckKeyMissing, Severity::critical, "CrdbCertKeyMissing", "has no key file beside it",
       "A certificate without its key cannot be loaded: the node refuses it at the next reload."},
      {kCheckCaKeyPresent, Severity::warning, "CrdbCertCaKeyPresent",
       "CA private key is on a node host",
       "Anyone who reads it can issue certificates the whole cluster trusts; CA keys belong "
       "offline."},
      {kCheckWeakKey, Severity::warning, "CrdbCertWeakKey", "has a weak key",
       "RSA below 2048 bits, EC below 256 bits and DSA are no longer considered safe."},
      {kCheckWeakSignature, Severity::warning, "CrdbCertWeakSignature",
       "is signed with SHA-1 or MD5",
       "Such signatures can be forged and are refused by current TLS stacks."},
      {kCheckKeyMismatch, Severity::critical, "CrdbCertKeyMismatch",
       "has a key file that does not belong to it",
       "The node cannot complete a handshake with a key that does not match its certificate."},
      {kCheckCompromised, Severity::critical, "CrdbCertCompromised", "is on the denylist",
       "A compromised certificate, or one issued by a compromised CA, is still trusted."},
  };
  return checks;
}

const CheckInfo* find_check(std::string_view name) {
  for (const CheckInfo& check : all_checks()) {
    if (check.name == name) return &check;
  }
  return nullptr;
}

bool ChecksConfig::runs(std::string_view check) const {
  return enabled && std::find(disable.begin(), disable.end(), check) == disable.end();
}

Severity ChecksConfig::severity_of(std::string_view check) const {
  if (const auto it = severity.find(std::string(check)); it != severity.end()) return it->second;
  const CheckInfo* info = find_check(check);
  return info != nullptr ? info->severity : Severity::warning;
}

namespace {

// Lowercase hex digits of `text`, skipping `skip` characters; nullopt on anything else.
std::optional<std::string> hex_digits(std::string_view text, std::string_view skip) {
  std::string out;
  for (const char c : text) {
    if (skip.find(c) != std::string_view::npos) continue;
    if (std::isxdigit(static_cast<unsigned char>(c)) == 0) return std::nullopt;
    out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

}  // namespace

std::optional<DenyEntry> parse_deny_entry(std::string_view text) {
  text = trim_whitespace(text);
  if (text.starts_with("serial:")) {
    const auto issuer_at = text.find(" issuer:");
    if (issuer_at == std::string_view::npos) return std::nullopt;
    auto serial = hex_digits(trim_whitespace(text.substr(7, issuer_at - 7)), ":");
    const std::string_view issuer = trim_whitespace(text.substr(issuer_at + 8));
    if (!serial || serial->empty() || issuer.empty()) return std::nullopt;
    serial->erase(0, std::min(serial->find_first_not_of('0'), serial->size() - 1));
    // The issuer as facts carry it, from any form `openssl x509 -issuer -noout` prints.
    auto issuer_dn = x509::canonical_dn(issuer);
    if (!issuer_dn) return std::nullopt;
    return DenyEntry{"", *serial, std::move(*issuer_dn)};
  }
  auto fingerprint = hex_digits(text, ": ");
  if (!fingerprint || fingerprint->size() != 64) return std::nullopt;
  return DenyEntry{*fingerprint, "", ""};
}

}  // namespace certwatch::rules

namespace certwatch::rules {
namespace {

constexpr std::size_t kMaxDetail = 160;
// Far above what one host's certificates need; bounds what rotations over months leave behind.
constexpr std::size_t kMaxCached = 200'000;

std::string bounded(std::string detail) {
  if (detail.size() > kMaxDetail) {
    detail.resize(kMaxDetail - 3);
    detail += "...";
  }
  return detail;
}

std::string directory_of(const std::string& path) {
  const auto slash = path.rfind('/');
  return slash == std::string::npos ? std::string() : path.substr(0, slash);
}

std::string key_path_for(const std::string& cert_path) {
  if (!cert_path.ends_with(".crt")) return {};
  return cert_path.substr(0, cert_path.size() - 4) + ".key";
}

std::string octal_mode(std::uint32_t mode) {
  char text[8];
  std::snprintf(text, sizeof text, "%04o", mode & 07777);
  return text;
}

std::string utc_date(std::int64_t unix_seconds) {
  const std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%d", &tm);
  return text;
}

bool is_leaf(CertType type) { return !is_ca_type(type) && type != CertType::other; }

// The file CockroachDB verifies a leaf of this type against, in the leaf's directory.
std::vector<std::string> ca_file_candidates(CertType type) {
  switch (type) {
    case CertType::node:
    case CertType::node_client:
      return {"ca.crt"};
    case CertType::client:
      return {"ca-client.crt", "ca.crt"};
    case CertType::ui:
      return {"ca-ui.crt", "ca.crt"};
    case CertType::tenant_client:
      return {"ca-client-tenant.crt"};
    default:
      return {};
  }
}

// The certificates after the leaf (index 0) of its file or served chain, in order: the untrusted
// intermediates that travel with it.
std::vector<const CertificateFacts*> after_leaf(const std::vector<const CertObservation*>& chain) {
  std::vector<const CertificateFacts*> out;
  for (const CertObservation* cert : chain) {
    if (cert->id.index != "0" && !cert->id.index.empty() && cert->facts) {
      out.push_back(&*cert->facts);
    }
  }
  return out;
}

class Engine {
 public:
  Engine(const CheckInputs& in, const ChecksConfig& config, VerifyCache& cache)
      : in_(in), config_(config), cache_(cache) {
    for (const CertObservation* cert : in.certificates) {
      if (cert->id.source == kSourceFile) by_path_[cert->id.path].push_back(cert);
      if (cert->id.source == kSourceProbe) served_[cert->id.path].push_back(cert);
    }
    for (const KeyFile* key : in.keys) keys_[key->path] = key;
    for (const std::string& line : config.denylist) deny_.add(line);
    for (const std::string& line : in.denylist) deny_.add(line);
    denied_ = judge_denylist(deny_, in.certificates, cache);
  }

  CheckResults run() {
    for (const CertObservation* cert : in_.certificates) {
      if (!cert->facts) continue;
      check_certificate(*cert);
    }
    check_ca_keys();
    count_ca_usage();
    return std::move(results_);
  }

 private:
  void fail(const CertIdentity& id, std::string_view check, std::string detail) {
    if (!config_.runs(check)) return;
    results_.failures.push_back(
        {id, std::string(check), config_.severity_of(check), bounded(std::move(detail))});
  }

  static bool is_first(const CertObservation& cert) {
    return cert.id.index == "0" || cert.id.index.empty();
  }
  // A leaf on disk: its key file and its chain to the CA file beside it are checked.
  static bool is_file_leaf(const CertObservation& cert) {
    return cert.id.source == kSourceFile && is_first(cert) && is_leaf(cert.id.cert_type);
  }
  // A leaf a probe was served: its name and its chain to the probe's CAs are checked.
  static bool is_served_leaf(const CertObservation& cert) {
    return cert.id.source == kSourceProbe && is_first(cert) && cert.trust_anchors;
  }

  void check_certificate(const CertObservation& cert) {
    if (is_first(cert)) {
      check_names(cert);
      check_key_usage(cert);
    }
    check_strength(cert);
    check_denylist(cert);
    if (is_file_leaf(cert)) {
      check_key_file(cert);
      check_chain(cert);
    }
    if (is_served_leaf(cert)) check_served(cert);
  }

  // A served leaf (probe): it must carry the name it was dialed by and verify against the
  // probe's ca_file, as the clients that dial it require.
  void check_served(const CertObservation& leaf) {
    const CertificateFacts& facts = *leaf.facts;
    // A malformed certificate's names cannot be read: chain_untrusted says so, not san_missing.
    if (!leaf.dialed_name.empty() && !facts.malformed &&
        !san_covers(facts.dns_names, facts.ip_addresses, leaf.dialed_name)) {
      fail(leaf.id, kCheckSanMissing, leaf.dialed_name);
    }
    std::vector<const CertificateFacts*> cas;
    for (const CertificateFacts& ca : *leaf.trust_anchors) cas.push_back(&ca);
    if (cas.empty()) {
      fail(leaf.id, kCheckChainUntrusted, std::string(kChainNoCaFile));
      return;
    }
    const auto served = served_.find(leaf.id.path);
    verify_chain(leaf,
                 served != served_.end() ? after_leaf(served->second)
                                         : std::vector<const CertificateFacts*>{},
                 cas);
  }

  void check_names(const CertObservation& cert) {
    const CertificateFacts& facts = *cert.facts;
    const CertType type = cert.id.cert_type;
    if (type == CertType::client && !cert.id.user.empty() && facts.subject_cn != cert.id.user) {
      fail(cert.id, kCheckCnMismatch,
           "CN " + facts.subject_cn + " authenticates as that user, not " + cert.id.user);
    }
    if ((type == CertType::node || type == CertType::node_client) && facts.subject_cn != "node") {
      fail(cert.id, kCheckCnMismatch, "CN " + facts.subject_cn + ", expected node");
    }
    if (type != CertType::node || cert.id.source != kSourceFile || facts.malformed) return;
    std::vector<std::string> required = config_.san_required;
    if (config_.san_include_local) {
      required.emplace_back("localhost");
      required.emplace_back("127.0.0.1");
    }
    required.insert(required.end(), in_.local_node_names.begin(), in_.local_node_names.end());
    std::vector<std::string> said;
    for (const std::string& name : required) {
      if (name.empty() || san_covers(facts.dns_names, facts.ip_addresses, name)) continue;
      const std::string key = canonical_ip(name).value_or(canonical_dns_name(name));
      if (std::find(said.begin(), said.end(), key) != said.end()) continue;
      said.push_back(key);
      fail(cert.id, kCheckSanMissing, name);
    }
  }

  void check_key_usage(const CertObservation& cert) {
    const CertificateFacts& facts = *cert.facts;
    if (!facts.has_eku) return;  // no extension: every use is allowed
    const CertType type = cert.id.cert_type;
    if (type == CertType::node) {
      if (!facts.eku_server_auth) fail(cert.id, kCheckEkuMissing, "serverAuth");
      // A served leaf is only ever seen serving: whether its node dials with a separate
      // client.node.crt cannot be told from the wire, so clientAuth is not required of it.
      const bool separate_client =
          cert.id.source == kSourceProbe ||
          (cert.id.source == kSourceFile &&
           by_path_.count(directory_of(cert.id.path) + "/client.node.crt") != 0);
      if (!facts.eku_client_auth && !separate_client) {
        fail(cert.id, kCheckEkuMissing, "clientAuth (no client.node.crt beside it)");
      }
    }
    if ((type == CertType::client || type == CertType::node_client ||
         type == CertType::tenant_client) &&
        !facts.eku_client_auth) {
      fail(cert.id, kCheckEkuMissing, "clientAuth");
    }
  }

  void check_strength(const CertObservation& cert) {
    const CertificateFacts& facts = *cert.facts;
    if ((facts.key_type == "rsa" && facts.key_bits > 0 && facts.key_bits < 2048) ||
        (facts.key_type == "ec" && facts.key_bits > 0 && facts.key_bits < 256) ||
        facts.key_type == "dsa") {
      fail(cert.id, kCheckWeakKey, facts.key_type + " " + std::to_string(facts.key_bits));
    }
    if ((facts.signature_hash == "sha1" || facts.signature_hash == "md5") && !facts.self_signed) {
      fail(cert.id, kCheckWeakSignature, facts.signature_hash);
    }
  }

  // Judged once for the whole snapshot (rules/denylist.hpp).
  void check_denylist(const CertObservation& cert) {
    if (const auto it = denied_.detail.find(&cert); it != denied_.detail.end()) {
      fail(cert.id, kCheckCompromised, it->second);
    }
  }

  void check_key_file(const CertObservation& cert) {
    const std::string key_path = key_path_for(cert.id.path);
    if (key_path.empty()) return;
    const auto found = keys_.find(key_path);
    if (found == keys_.end()) return;  // the source did not look (not a certs-dir layout)
    const KeyFile& key = *found->second;
    if (!key.exists) {
      fail(cert.id, kCheckKeyMissing, key_path);
      return;
    }
    const std::uint32_t mode = key.mode & 07777;
    // CockroachDB: at most 0700, or 0740 when the key is owned by root.
    const bool allowed = (mode & 0077) == 0 || (key.uid == 0 && (mode & 0037) == 0);
    if (!allowed) fail(cert.id, kCheckKeyPermissions, key_path + " mode " + octal_mode(mode));
    if (!config_.key_owner.empty() && key.owner != config_.key_owner) {
      fail(cert.id, kCheckKeyOwner,
           key_path + " owned by " + (key.owner.empty() ? std::to_string(key.uid) : key.owner));
    }
    if (key.matches_certificate == false) {
      fail(cert.id, kCheckKeyMismatch, key_path + " is not this certificate's key");
    }
  }

  // The CA certificates CockroachDB would verify this leaf against, and their file.
  std::pair<std::string, const std::vector<const CertObservation*>*> ca_bundle_for(
      const CertObservation& leaf) const {
    const std::string dir = directory_of(leaf.id.path);
    for (const std::string& name : ca_file_candidates(leaf.id.cert_type)) {
      const auto found = by_path_.find(dir + "/" + name);
      if (found != by_path_.end()) return {found->first, &found->second};
    }
    const auto candidates = ca_file_candidates(leaf.id.cert_type);
    return {candidates.empty() ? "" : dir + "/" + candidates.back(), nullptr};
  }

  void check_chain(const CertObservation& leaf) {
    const auto [ca_path, bundle] = ca_bundle_for(leaf);
    if (ca_path.empty()) return;
    if (bundle == nullptr) {
      fail(leaf.id, kCheckChainUntrusted, std::string(kChainNoCaFile));
      return;
    }
    std::vector<const CertificateFacts*> cas;
    for (const CertObservation* ca : *bundle) {
      if (ca->facts) cas.push_back(&*ca->facts);
    }
    verify_chain(leaf, after_leaf(by_path_.at(leaf.id.path)), cas);
  }

  // chain_untrusted and outlives_ca for `leaf`, with the intermediates that travel with it,
  // against the trust anchors `cas`. OpenSSL judges the chain as if in date (the leaf's own time
  // is the expiry states'); the CAs of the chain it built are then held to the clock.
  void verify_chain(const CertObservation& leaf,
                    const std::vector<const CertificateFacts*>& intermediates,
                    const std::vector<const CertificateFacts*>& cas) {
    const x509::ChainOutcome outcome = cache_.chain(*leaf.facts, intermediates, cas);
    std::optional<x509::ChainCause> cause = outcome.failure;
    if (!cause) cause = x509::chain_time_failure(outcome, in_.now);
    if (cause) {
      fail(leaf.id, kCheckChainUntrusted, std::string(x509::to_string(*cause)));
      return;
    }
    const std::int64_t verifying_until = x509::chain_verifies_until(outcome);
    if (verifying_until != 0 && verifying_until < leaf.facts->not_after) {
      fail(leaf.id, kCheckOutlivesCa, "CA expires " + utc_date(verifying_until));
    }
  }

  void check_ca_keys() {
    for (const KeyFile* key : in_.keys) {
      if (!key->exists || !is_ca_type(key->cert_type)) continue;
      CertIdentity id;
      id.source = std::string(kSourceFile);
      id.cert_type = key->cert_type;
      id.path = key->path;
      fail(id, kCheckCaKeyPresent, "mode " + octal_mode(key->mode));
    }
  }

  void count_ca_usage() {
    for (const auto& [path, bundle] : by_path_) {
      std::vector<CaUsage> usages;
      for (const CertObservation* ca : bundle) {
        if (!ca->facts || !ca->facts->is_ca || !is_ca_type(ca->id.cert_type)) continue;
        usages.push_back(CaUsage{ca, issued_count(*ca->facts), false});
      }
      for (CaUsage& usage : usages) {
        const bool another_valid = std::any_of(usages.begin(), usages.end(), [&](const CaUsage& o) {
          return o.ca != usage.ca && o.ca->facts->not_after > in_.now;
        });
        usage.removable = usage.issued == 0 && another_valid;
        results_.ca_usage.push_back(usage);
      }
    }
  }

  // How many certificates read verify through this CA; the same CA in many bundles (every host
  // dir holds a copy of ca.crt) is counted once.
  std::size_t issued_count(const CertificateFacts& ca) {
    const auto known = issued_counts_.find(ca.fingerprint_sha256);
    if (known != issued_counts_.end()) return known->second;
    std::set<std::string_view> counted;  // a certificate present in several files counts once
    for (const CertObservation* cert : in_.certificates) {
      if (!cert->facts || cert->facts->issuer_cn != ca.subject_cn ||
          cert->facts->fingerprint_sha256 == ca.fingerprint_sha256 ||
          counted.count(cert->facts->fingerprint_sha256) != 0) {
        continue;
      }
      if (cache_.issued_by(*cert->facts, ca)) counted.insert(cert->facts->fingerprint_sha256);
    }
    issued_counts_.emplace(ca.fingerprint_sha256, counted.size());
    return counted.size();
  }

  const CheckInputs& in_;
  const ChecksConfig& config_;
  VerifyCache& cache_;
  std::map<std::string, std::vector<const CertObservation*>> by_path_;
  std::map<std::string, std::vector<const CertObservation*>> served_;  // probe: by target
  std::map<std::string, const KeyFile*> keys_;
  Denylist deny_;
  DenyVerdicts denied_;
  std::map<std::string, std::size_t> issued_counts_;  // by CA fingerprint
  CheckResults results_;
};

}  // namespace

template <typename Value, typename Make>
Value VerifyCache::remembered(std::unordered_map<std::string, Value>& table, std::string key,
                              const Make& make) {
  {
    std::lock_guard lock(mutex_);
    if (const auto it = table.find(key); it != table.end()) return it->second;
  }
  // Made unlocked: two threads may both make a missing value, and one of them is kept.
  Value value = make();
  std::lock_guard lock(mutex_);
  if (table.size() >= kMaxCached) table.clear();  // certificates come and go
  table.emplace(std::move(key), value);
  return value;
}

bool VerifyCache::issued_by(const CertificateFacts& subject, const CertificateFacts& issuer) {
  return remembered(issued_by_, subject.fingerprint_sha256 + issuer.fingerprint_sha256, [&] {
    // The fast path checks the signature with the CA's key decoded once; the full decode is for
    // what it cannot tell (RSA-PSS, malformed input).
    if (subject.issuer_cn != issuer.subject_cn) return false;
    const auto key = issuer_key(issuer);
    const std::optional<bool> fast = key ? key->signed_certificate(subject.der) : std::nullopt;
    return fast ? *fast : x509::issued_by(subject.der, issuer.der);
  });
}

std::shared_ptr<const x509::IssuerKey> VerifyCache::issuer_key(const CertificateFacts& issuer) {
  return remembered(issuer_keys_, issuer.fingerprint_sha256,
                    [&] { return x509::IssuerKey::from_der(issuer.der); });
}

std::shared_ptr<const x509::TrustAnchor> VerifyCache::trust_anchor(const CertificateFacts& ca) {
  return remembered(anchors_, ca.fingerprint_sha256,
                    [&] { return x509::TrustAnchor::from_der(ca.der); });
}

std::shared_ptr<const x509::AnchorSet> VerifyCache::anchor_set(
    const std::vector<const CertificateFacts*>& cas) {
  std::string key;
  for (const CertificateFacts* ca : cas) key += ca->fingerprint_sha256;
  return remembered(anchor_sets_, std::move(key), [&] {
    std::vector<std::shared_ptr<const x509::TrustAnchor>> anchors;
    anchors.reserve(cas.size());
    for (const CertificateFacts* ca : cas) anchors.push_back(trust_anchor(*ca));
    return x509::AnchorSet::make(anchors);
  });
}

x509::ChainOutcome VerifyCache::chain(const CertificateFacts& leaf,
                                      const std::vector<const CertificateFacts*>& intermediates,
                                      const std::vector<const CertificateFacts*>& cas) {
  std::string key = leaf.fingerprint_sha256 + "/";
  for (const CertificateFacts* c : intermediates) key += c->fingerprint_sha256;
  key += "/";
  for (const CertificateFacts* c : cas) key += c->fingerprint_sha256;
  return remembered(verified_, std::move(key), [&] {
    const auto anchors = anchor_set(cas);
    if (!anchors) return x509::ChainOutcome{x509::ChainCause::other, "out of memory", {}, false};
    std::vector<std::shared_ptr<const x509::TrustAnchor>> untrusted;
    untrusted.reserve(intermediates.size());
    for (const CertificateFacts* c : intermediates) untrusted.push_back(trust_anchor(*c));
    // The fast path's signature check is the one count_ca_usage needs too: memoised once.
    x509::ChainOptions options;
    options.signature_check = [&](std::size_t anchor) -> std::optional<bool> {
      return issued_by(leaf, *cas[anchor]);
    };
    return x509::verify_chain(leaf.der, untrusted, *anchors, options);
  });
}

CheckResults run_checks(const CheckInputs& inputs, const ChecksConfig& config, VerifyCache& cache) {
  if (!config.enabled) return {};
  return Engine(inputs, config, cache).run();
}

std::vector<std::string> ca_files_for(CertType type) { return ca_file_candidates(type); }

}  // namespace certwatch::rules
