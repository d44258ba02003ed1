// The audit report rendered. JSON is built from the model directly; Markdown and HTML render one
// layout (sections of paragraphs and tables, built once by audit_document) so the two can never
// show different content.
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "alerting/audit_report.hpp"
#include "alerting/report_text.hpp"
#include "core/text.hpp"
#include "rules/chain_causes.hpp"

namespace certwatch::alerting {
namespace {

std::string day(std::int64_t unix_seconds) { return utc_time(unix_seconds, "%Y-%m-%d"); }
std::string month(std::int64_t unix_seconds) { return utc_time(unix_seconds, "%B %Y"); }

std::string or_dash(std::string_view text) { return text.empty() ? "-" : std::string(text); }

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

std::string severity_text(Severity severity) {
  return severity == Severity::none ? "ok" : std::string(to_string(severity));
}

std::string cluster_mode(const AuditReport& report) {
  if (!report.cluster_secure) return "not observed (no cluster source reported)";
  return *report.cluster_secure
             ? "secure: every node reports certificate metrics (TLS between nodes and clients)"
             : "INSECURE: no node reports certificate metrics; traffic is not encrypted";
}

// ---- the shared layout ----

struct Row {
  std::vector<std::string> cells;
  Severity severity = Severity::none;
  bool tone = false;  // colour the row by severity
};

struct Block {
  enum class Kind { heading, paragraph, facts, table };
  Kind kind = Kind::paragraph;
  std::string text;                    // heading, paragraph
  Severity severity = Severity::none;  // paragraph: a callout when not none
  std::vector<std::string> columns;    // table
  std::vector<bool> mono;              // table: columns in a fixed-width font
  std::vector<bool> nowrap;            // table: columns never broken (dates, sizes)
  std::vector<Row> rows;               // facts: two cells per row
};

struct Section {
  std::string id;
  std::string title;
  std::vector<Block> blocks;
};

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

// ---- Markdown ----

std::string markdown_row(const std::vector<std::string>& cells) {
  std::string line = "|";
  for (const std::string& cell : cells) line += " " + escape_markdown(cell) + " |";
  return line + "\n";
}

std::string markdown_table(const std::vector<std::string>& columns, const std::vector<Row>& rows) {
  std::string out = markdown_row(columns) + "|";
  for (std::size_t i = 0; i < columns.size(); ++i) out += "---|";
  out += "\n";
  for (const Row& row : rows) out += markdown_row(row.cells);
  return out + "\n";
}

// ---- HTML ----

constexpr std::string_view kAuditStyle = R"(
:root{--crit:#b3261e;--crit-bg:#fcebea;--warn:#8a5300;--warn-bg:#fff4e0;--info:#1c5fb8;
--info-bg:#e8f0fe;--ok:#1b7f3b;--muted:#5f6368;--line:#d9dce1;--ink:#1f2328}
*{box-sizing:border-box}
body{font:13px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;
color:var(--ink);margin:0;background:#fff}
header{border-bottom:3px solid #1f2430;padding:22px 32px 14px}
header h1{font-size:22px;margin:0 0 2px}header p{margin:0;color:var(--muted)}
main{padding:8px 32px 32px;max-width:1400px}
section{margin-top:22px}
h2{font-size:16px;margin:0 0 10px;padding-bottom:4px;border-bottom:1px solid var(--line)}
h3{font-size:13.5px;margin:16px 0 6px}
p{margin:6px 0 10px}
.callout{border-left:4px solid var(--info);background:var(--info-bg);padding:8px 12px;border-radius:3px}
.callout.critical{border-color:var(--crit);background:var(--crit-bg)}
.callout.warning{border-color:var(--warn);background:var(--warn-bg)}
table{border-collapse:collapse;width:100%;margin:4px 0 12px}
th,td{padding:5px 8px;text-align:left;vertical-align:top;border-bottom:1px solid var(--line)}
th{background:#f0f2f5;font-size:12px;font-weight:600;color:#3c4043}
table.facts{width:auto;min-width:60%}table.facts th{width:15em;background:#f7f8fa}
td.mono,.mono{font-family:ui-monospace,"SFMono-Regular",Menlo,Consolas,monospace;font-size:11.5px;
word-break:break-all}
td.nowrap{white-space:nowrap}
tr.critical td:first-child{box-shadow:inset 4px 0 var(--crit)}
tr.warning td:first-child{box-shadow:inset 4px 0 var(--warn)}
tr.info td:first-child{box-shadow:inset 4px 0 var(--info)}
tr.ok td:first-child{box-shadow:inset 4px 0 var(--ok)}
footer{color:var(--muted);font-size:11.5px;padding:0 32px 24px}
@page{size:A4 portrait;margin:10mm}
@media print{
body{font-size:9px;line-height:1.3}header,main,footer{padding-left:0;padding-right:0}
header{padding-top:0;padding-bottom:4px}main{padding-top:0;padding-bottom:0}
section{margin-top:8px}h2{margin:6px 0 3px}h3{margin:4px 0 2px}table{margin:2px 0 6px}
h2,h3{break-after:avoid}th,td{padding:2px 5px}td.mono,.mono{font-size:8px}
thead{display:table-header-group}tr{break-inside:avoid}
table{break-inside:auto}
section#calendar{break-inside:avoid}
.callout,th,tr td:first-child{-webkit-print-color-adjust:exact;print-color-adjust:exact}
}
)";

std::string html_cell(std::string_view tag, const std::string& text, bool mono = false,
                      bool nowrap = false) {
  const std::string classes = std::string(mono ? " mono" : "") + (nowrap ? " nowrap" : "");
  return "<" + std::string(tag) +
         (classes.empty() ? std::string(">") : " class=\"" + classes.substr(1) + "\">") +
         escape_html(text) + "</" + std::string(tag) + ">";
}

bool flag(const std::vector<bool>& flags, std::size_t column) {
  return column < flags.size() && flags[column];
}

std::string html_block(const Block& block) {
  switch (block.kind) {
    case Block::Kind::heading:
      return "<h3>" + escape_html(block.text) + "</h3>\n";
    case Block::Kind::paragraph:
      if (block.severity == Severity::none) return "<p>" + escape_html(block.text) + "</p>\n";
      return std::string("<p class=\"callout ") + severity_text(block.severity) + "\">" +
             escape_html(block.text) + "</p>\n";
    case Block::Kind::facts: {
      std::string out = "<table class=\"facts\">\n";
      for (const Row& row : block.rows) {
        out += "<tr>" + html_cell("th", row.cells.at(0)) +
               html_cell("td", row.cells.size() > 1 ? row.cells[1] : "") + "</tr>\n";
      }
      return out + "</table>\n";
    }
    case Block::Kind::table: {
      std::string out = "<table>\n<thead><tr>";
      for (const std::string& column : block.columns) out += html_cell("th", column);
      out += "</tr></thead>\n<tbody>\n";
      for (const Row& row : block.rows) {
        out +=
            row.tone ? std::string("<tr class=\"") + severity_text(row.severity) + "\">" : "<tr>";
        for (std::size_t i = 0; i < row.cells.size(); ++i) {
          out += html_cell("td", row.cells[i], flag(block.mono, i), flag(block.nowrap, i));
        }
        out += "</tr>\n";
      }
      return out + "</tbody>\n</table>\n";
    }
  }
  return {};
}

// ---- JSON ----

nlohmann::json identity_json(const CertIdentity& id) {
  return {{"source", id.source},   {"cert_type", to_string(id.cert_type)},
          {"node_id", id.node_id}, {"path", id.path},
          {"index", id.index},     {"user", id.user}};
}

nlohmann::json optional_time(const std::optional<std::int64_t>& time) {
  return time ? nlohmann::json(*time) : nlohmann::json(nullptr);
}

nlohmann::json tables_json(const std::vector<Table>& tables) {
  nlohmann::json out = nlohmann::json::array();
  for (const Table& t : tables) {
    nlohmann::json rows = nlohmann::json::array();
    for (const auto& cells : t.rows) {
      nlohmann::json row = nlohmann::json::array();
      for (const Cell& cell : cells) {
        row.push_back(cell.time ? nlohmann::json(*cell.time) : nlohmann::json(cell.text));
      }
      rows.push_back(std::move(row));
    }
    out.push_back({{"title", t.title}, {"columns", t.columns}, {"rows", std::move(rows)}});
  }
  return out;
}

nlohmann::json certificate_json(const AuditCertificate& cert) {
  nlohmann::json out = identity_json(cert.id);
  out.update({{"has_facts", cert.has_facts},
              {"subject_cn", cert.subject_cn},
              {"issuer_cn", cert.issuer_cn},
              {"serial_hex", cert.serial_hex},
              {"fingerprint_sha256", cert.fingerprint_sha256},
              {"sans", cert.sans},
              {"is_ca", cert.is_ca},
              {"self_signed", cert.self_signed},
              {"key_type", cert.key_type},
              {"key_bits", cert.key_bits},
              {"signature_hash", cert.signature_hash},
              {"not_before", optional_time(cert.not_before)},
              {"not_after", optional_time(cert.not_after)},
              {"action", cert.action},
              {"severity", to_string(cert.severity)}});
  return out;
}

}  // namespace

std::string render_audit_markdown(const AuditReport& report) {
  std::string out = "# Encryption posture audit: crdb-certwatch\n\n";
  for (const Section& section : audit_document(report)) {
    out += "## " + escape_markdown(section.title) + "\n\n";
    for (const Block& block : section.blocks) {
      switch (block.kind) {
        case Block::Kind::heading:
          out += "### " + escape_markdown(block.text) + "\n\n";
          break;
        case Block::Kind::paragraph:
          out +=
              (block.severity == Severity::none ? "" : "> ") + escape_markdown(block.text) + "\n\n";
          break;
        case Block::Kind::facts:
          out += markdown_table({"Item", "Value"}, block.rows);
          break;
        case Block::Kind::table:
          out += markdown_table(block.columns, block.rows);
          break;
      }
    }
  }
  return out;
}

std::string render_audit_html(const AuditReport& report) {
  const std::string generated =
      utc_time(static_cast<std::int64_t>(report.generated_at), "%Y-%m-%d %H:%M UTC");
  std::string out =
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
      // The report is a file passed around by mail and tickets: it needs its inline style and
      // nothing else, so nothing a hostile name might smuggle in could run, load or submit.
      "<meta http-equiv=\"Content-Security-Policy\" content=\"" +
      std::string(kAuditContentSecurityPolicy) +
      "\">\n"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>"
      "Encryption posture audit: " +
      escape_html(report.host) + " " + generated + "</title>\n<style>" + std::string(kAuditStyle) +
      "</style>\n</head>\n<body>\n<header><h1>Encryption posture "
      "audit</h1><p>" +
      escape_html(std::string(report.tier.title)) + " &middot; host " + escape_html(report.host) +
      " &middot; " + escape_html(generated) + "</p></header>\n<main>\n";
  for (const Section& section : audit_document(report)) {
    out += "<section id=\"" + escape_html(section.id) + "\">\n<h2>" + escape_html(section.title) +
           "</h2>\n";
    for (const Block& block : section.blocks) out += html_block(block);
    out += "</section>\n";
  }
  out += "</main>\n<footer>Generated by crdb-certwatch " + escape_html(report.build.version) +
         " from configuration SHA-256 " + escape_html(or_dash(report.config_sha256)) +
         ".</footer>\n</body>\n</html>\n";
  return out;
}

std::string render_audit_json(const AuditReport& report) {
  using nlohmann::json;
  json out;
  out["schema"] = "crdb-certwatch/audit/v1";
  out["status"] = std::string(to_string(report.check.status));
  out["exit_code"] = static_cast<int>(report.check.status);
  out["generated_at"] = report.generated_at;
  out["host"] = report.host;
  out["tool"] = {{"version", report.build.version},
                 {"revision", report.build.revision},
                 {"openssl_version", report.build.openssl_version}};
  out["config"] = {{"file", report.config_file}, {"sha256", report.config_sha256}};
  const TierFacts& tier = report.tier;
  out["tier"] = {{"name", std::string(tier.name)},
                 {"title", std::string(tier.title)},
                 {"node_certificates_owner", std::string(tier.node_certificates_owner)},
                 {"client_certificates_owner", std::string(tier.client_certificates_owner)},
                 {"data_at_rest_owner", std::string(tier.data_at_rest_owner)},
                 {"client_ca_owner", std::string(tier.client_ca_owner)},
                 {"useful_sources", json::array()}};
  for (const std::string_view section : tier.useful_sources) {
    out["tier"]["useful_sources"].push_back(std::string(section));
  }
  json sources = json::array();
  for (const AuditSource& source : report.sources) {
    json certificates = json::array();
    for (const AuditCertificate& cert : source.certificates) {
      certificates.push_back(certificate_json(cert));
    }
    sources.push_back({{"name", source.name},
                       {"up", source.up},
                       {"error_reason", source.error_reason},
                       {"error_message", source.error_message},
                       {"certificates", std::move(certificates)},
                       {"tables", tables_json(source.tables)}});
  }
  out["in_transit"] = {
      {"cluster_secure", report.cluster_secure ? json(*report.cluster_secure) : json(nullptr)},
      {"certificate_count", report.certificate_count},
      {"sources", std::move(sources)}};
  out["checks"] = json::array();
  for (const AuditCheck& check : report.checks) {
    out["checks"].push_back({{"name", check.name},
                             {"summary", check.summary},
                             {"severity", to_string(check.severity)},
                             {"ran", check.ran},
                             {"failures", check.failures}});
  }
  // The same shapes as `check --output=json`.
  const json check = check_report_json(report.check);
  out["check_failures"] = check["checks"];
  out["findings"] = check["findings"];
  out["reload_pending"] = check["reload_pending"];
  out["ca_rotation"] = check["ca_usage"];
  out["file_errors"] = check["file_errors"];
  out["data_at_rest"] = {{"state", to_string(report.data_at_rest.state)},
                         {"owner", report.data_at_rest.owner},
                         {"statement", report.data_at_rest.statement},
                         {"tables", tables_json(report.data_at_rest.tables)}};
  out["cloud_client_ca"] = {{"applies", report.cloud_client_ca.applies},
                            {"owner", report.cloud_client_ca.owner},
                            {"status", report.cloud_client_ca.status},
                            {"statement", report.cloud_client_ca.statement}};
  json entries = json::array();
  for (const CalendarEntry& entry : report.calendar) {
    json row = identity_json(entry.id);
    row.update({{"due", entry.due},
                {"due_date", day(entry.due)},
                {"month", utc_time(entry.due, "%Y-%m")},
                {"now", entry.now},
                {"subject_cn", entry.subject_cn},
                {"action", entry.action},
                {"severity", to_string(entry.severity)},
                {"not_after", entry.not_after}});
    entries.push_back(std::move(row));
  }
  out["calendar"] = {{"from", static_cast<std::int64_t>(report.generated_at)},
                     {"until", report.calendar_until},
                     {"entries", std::move(entries)}};
  json history = json::array();
  for (const state::RotationEvent& event : report.rotation_history.events) {
    json row = identity_json(event.id);
    row.update({{"time", event.time},
                {"at", utc_timestamp(static_cast<std::int64_t>(event.time))},
                {"event", to_string(event.kind)},
                {"subject_cn", event.subject_cn},
                {"old_fingerprint",
                 event.old_fingerprint.empty() ? json(nullptr) : json(event.old_fingerprint)},
                {"new_fingerprint",
                 event.new_fingerprint.empty() ? json(nullptr) : json(event.new_fingerprint)},
                {"old_not_after", optional_time(event.old_not_after)},
                {"not_after", optional_time(event.not_after)}});
    history.push_back(std::move(row));
  }
  out["rotation_history"] = {
      {"journal", report.rotation_history.journal.empty() ? json(nullptr)
                                                          : json(report.rotation_history.journal)},
      {"note", report.rotation_history.note},
      {"bad_lines", report.rotation_history.bad_lines},
      {"events", std::move(history)}};
  out["unchecked"] = json::array();
  for (const Unchecked& item : report.unchecked) {
    out["unchecked"].push_back({{"what", item.what}, {"why", item.why}});
  }
  return dump_json(std::move(out));
}

}  // namespace certwatch::alerting
