#include "alerting/audit_report.hpp"

#include <openssl/evp.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <filesystem>

#include "core/read_file.hpp"
#include "rules/checks.hpp"
#include "sources/cloud_client_ca_source.hpp"
#include "sources/cluster_source.hpp"
#include "sources/cmek_source.hpp"
#include "sources/registry.hpp"

namespace certwatch::alerting {
namespace {

constexpr std::int64_t kDay = 86400;
constexpr std::int64_t kCalendarSpan = 365 * kDay;
// A config file is a few KiB; the bound only keeps a wrong path from costing memory.
constexpr std::uint64_t kMaxDigestBytes = 16 * 1024 * 1024;

AuditCertificate audit_certificate(const CertObservation& cert, const rules::CertState& state) {
  AuditCertificate out;
  out.id = cert.id;
  if (cert.facts) {
    const auto& facts = *cert.facts;
    out.has_facts = true;
    out.subject_cn = facts.subject_cn;
    out.issuer_cn = facts.issuer_cn;
    out.serial_hex = facts.serial_hex;
    out.fingerprint_sha256 = facts.fingerprint_sha256;
    out.sans = facts.dns_names;
    out.sans.insert(out.sans.end(), facts.ip_addresses.begin(), facts.ip_addresses.end());
    out.is_ca = facts.is_ca;
    out.self_signed = facts.self_signed;
    out.key_type = facts.key_type;
    out.key_bits = facts.key_bits;
    out.signature_hash = facts.signature_hash;
  }
  out.not_before = cert.not_before;
  if (!cert.load_failed) out.not_after = cert.not_after;
  out.action = state.action;
  out.severity = state.severity;
  return out;
}

// The dates within the next 12 months at which a certificate crosses a rule threshold or
// expires, and, when it is past a threshold already, its current action as due now.
void add_calendar_entries(const CertObservation& cert, const rules::CertState& state,
                          const std::vector<rules::Rule>& rules, std::int64_t now,
                          std::vector<CalendarEntry>& out) {
  if (cert.load_failed || !cert.not_after) return;
  const std::int64_t not_after = *cert.not_after;
  const std::string subject = cert.facts ? cert.facts->subject_cn : "";
  auto add = [&](std::int64_t due, bool due_now, std::string action, Severity severity) {
    out.push_back({due, due_now, cert.id, subject, std::move(action), severity, not_after});
  };
  if (state.severity != Severity::none) add(now, true, state.action, state.severity);
  if (state.renewal_expected) {
    // Managed: the automation renews it; the rules do not apply.
    const std::int64_t expected = *state.renewal_expected;
    if (expected > now && expected - now <= kCalendarSpan) {
      add(expected, false, "renewal by " + state.managed_by, Severity::none);
    }
  } else {
    for (const rules::Rule& rule : rules) {
      const auto before = rules::rule_threshold(rule, cert);
      if (!before) continue;
      const std::int64_t threshold = not_after - *before;
      if (threshold > now && threshold - now <= kCalendarSpan) {
        add(threshold, false, rule.action, rule.severity);
      }
    }
  }
  if (not_after > now && not_after - now <= kCalendarSpan) {
    add(not_after, false, "expired", Severity::critical);
  }
}

// The journal's entries of the last 12 months, newest first, and what keeps it from being whole.
RotationHistory rotation_history_of(const AuditContext& context, std::int64_t now) {
  RotationHistory out;
  out.journal = context.rotation_journal;
  if (out.journal.empty()) {
    out.note =
        "no rotation journal is kept (set rotation_journal, or run the daemon under systemd, "
        "which keeps it in its StateDirectory)";
    return out;
  }
  if (context.journal.error) {
    out.note = "the rotation journal " + out.journal +
               " cannot be read: " + describe(*context.journal.error);
    return out;
  }
  out.bad_lines = context.journal.bad_lines;
  if (out.bad_lines > 0) {
    out.note = "the rotation journal " + out.journal + " has " + std::to_string(out.bad_lines) +
               " unreadable line(s) (corrupt or truncated, first at line " +
               std::to_string(context.journal.first_bad_line) + "); they are left out";
  }
  for (const state::RotationEvent& event : context.journal.events) {
    if (event.time >= static_cast<double>(now - kCalendarSpan) &&
        event.time <= static_cast<double>(now) + 1) {
      out.events.push_back(event);
    }
  }
  std::stable_sort(
      out.events.begin(), out.events.end(),
      [](const state::RotationEvent& a, const state::RotationEvent& b) { return a.time > b.time; });
  return out;
}

bool source_configured(const state::Snapshot& snapshot, std::string_view name) {
  return std::any_of(snapshot.health.begin(), snapshot.health.end(),
                     [name](const state::SourceHealth& h) { return h.source == name; });
}

std::vector<Unchecked> find_unchecked(const state::Snapshot& snapshot, const AuditContext& context,
                                      const AuditReport& report) {
  std::vector<Unchecked> out;
  for (const AuditSource& source : report.sources) {
    if (!source.up) {
      out.push_back({"source " + source.name,
                     "the poll failed (" + source.error_reason + "): " + source.error_message});
    }
  }
  for (const FileError& error : report.check.file_errors) {
    out.push_back({error.path, "unusable file: " + describe(error)});
  }
  if (!context.checks.enabled) {
    out.push_back({"posture checks", "turned off in the config (checks.enabled: false)"});
  } else {
    for (const std::string& check : context.checks.disable) {
      out.push_back({"check " + check, "turned off in the config (checks.disable)"});
    }
    if (!context.checks.key_match) {
      out.push_back(
          {"check key_mismatch",
           "opt-in and not enabled (checks.key_match: false): private keys are not read"});
    }
    if (context.checks.key_owner.empty()) {
      out.push_back({"check key_owner", "no expected owner configured (checks.key_owner)"});
    }
  }
  // What each source the tier has use for would have observed (its registry entry says).
  for (const sources::SourceEntry& entry : sources::Registry::builtin().entries()) {
    if (!entry.fits(report.tier.tier) || source_configured(snapshot, entry.source)) continue;
    out.push_back({std::string(entry.section.name) + " source", std::string(entry.audit_missing)});
  }
  if (report.data_at_rest.state == DataAtRest::State::not_observed) {
    out.push_back({"encryption at rest", report.data_at_rest.statement});
  }
  return out;
}

}  // namespace

std::string sha256_hex(std::string_view bytes) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int length = 0;
  if (EVP_Digest(bytes.data(), bytes.size(), digest.data(), &length, EVP_sha256(), nullptr) != 1) {
    return {};
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < length; ++i) {
    out += kHex[digest[i] >> 4];
    out += kHex[digest[i] & 0x0f];
  }
  return out;
}

AuditContext audit_context(const config::Config& config, const std::string& config_file) {
  AuditContext context;
  std::array<char, 256> name{};
  if (gethostname(name.data(), name.size() - 1) == 0) context.host = name.data();
  std::error_code ignored;  // a path that cannot be made absolute is shown as given
  const std::filesystem::path absolute = std::filesystem::absolute(config_file, ignored);
  context.config_file = absolute.empty() ? config_file : absolute.lexically_normal().string();
  const BoundedRead read = read_regular_file(config_file, kMaxDigestBytes);
  if (read.error) {
    context.config_digest_error = describe(*read.error);
  } else {
    context.config_sha256 = sha256_hex(read.content);
  }
  context.tier = config.deployment.tier;
  context.rules = config.rules;
  context.checks = config.checks;
  context.rotation_journal =
      state::journal_path(config.rotation_journal, std::getenv("STATE_DIRECTORY"));
  if (context.rotation_journal.empty() &&
      ::access(std::string(state::kPackagedJournalPath).c_str(), R_OK) == 0) {
    context.rotation_journal = state::kPackagedJournalPath;
  }
  if (!context.rotation_journal.empty()) {
    context.journal = state::read_journal(context.rotation_journal);
  }
  return context;
}

std::string_view to_string(DataAtRest::State state) {
  switch (state) {
    case DataAtRest::State::cmek_observed:
      return "cmek_observed";
    case DataAtRest::State::cmek_unavailable:
      return "cmek_unavailable";
    case DataAtRest::State::managed:
      return "managed";
    case DataAtRest::State::not_observed:
      break;
  }
  return "not_observed";
}

// The CMEK source's typed facts (sources::CmekFacts) when it polled; what the tier implies
// otherwise.
DataAtRest data_at_rest_of(const state::Snapshot& snapshot, const TierFacts& tier) {
  DataAtRest out;
  out.owner = std::string(tier.data_at_rest_owner);
  for (const state::SharedPollResult& result : snapshot.results) {
    const auto* cmek = sources::facts_as<sources::CmekFacts>(*result);
    if (cmek == nullptr) continue;
    std::size_t keys = 0;
    for (const auto& region : cmek->info.regions) keys += region.keys.size();
    out.state = DataAtRest::State::cmek_observed;
    out.statement = "Customer-managed encryption key (CMEK) of cluster " + cmek->cluster_id +
                    ", as reported by the CockroachDB Cloud API: status " +
                    (cmek->info.status.empty() ? std::string("not reported") : cmek->info.status) +
                    ", " + std::to_string(cmek->info.regions.size()) + " region(s), " +
                    std::to_string(keys) + " key(s).";
    out.tables = result->facts->tables();  // the bounded view (state/caps.hpp)
    return out;
  }
  if (source_configured(snapshot, "cmek")) {
    out.state = DataAtRest::State::cmek_unavailable;
    out.statement =
        "A cmek source is configured but its poll failed: the key state is unknown "
        "(see what could not be checked).";
  } else if (tier.tier != Tier::self_hosted) {
    out.state = DataAtRest::State::managed;
    out.statement = "Managed by Cockroach Labs.";
  } else {
    out.state = DataAtRest::State::not_observed;
    out.statement =
        "Not observed by this tool: encryption at rest with store keys is configured "
        "on each node.";
  }
  return out;
}

CloudClientCa cloud_client_ca_of(const state::Snapshot& snapshot, const TierFacts& tier) {
  CloudClientCa out;
  out.owner = std::string(tier.client_ca_owner);
  out.applies = tier.cmek_available;
  for (const state::SharedPollResult& result : snapshot.results) {
    const auto* cloud = sources::facts_as<sources::CloudClientCaFacts>(*result);
    if (cloud == nullptr) continue;
    out.applies = true;
    out.status = cloud->status;
    out.statement = "Client CA of cluster " + cloud->cluster_id +
                    ", as reported by the CockroachDB Cloud API: status " + cloud->status +
                    (cloud->not_found ? " (no client CA uploaded)" : "") + ", " +
                    std::to_string(cloud->certificates) +
                    " certificate(s), each listed with its expiry under source cloud.";
    return out;
  }
  if (source_configured(snapshot, sources::kSourceCloud)) {
    out.applies = true;
    out.statement =
        "A cloud source is configured but its poll failed: the uploaded client CA is unknown "
        "(see what could not be checked).";
  } else {
    out.statement =
        "Not observed: add a cmek: section (CockroachDB Cloud API settings) to read the client "
        "CA uploaded for certificate authentication.";
  }
  return out;
}

AuditReport make_audit_report(const state::Snapshot& snapshot, const AuditContext& context) {
  AuditReport report;
  report.check = make_check_report(snapshot);
  const CheckReport& check = report.check;
  report.generated_at = snapshot.generated_at;
  report.host = context.host;
  report.build = snapshot.build;
  report.config_file = context.config_file;
  report.config_sha256 = context.config_sha256;
  report.tier = tier_facts(context.tier);

  for (const CheckSource& source : check.sources) {
    report.sources.push_back(
        {source.source, source.up, source.error_reason, source.error_message, {}, {}});
  }
  for (const state::SharedPollResult& result : snapshot.results) {
    if (const auto* cluster = sources::facts_as<sources::ClusterFacts>(*result)) {
      report.cluster_secure = cluster->secure;
    }
    for (AuditSource& source : report.sources) {
      if (source.name == result->source && result->facts) source.tables = result->facts->tables();
    }
  }
  // The node vars' "Client certificates in use" (made with the file source's view in the
  // snapshot) goes with the cluster source.
  for (const Table& table : snapshot.tables) {
    if (table.title != sources::kClientInventoryTitle) continue;
    for (AuditSource& source : report.sources) {
      if (source.name == kSourceCluster) source.tables.push_back(table);
    }
  }
  const auto now = static_cast<std::int64_t>(snapshot.generated_at);
  for (std::size_t i = 0; i < snapshot.certificates.size(); ++i) {
    const CertObservation& cert = *snapshot.certificates[i];
    auto source = std::find_if(report.sources.begin(), report.sources.end(),
                               [&](const AuditSource& s) { return s.name == cert.id.source; });
    if (source == report.sources.end()) {
      // Last good data of a source the health list does not name: shown, never dropped.
      report.sources.push_back({cert.id.source, false, {}, {}, {}, {}});
      source = std::prev(report.sources.end());
    }
    source->certificates.push_back(audit_certificate(cert, snapshot.states[i]));
    ++report.certificate_count;
    add_calendar_entries(cert, snapshot.states[i], context.rules, now, report.calendar);
  }
  std::stable_sort(report.calendar.begin(), report.calendar.end(),
                   [](const CalendarEntry& a, const CalendarEntry& b) {
                     if (a.due != b.due) return a.due < b.due;
                     return a.severity > b.severity;
                   });
  report.calendar_until = now + kCalendarSpan;

  for (const rules::CheckInfo& info : rules::all_checks()) {
    AuditCheck row{std::string(info.name), std::string(info.summary),
                   context.checks.severity_of(info.name), context.checks.runs(info.name), 0};
    if (info.name == rules::kCheckKeyMismatch) row.ran = row.ran && context.checks.key_match;
    if (info.name == rules::kCheckKeyOwner) row.ran = row.ran && !context.checks.key_owner.empty();
    row.failures = static_cast<std::size_t>(
        std::count_if(check.checks.begin(), check.checks.end(),
                      [&](const rules::CheckFailure& f) { return f.check == info.name; }));
    report.checks.push_back(std::move(row));
  }
  report.data_at_rest = data_at_rest_of(snapshot, report.tier);
  report.cloud_client_ca = cloud_client_ca_of(snapshot, report.tier);
  report.rotation_history = rotation_history_of(context, now);
  report.unchecked = find_unchecked(snapshot, context, report);
  if (!report.rotation_history.note.empty()) {
    report.unchecked.push_back({"rotation history", report.rotation_history.note});
  }
  return report;
}

}  // namespace certwatch::alerting
