#include "alerting/check_report.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <nlohmann/json.hpp>
#include <sstream>

#include "alerting/report_text.hpp"
#include "core/text.hpp"
#include "rules/chain_causes.hpp"
#include "rules/conditions.hpp"

namespace certwatch::alerting {

std::string utc_timestamp(std::int64_t unix_seconds) {
  return utc_time(unix_seconds, "%Y-%m-%dT%H:%M:%SZ");
}

std::string where(const CertIdentity& id) {
  if (!id.path.empty()) {
    return id.index.empty() || id.index == "0" ? id.path : id.path + " #" + id.index;
  }
  return id.node_id.empty() ? "-" : "node " + id.node_id;
}

namespace {

std::string or_dash(std::string_view text) { return text.empty() ? "-" : std::string(text); }

std::string upper(std::string text) {
  for (char& c : text) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return text;
}

// One line of the table output, as a terminal may show it: a certificate subject or a file name
// can hold any bytes, and ESC sequences or a newline must not reach the terminal raw.
std::string line_of(std::string_view text) { return escape_for_display(text) + "\n"; }

}  // namespace

std::string render_columns(std::vector<std::vector<std::string>> rows) {
  std::vector<std::size_t> widths;
  for (auto& row : rows) {
    widths.resize(std::max(widths.size(), row.size()));
    for (std::size_t i = 0; i < row.size(); ++i) {
      row[i] = escape_for_display(row[i]);
      widths[i] = std::max(widths[i], row[i].size());
    }
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (std::size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(widths[i] - row[i].size() + 2, ' ');
    }
    out += line + "\n";
  }
  return out;
}

namespace {
// The certificates an automation renews: by whom, and when it should (automation: config).
std::string render_managed(const CheckReport& report) {
  std::vector<std::vector<std::string>> rows{
      {"MANAGED CERTIFICATE", "TYPE", "MANAGED BY", "RENEWAL EXPECTED", "IN", "ACTION"}};
  for (const CheckCertificate& cert : report.certificates) {
    if (!cert.renewal_expected) continue;
    rows.push_back(
        {where(cert.id), std::string(to_string(cert.id.cert_type)), cert.managed_by,
         utc_timestamp(*cert.renewal_expected),
         human_duration(static_cast<double>(*cert.renewal_expected) - report.generated_at),
         cert.action});
  }
  return rows.size() > 1 ? "\n" + render_columns(std::move(rows)) : std::string();
}

// Each chain_untrusted cause present, with its why and fix: one root cause, one explanation.
std::string render_chain_causes(const std::vector<rules::CheckFailure>& checks) {
  std::string out;
  for (const rules::ChainCauseInfo* cause : rules::chain_causes_in(checks)) {
    out += "\nCHAIN CAUSE " + std::string(cause->detail) + "\n  why: " + std::string(cause->why) +
           "\n  fix: " + std::string(cause->fix) + "\n";
  }
  return out;
}

std::string status_summary(const CheckReport& report) {
  std::size_t by_severity[4] = {0, 0, 0, 0};
  for (const CheckCertificate& cert : report.certificates) {
    ++by_severity[static_cast<int>(cert.severity)];
  }
  std::ostringstream out;
  out << to_string(report.status) << ": " << report.certificates.size() << " certificates ("
      << by_severity[3] << " critical, " << by_severity[2] << " warning, " << by_severity[1]
      << " info, " << by_severity[0] << " ok), " << report.checks.size() << " failing checks, "
      << report.file_errors.size() << " file errors";
  for (const CheckSource& source : report.sources) {
    out << ", " << source.source << " source "
        << (source.up ? std::string("up") : "FAILED (" + source.error_reason + ")");
  }
  return out.str();
}

}  // namespace

std::string_view to_string(CheckStatus status) {
  switch (status) {
    case CheckStatus::ok:
      return "OK";
    case CheckStatus::warning:
      return "WARNING";
    case CheckStatus::critical:
      return "CRITICAL";
    case CheckStatus::unknown:
      return "UNKNOWN";
  }
  return "UNKNOWN";
}

std::string_view to_string(Condition condition) {
  switch (condition) {
    case Condition::file_error:
      return "file_error";
    case Condition::source_down:
      return "source_down";
    case Condition::node_stale:
      return "node_stale";
    case Condition::reload_pending:
      return "reload_pending";
    case Condition::cluster_insecure:
      return "cluster_insecure";
    case Condition::config_reload_failed:
      return "config_reload_failed";
    case Condition::probe_failed:
      return "probe_failed";
    case Condition::served_mismatch:
      return "served_mismatch";
    case Condition::cmek_key_revoked:
      return "cmek_key_revoked";
    case Condition::cmek_failed:
      return "cmek_failed";
    case Condition::cmek_transition_stuck:
      return "cmek_transition_stuck";
    case Condition::cmek_api_unreachable:
      return "cmek_api_unreachable";
    case Condition::cloud_client_ca_not_set:
      return "cloud_client_ca_not_set";
    case Condition::cloud_client_ca_failed:
      return "cloud_client_ca_failed";
    case Condition::cloud_client_ca_pending:
      return "cloud_client_ca_pending";
  }
  return "unknown";
}

CheckReport make_check_report(const state::Snapshot& snapshot) {
  CheckReport report;
  report.generated_at = snapshot.generated_at;
  for (std::size_t i = 0; i < snapshot.certificates.size(); ++i) {
    const CertObservation& cert = *snapshot.certificates[i];
    CheckCertificate row;
    row.id = cert.id;
    if (cert.facts) row.subject_cn = cert.facts->subject_cn;
    if (!cert.load_failed) row.not_after = cert.not_after;
    row.action = snapshot.states[i].action;
    row.severity = snapshot.states[i].severity;
    row.managed_by = snapshot.states[i].managed_by;
    row.renewal_expected = snapshot.states[i].renewal_expected;
    if (auto remedy = state::remedy_for(cert, snapshot.states[i], snapshot.tier)) {
      row.remedy = std::move(*remedy);
    }
    report.certificates.push_back(std::move(row));
  }
  std::stable_sort(report.certificates.begin(), report.certificates.end(),
                   [](const CheckCertificate& a, const CheckCertificate& b) {
                     if (a.severity != b.severity) return a.severity > b.severity;
                     // A certificate without notAfter failed to load: list it first.
                     return a.not_after.value_or(INT64_MIN) < b.not_after.value_or(INT64_MIN);
                   });
  for (const FileError* error : snapshot.file_errors) report.file_errors.push_back(*error);
  report.reload_pending = snapshot.reload_pending;
  for (const Finding& finding : snapshot.findings) {
    if (finding.condition == Condition::file_error ||
        finding.condition == Condition::reload_pending ||
        finding.condition == Condition::source_down) {
      continue;  // listed in sections of their own
    }
    report.findings.push_back({finding.condition, rules::severity_of(finding.condition),
                               finding.subject, finding.message, state::remedy_for(finding)});
  }
  std::stable_sort(
      report.findings.begin(), report.findings.end(),
      [](const CheckFinding& a, const CheckFinding& b) { return a.severity > b.severity; });
  report.tables = snapshot.tables;
  report.checks = snapshot.check_failures;
  std::stable_sort(report.checks.begin(), report.checks.end(),
                   [](const rules::CheckFailure& a, const rules::CheckFailure& b) {
                     return a.severity > b.severity;
                   });
  for (const rules::CheckFailure& failure : report.checks) {
    report.check_remedies.push_back(state::remedy_for(failure, snapshot));
  }
  report.problems = state::problems(snapshot);
  for (const rules::CaUsage& usage : snapshot.ca_usage) {
    report.ca_usage.push_back({usage.ca->id, usage.ca->facts->subject_cn,
                               usage.ca->facts->not_after, usage.issued, usage.removable});
  }
  bool source_failed = false;
  for (const state::SourceHealth& health : snapshot.health) {
    CheckSource source{health.source, health.up, {}, {}};
    if (!health.up) {
      source_failed = true;
      if (health.last_error) {
        source.error_reason = std::string(to_string(health.last_error->reason));
        source.error_message = health.last_error->message;
      }
    }
    report.sources.push_back(std::move(source));
  }
  switch (snapshot.worst_severity()) {
    case Severity::critical:
      report.status = CheckStatus::critical;
      break;
    case Severity::warning:
      report.status = CheckStatus::warning;
      break;
    default:
      report.status = CheckStatus::ok;
      break;
  }
  if (source_failed) report.status = CheckStatus::unknown;
  return report;
}

std::string render_check_table(const CheckReport& report) {
  std::string out = line_of(status_summary(report));
  if (!report.certificates.empty()) {
    std::vector<std::vector<std::string>> rows{
        {"CERTIFICATE", "TYPE", "NODE/PATH", "EXPIRES", "TIME LEFT", "ACTION", "SEVERITY"}};
    for (const CheckCertificate& cert : report.certificates) {
      std::string name = or_dash(cert.subject_cn);
      if (!cert.id.user.empty()) name += " (user " + cert.id.user + ")";
      rows.push_back({name, std::string(to_string(cert.id.cert_type)), where(cert.id),
                      cert.not_after ? utc_timestamp(*cert.not_after) : "-",
                      cert.not_after ? human_duration(static_cast<double>(*cert.not_after) -
                                                      report.generated_at)
                                     : "-",
                      cert.action, std::string(to_string(cert.severity))});
    }
    out += "\n" + render_columns(std::move(rows));
  }
  out += render_managed(report);
  if (!report.file_errors.empty()) {
    std::vector<std::vector<std::string>> rows{{"FILE ERROR", "REASON", "DETAIL"}};
    for (const FileError& error : report.file_errors) {
      rows.push_back({error.path, std::string(to_string(error.reason)), or_dash(error.detail)});
    }
    out += "\n" + render_columns(std::move(rows));
  }
  if (!report.reload_pending.empty()) {
    std::vector<std::vector<std::string>> rows{
        {"RELOAD PENDING", "NODE", "TYPE", "ON DISK EXPIRES", "LOADED EXPIRES"}};
    for (const rules::ReloadPending& p : report.reload_pending) {
      rows.push_back({p.path, p.node_id, std::string(to_string(p.cert_type)),
                      utc_timestamp(p.on_disk_not_after), utc_timestamp(p.loaded_not_after)});
    }
    out += "\n" + render_columns(std::move(rows));
  }
  for (const Table& table : report.tables) {
    std::vector<std::vector<std::string>> rows{{}};
    for (const std::string& column : table.columns) rows[0].push_back(upper(column));
    for (const auto& row : table.rows) {
      std::vector<std::string> cells;
      for (const Cell& cell : row) {
        std::string text =
            cell.time ? utc_timestamp(static_cast<std::int64_t>(*cell.time)) : or_dash(cell.text);
        if (!cell.note.empty()) text += " " + cell.note;
        cells.push_back(std::move(text));
      }
      rows.push_back(std::move(cells));
    }
    out += "\n" + line_of(upper(table.title)) + render_columns(std::move(rows));
  }
  if (!report.checks.empty()) {
    std::vector<std::vector<std::string>> rows{
        {"FAILING CHECK", "SEVERITY", "CERTIFICATE", "DETAIL"}};
    for (const rules::CheckFailure& failure : report.checks) {
      rows.push_back({failure.check, std::string(to_string(failure.severity)),
                      std::string(to_string(failure.id.cert_type)) + " " + where(failure.id),
                      or_dash(failure.detail)});
    }
    out += "\n" + render_columns(std::move(rows));
    out += render_chain_causes(report.checks);
  }
  if (!report.ca_usage.empty()) {
    std::vector<std::vector<std::string>> rows{{"CA", "BUNDLE", "EXPIRES", "ISSUED", "REMOVABLE"}};
    for (const CheckReport::CaRow& ca : report.ca_usage) {
      rows.push_back({or_dash(ca.subject_cn), where(ca.id), utc_timestamp(ca.not_after),
                      std::to_string(ca.issued), ca.removable ? "yes" : "no"});
    }
    out += "\n" + render_columns(std::move(rows));
  }
  if (!report.findings.empty()) {
    std::vector<std::vector<std::string>> rows{{"FINDING", "SEVERITY", "SUBJECT", "MESSAGE"}};
    for (const CheckFinding& finding : report.findings) {
      rows.push_back({std::string(to_string(finding.condition)),
                      std::string(to_string(finding.severity)), or_dash(finding.subject),
                      finding.message});
    }
    out += "\n" + render_columns(std::move(rows));
  }
  if (!report.problems.empty()) {
    out += "\nWHAT TO DO (most urgent first)\n";
    for (const state::Problem& problem : report.problems) {
      std::string head =
          std::string(to_string(problem.severity)) + "  " + problem.kind + "  " + problem.subject;
      if (problem.not_after) {
        head += "  (" +
                human_duration(static_cast<double>(*problem.not_after) - report.generated_at) +
                " left)";
      }
      out += line_of(head);
      if (!problem.detail.empty()) out += line_of("  detail: " + problem.detail);
      out += line_of("  why: " + problem.remedy.why);
      out += line_of("  fix: " + problem.remedy.fix);
      for (const std::string& note : problem.remedy.notes) out += line_of("  note: " + note);
      out += line_of("  runbook: " + problem.remedy.alert);
    }
  }
  std::vector<std::vector<std::string>> rows{{"SOURCE", "STATUS", "ERROR"}};
  for (const CheckSource& source : report.sources) {
    rows.push_back({source.source, source.up ? "up" : "failed",
                    source.up ? "-" : source.error_reason + ": " + source.error_message});
  }
  out += "\n" + render_columns(std::move(rows));
  return out;
}

namespace {

// JSON strings must be valid UTF-8 (nlohmann::json throws on dumping anything else), and a file
// name or a certificate subject is any bytes: every string and key of the document, in one pass.
void escape_invalid_utf8_in(nlohmann::json& value) {
  if (value.is_string()) {
    escape_invalid_utf8_in_place(value.get_ref<std::string&>());
  } else if (value.is_array()) {
    for (nlohmann::json& element : value) escape_invalid_utf8_in(element);
  } else if (value.is_object()) {
    // The escaping is reversible, so two distinct keys never become one.
    nlohmann::json escaped = nlohmann::json::object();
    for (auto member = value.begin(); member != value.end(); ++member) {
      escape_invalid_utf8_in(member.value());
      escaped[escape_invalid_utf8(member.key())] = std::move(member.value());
    }
    value = std::move(escaped);
  }
}

}  // namespace

std::string dump_json(nlohmann::json document) {
  escape_invalid_utf8_in(document);
  return document.dump(2) + "\n";
}

nlohmann::json check_report_json(const CheckReport& report) {
  using nlohmann::json;
  json out;
  out["status"] = std::string(to_string(report.status));
  out["exit_code"] = static_cast<int>(report.status);
  out["generated_at"] = report.generated_at;
  out["certificates"] = json::array();
  for (const CheckCertificate& cert : report.certificates) {
    json row{{"source", cert.id.source},
             {"cert_type", to_string(cert.id.cert_type)},
             {"node_id", cert.id.node_id},
             {"path", cert.id.path},
             {"index", cert.id.index},
             {"user", cert.id.user},
             {"subject_cn", cert.subject_cn},
             {"action", cert.action},
             {"severity", to_string(cert.severity)},
             {"not_after", nullptr},
             {"expires", nullptr},
             {"seconds_left", nullptr}};
    row["managed_by"] = cert.managed_by.empty() ? json(nullptr) : json(cert.managed_by);
    row["renewal_expected"] = cert.renewal_expected ? json(*cert.renewal_expected) : json(nullptr);
    if (!cert.remedy.fix.empty()) {
      row["why"] = cert.remedy.why;
      row["fix"] = cert.remedy.fix;
      if (!cert.remedy.notes.empty()) row["notes"] = cert.remedy.notes;
      row["runbook"] = cert.remedy.alert;
    }
    if (cert.not_after) {
      row["not_after"] = *cert.not_after;
      row["expires"] = utc_timestamp(*cert.not_after);
      row["seconds_left"] =
          std::llround(static_cast<double>(*cert.not_after) - report.generated_at);
    }
    out["certificates"].push_back(std::move(row));
  }
  out["file_errors"] = json::array();
  for (const FileError& error : report.file_errors) {
    out["file_errors"].push_back({{"path", error.path},
                                  {"reason", to_string(error.reason)},
                                  {"detail", error.detail},
                                  {"fix", state::file_error_fix(error.reason)}});
  }
  out["reload_pending"] = json::array();
  for (const rules::ReloadPending& p : report.reload_pending) {
    out["reload_pending"].push_back({{"node_id", p.node_id},
                                     {"cert_type", to_string(p.cert_type)},
                                     {"path", p.path},
                                     {"on_disk_not_after", p.on_disk_not_after},
                                     {"loaded_not_after", p.loaded_not_after}});
  }
  out["checks"] = json::array();
  for (std::size_t i = 0; i < report.checks.size(); ++i) {
    const rules::CheckFailure& failure = report.checks[i];
    const state::Remedy& remedy = report.check_remedies[i];
    out["checks"].push_back({{"check", failure.check},
                             {"why", remedy.why},
                             {"fix", remedy.fix},
                             {"notes", remedy.notes},
                             {"runbook", remedy.alert},
                             {"severity", to_string(failure.severity)},
                             {"source", failure.id.source},
                             {"cert_type", to_string(failure.id.cert_type)},
                             {"node_id", failure.id.node_id},
                             {"path", failure.id.path},
                             {"index", failure.id.index},
                             {"user", failure.id.user},
                             {"detail", failure.detail}});
  }
  out["ca_usage"] = json::array();
  for (const CheckReport::CaRow& ca : report.ca_usage) {
    out["ca_usage"].push_back({{"path", ca.id.path},
                               {"index", ca.id.index},
                               {"subject_cn", ca.subject_cn},
                               {"not_after", ca.not_after},
                               {"issued", ca.issued},
                               {"removable", ca.removable}});
  }
  out["findings"] = json::array();
  for (const CheckFinding& finding : report.findings) {
    out["findings"].push_back({{"condition", to_string(finding.condition)},
                               {"severity", to_string(finding.severity)},
                               {"subject", finding.subject},
                               {"message", finding.message},
                               {"why", finding.remedy.why},
                               {"fix", finding.remedy.fix},
                               {"runbook", finding.remedy.alert}});
  }
  out["sources"] = json::array();
  for (const CheckSource& source : report.sources) {
    out["sources"].push_back({{"source", source.source},
                              {"up", source.up},
                              {"error_reason", source.error_reason},
                              {"error_message", source.error_message}});
  }
  return out;
}

std::string render_check_json(const CheckReport& report) {
  return dump_json(check_report_json(report));
}

}  // namespace certwatch::alerting
