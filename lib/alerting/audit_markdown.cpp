// The audit as Markdown, from the shared layout (audit_layout.hpp).
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
using audit_layout::Row;
using audit_layout::Section;

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

}  // namespace certwatch::alerting
