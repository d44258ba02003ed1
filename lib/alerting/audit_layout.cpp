// The audit's shared layout (audit_layout.hpp): what each section says, built once.
#include "alerting/audit_layout.hpp"

#include <string>
#include <vector>

#include "alerting/audit_report.hpp"
#include "alerting/report_text.hpp"
#include "core/text.hpp"
#include "rules/chain_causes.hpp"

namespace certwatch::alerting::audit_layout {

std::string day(std::int64_t unix_seconds) { return utc_time(unix_seconds, "%Y-%m-%d"); }

std::string or_dash(std::string_view text) { return text.empty() ? "-" : std::string(text); }

std::string severity_text(Severity severity) {
  return severity == Severity::none ? "ok" : std::string(to_string(severity));
}

namespace {

std::string month(std::int64_t unix_seconds) { return utc_time(unix_seconds, "%B %Y"); }

std::string key_text(const AuditCertificate& cert) {
  if (cert.key_type.empty()) return "-";
  return cert.key_bits > 0 ? cert.key_type + " " + std::to_string(cert.key_bits) : cert.key_type;
}

std::string signature_text(const AuditCertificate& cert) {
  if (!cert.has_facts) return "-";
  return cert.signature_hash.empty() ? "none in hash (" + cert.key_type + ")" : cert.signature_hash;
}

std::string subject_text(const AuditCertificate& cert) {
  std::string name = or_dash(cert.subject_cn);
  if (!cert.id.user.empty()) name += " (user " + cert.id.user + ")";
  return name;
}

std::string cluster_mode(const AuditReport& report) {
  if (!report.cluster_secure) return "not observed (no cluster source reported)";
  return *report.cluster_secure
             ? "secure: every node reports certificate metrics (TLS between nodes and clients)"
             : "INSECURE: no node reports certificate metrics; traffic is not encrypted";
}

Block paragraph(std::string text, Severity severity = Severity::none) {
  Block b;
  b.text = std::move(text);
  b.severity = severity;
  return b;
}

Block heading(std::string text) {
  Block b;
  b.kind = Block::Kind::heading;
  b.text = std::move(text);
  return b;
}

Block table(std::vector<std::string> columns, std::vector<bool> mono) {
  Block b;
  b.kind = Block::Kind::table;
  b.columns = std::move(columns);
  b.mono = std::move(mono);
  b.mono.resize(b.columns.size(), false);
  return b;
}

Block facts(std::vector<Row> rows) {
  Block b;
  b.kind = Block::Kind::facts;
  b.rows = std::move(rows);
  return b;
}

Block generic_table(const Table& source) {
  Block b = table(source.columns, {});
  for (const auto& cells : source.rows) {
    Row row;
    for (std::size_t i = 0; i < cells.size(); ++i) {
      const Cell& cell = cells[i];
      std::string text =
          cell.time ? utc_timestamp(static_cast<std::int64_t>(*cell.time)) : or_dash(cell.text);
      if (!cell.note.empty()) text += " " + cell.note;
      if (i < b.mono.size() && cell.mono) b.mono[i] = true;
      row.cells.push_back(std::move(text));
    }
    b.rows.push_back(std::move(row));
  }
  return b;
}

std::string status_line(const AuditReport& report) {
  std::size_t failing_checks = report.check.checks.size();
  return std::string(to_string(report.check.status)) + ": " +
         std::to_string(report.certificate_count) + " certificates, " +
         std::to_string(failing_checks) + " failing checks, " +
         std::to_string(report.unchecked.size()) + " items not checked";
}

Section run_section(const AuditReport& report) {
  Section s{"run", "Report", {}};
  s.blocks.push_back(paragraph(status_line(report),
                               report.check.status == CheckStatus::ok        ? Severity::none
                               : report.check.status == CheckStatus::warning ? Severity::warning
                                                                             : Severity::critical));
  s.blocks.push_back(facts({
      {{"Generated",
        utc_time(static_cast<std::int64_t>(report.generated_at), "%Y-%m-%d %H:%M:%S UTC")}},
      {{"Host", or_dash(report.host)}},
      {{"Tool", "crdb-certwatch " + report.build.version + " (revision " + report.build.revision +
                    "), OpenSSL " + report.build.openssl_version}},
      {{"Configuration", report.config_file}},
      {{"Configuration SHA-256", or_dash(report.config_sha256)}},
      {{"Verdict (exit code)", std::string(to_string(report.check.status)) + " (" +
                                   std::to_string(static_cast<int>(report.check.status)) + ")"}},
  }));
  return s;
}

Section tier_section(const AuditReport& report) {
  Section s{"tier", "Deployment tier and ownership", {}};
  s.blocks.push_back(facts({
      {{"Tier", std::string(report.tier.title) + " (" + std::string(report.tier.name) + ")"}},
      {{"Node and UI certificates", std::string(report.tier.node_certificates_owner)}},
      {{"Client certificates", std::string(report.tier.client_certificates_owner)}},
      {{"Data-at-rest key", std::string(report.tier.data_at_rest_owner)}},
      {{"Client CA", std::string(report.tier.client_ca_owner)}},
  }));
  return s;
}

Section transit_section(const AuditReport& report) {
  Section s{"transit", "Encryption in transit", {}};
  s.blocks.push_back(paragraph(
      "Cluster mode: " + cluster_mode(report),
      report.cluster_secure && !*report.cluster_secure ? Severity::critical : Severity::none));
  for (const AuditSource& source : report.sources) {
    s.blocks.push_back(heading("Source " + source.name + ": " +
                               std::to_string(source.certificates.size()) + " certificates" +
                               (source.up ? "" : " (poll failed: " + source.error_reason + ")")));
    if (!source.certificates.empty()) {
      Block t = table({"Certificate", "Type", "Where", "Issuer", "Valid from", "Valid until", "Key",
                       "Signature", "SHA-256 fingerprint", "State"},
                      {false, false, true, false, false, false, false, false, true, false});
      t.nowrap = {false, false, false, false, true, true, true};
      for (const AuditCertificate& cert : source.certificates) {
        t.rows.push_back({{subject_text(cert) + (cert.is_ca ? " [CA]" : ""),
                           std::string(to_string(cert.id.cert_type)), where(cert.id),
                           or_dash(cert.issuer_cn), cert.not_before ? day(*cert.not_before) : "-",
                           cert.not_after ? day(*cert.not_after) : "not loaded", key_text(cert),
                           signature_text(cert), or_dash(cert.fingerprint_sha256),
                           cert.severity == Severity::none
                               ? cert.action
                               : cert.action + " (" + severity_text(cert.severity) + ")"},
                          cert.severity,
                          true});
      }
      s.blocks.push_back(std::move(t));
    }
    for (const Table& extra : source.tables) {
      s.blocks.push_back(heading(extra.title));
      s.blocks.push_back(generic_table(extra));
    }
  }
  return s;
}

Section checks_section(const AuditReport& report) {
  Section s{"checks", "Posture checks", {}};
  Block summary = table({"Check", "What it verifies", "Severity", "Result"}, {true});
  for (const AuditCheck& check : report.checks) {
    std::string result = !check.ran            ? "not run"
                         : check.failures == 0 ? "passed"
                                               : std::to_string(check.failures) + " failed";
    summary.rows.push_back({{check.name, check.summary, severity_text(check.severity), result},
                            check.failures > 0 ? check.severity : Severity::none,
                            check.failures > 0});
  }
  s.blocks.push_back(std::move(summary));
  if (!report.check.checks.empty()) {
    s.blocks.push_back(heading("Failures"));
    Block t = table({"Check", "Severity", "Certificate", "Detail"}, {true, false, true});
    t.nowrap = {true};
    for (const rules::CheckFailure& f : report.check.checks) {
      t.rows.push_back(
          {{f.check, severity_text(f.severity),
            std::string(to_string(f.id.cert_type)) + " " + where(f.id), or_dash(f.detail)},
           f.severity,
           true});
    }
    s.blocks.push_back(std::move(t));
  }
  if (const auto causes = rules::chain_causes_in(report.check.checks); !causes.empty()) {
    s.blocks.push_back(heading("Why the chains fail, and the fix"));
    Block t = table({"Cause", "Why", "Fix"}, {true});
    for (const rules::ChainCauseInfo* cause : causes) {
      t.rows.push_back(
          {{std::string(cause->detail), std::string(cause->why), std::string(cause->fix)},
           Severity::none,
           false});
    }
    s.blocks.push_back(std::move(t));
  }
  if (!report.check.findings.empty() || !report.check.reload_pending.empty()) {
    s.blocks.push_back(heading("Findings"));
    Block t = table({"Finding", "Severity", "Subject", "Message"}, {true, false, true});
    for (const CheckFinding& f : report.check.findings) {
      t.rows.push_back({{std::string(to_string(f.condition)), severity_text(f.severity),
                         or_dash(f.subject), f.message},
                        f.severity,
                        true});
    }
    for (const rules::ReloadPending& p : report.check.reload_pending) {
      t.rows.push_back({{"reload_pending", "warning", p.path,
                         "node " + p.node_id + " still serves the certificate that expires " +
                             day(p.loaded_not_after) + "; the file on disk expires " +
                             day(p.on_disk_not_after) + ": send SIGHUP to cockroach"},
                        Severity::warning,
                        true});
    }
    s.blocks.push_back(std::move(t));
  }
  return s;
}

Section rotation_section(const AuditReport& report) {
  Section s{"ca-rotation", "CA rotation state", {}};
  if (report.check.ca_usage.empty()) {
    s.blocks.push_back(paragraph("No CA bundle was read."));
    return s;
  }
  std::size_t removable = 0;
  for (const auto& ca : report.check.ca_usage) removable += ca.removable ? 1 : 0;
  s.blocks.push_back(paragraph(
      removable == 0 ? "Every CA in the bundles read still verifies a certificate, or is the only "
                       "CA of its bundle."
                     : std::to_string(removable) +
                           " old CA certificate(s) still in a bundle verify nothing any more: the "
                           "rotation can finish by removing them.",
      removable == 0 ? Severity::none : Severity::info));
  Block t = table({"CA", "Bundle", "Expires", "Certificates it verifies", "Can leave the bundle"},
                  {false, true});
  for (const CheckReport::CaRow& ca : report.check.ca_usage) {
    t.rows.push_back({{or_dash(ca.subject_cn), where(ca.id), day(ca.not_after),
                       std::to_string(ca.issued), ca.removable ? "yes" : "no"},
                      ca.removable ? Severity::info : Severity::none,
                      ca.removable});
  }
  s.blocks.push_back(std::move(t));
  return s;
}

Section rest_section(const AuditReport& report) {
  Section s{"at-rest", "Data at rest", {}};
  s.blocks.push_back(facts(
      {{{"Key owner", report.data_at_rest.owner}}, {{"Observed", report.data_at_rest.statement}}}));
  for (const Table& extra : report.data_at_rest.tables) {
    s.blocks.push_back(heading(extra.title));
    s.blocks.push_back(generic_table(extra));
  }
  return s;
}

Section calendar_section(const AuditReport& report) {
  Section s{"calendar", "Rotation calendar: the next 12 months", {}};
  s.blocks.push_back(
      paragraph("From " + day(static_cast<std::int64_t>(report.generated_at)) + " to " +
                day(report.calendar_until) +
                ": every date at which a certificate reaches a rotation threshold or expires."));
  if (report.calendar.empty()) {
    s.blocks.push_back(paragraph("Nothing needs action within the next 12 months."));
    return s;
  }
  std::string current_month;
  Block* open = nullptr;
  for (const CalendarEntry& entry : report.calendar) {
    const std::string entry_month = entry.now ? "Now" : month(entry.due);
    if (entry_month != current_month || open == nullptr) {
      current_month = entry_month;
      s.blocks.push_back(heading(entry_month));
      s.blocks.push_back(
          table({"By", "Action", "Severity", "Certificate", "Type", "Where", "Expires"},
                {false, false, false, false, false, true}));
      open = &s.blocks.back();
      open->nowrap = {true, false, false, false, false, false, true};
    }
    open->rows.push_back(
        {{entry.now ? "now" : day(entry.due), entry.action, severity_text(entry.severity),
          or_dash(entry.subject_cn), std::string(to_string(entry.id.cert_type)), where(entry.id),
          day(entry.not_after)},
         entry.severity,
         true});
  }
  return s;
}

Section rotation_history_section(const AuditReport& report) {
  const RotationHistory& history = report.rotation_history;
  Section s{"rotation_history", "Rotation history: the last 12 months", {}};
  if (history.journal.empty() ||
      (history.events.empty() && !history.note.empty() && history.bad_lines == 0)) {
    s.blocks.push_back(paragraph("Not available: " + history.note + ".", Severity::warning));
    return s;
  }
  s.blocks.push_back(paragraph(
      "Every certificate the daemon saw replaced (a new certificate at the same file, or node "
      "and type), and every CA added to or removed from a bundle, from its journal " +
      history.journal + "."));
  if (!history.note.empty()) s.blocks.push_back(paragraph(history.note + ".", Severity::warning));
  if (history.events.empty()) {
    s.blocks.push_back(paragraph("No rotation was recorded in the last 12 months."));
    return s;
  }
  Block t = table({"When", "Event", "Certificate", "Type", "Where", "Old", "New", "Expires"},
                  {false, false, false, false, true, true, true});
  t.nowrap = {true, true, false, false, false, false, false, true};
  const auto short_fingerprint = [](const std::string& fingerprint) {
    return fingerprint.empty() ? std::string("-") : fingerprint.substr(0, 16);
  };
  for (const state::RotationEvent& event : history.events) {
    t.rows.push_back(
        {{utc_timestamp(static_cast<std::int64_t>(event.time)), std::string(to_string(event.kind)),
          or_dash(event.subject_cn), std::string(to_string(event.id.cert_type)), where(event.id),
          short_fingerprint(event.old_fingerprint), short_fingerprint(event.new_fingerprint),
          event.not_after ? day(*event.not_after) : "-"}});
  }
  s.blocks.push_back(std::move(t));
  return s;
}

Section unchecked_section(const AuditReport& report) {
  Section s{"unchecked", "What could not be checked", {}};
  if (report.unchecked.empty()) {
    s.blocks.push_back(paragraph("Everything the tier calls for was observed."));
    return s;
  }
  Block t = table({"What", "Why"}, {true});
  for (const Unchecked& item : report.unchecked) t.rows.push_back({{item.what, item.why}});
  s.blocks.push_back(std::move(t));
  return s;
}

// CockroachDB Cloud: the client CA uploaded for certificate authentication (Advanced, BYOC).
Section cloud_section(const AuditReport& report) {
  Section s{"cloud", "CockroachDB Cloud: client CA", {}};
  const CloudClientCa& ca = report.cloud_client_ca;
  const bool trouble = ca.status == "FAILED" || ca.status == "PENDING";
  s.blocks.push_back(facts({{{"Client CA owner", ca.owner}},
                            {{"Status", ca.status.empty() ? "-" : ca.status}},
                            {{"Observed", ca.statement}}}));
  if (trouble)
    s.blocks.push_back(paragraph("The last upload is " + ca.status + ".", Severity::warning));
  return s;
}

}  // namespace

std::vector<Section> audit_document(const AuditReport& report) {
  std::vector<Section> out{run_section(report),      tier_section(report),
                           transit_section(report),  checks_section(report),
                           rotation_section(report), rest_section(report)};
  if (report.cloud_client_ca.applies) out.push_back(cloud_section(report));
  for (Section section :
       {calendar_section(report), rotation_history_section(report), unchecked_section(report)}) {
    out.push_back(std::move(section));
  }
  return out;
}

}  // namespace certwatch::alerting::audit_layout
