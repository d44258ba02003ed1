#include "rules/checks.hpp"

#include <algorithm>
#include <cctype>

namespace certwatch::rules {

const std::vector<CheckInfo>& all_checks() {
  static const std::vector<CheckInfo> checks{
      {kCheckChainUntrusted, Severity::critical, "CrdbCertChainUntrusted",
       "does not verify against the CA file CockroachDB uses for it",
       "Peers reject it with \"unknown authority\": connections fail at the next handshake."},
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

std::string_view trim(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front())) != 0) {
    text.remove_prefix(1);
  }
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back())) != 0) {
    text.remove_suffix(1);
  }
  return text;
}

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
  text = trim(text);
  if (text.starts_with("serial:")) {
    const auto issuer_at = text.find(" issuer:");
    if (issuer_at == std::string_view::npos) return std::nullopt;
    auto serial = hex_digits(trim(text.substr(7, issuer_at - 7)), ":");
    const std::string_view issuer = trim(text.substr(issuer_at + 8));
    if (!serial || serial->empty() || issuer.empty()) return std::nullopt;
    serial->erase(0, std::min(serial->find_first_not_of('0'), serial->size() - 1));
    return DenyEntry{"", *serial, std::string(issuer)};
  }
  auto fingerprint = hex_digits(text, ": ");
  if (!fingerprint || fingerprint->size() != 64) return std::nullopt;
  return DenyEntry{*fingerprint, "", ""};
}

}  // namespace certwatch::rules
