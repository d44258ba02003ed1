// The layout the audit's Markdown and HTML renderers share: sections of paragraphs and tables,
// built once by audit_document, so the two can never show different content. Internal to the
// alerting library (audit_*.cpp).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "alerting/audit_report.hpp"

namespace certwatch::alerting::audit_layout {

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

std::vector<Section> audit_document(const AuditReport& report);

std::string day(std::int64_t unix_seconds);
std::string or_dash(std::string_view text);
std::string severity_text(Severity severity);

}  // namespace certwatch::alerting::audit_layout
