// The audit as one self-contained HTML file (inline style, a CSP that allows nothing else), from
// the shared layout (audit_layout.hpp); its print layout fits A4 portrait.
#include <string>
#include <vector>

#include "alerting/audit_layout.hpp"
#include "alerting/audit_report.hpp"
#include "alerting/report_text.hpp"
#include "core/text.hpp"

namespace certwatch::alerting {
namespace {

using audit_layout::audit_document;
using audit_layout::Block;
using audit_layout::or_dash;
using audit_layout::Row;
using audit_layout::Section;
using audit_layout::severity_text;

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

}  // namespace

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

}  // namespace certwatch::alerting
