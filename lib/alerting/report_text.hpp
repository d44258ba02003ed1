// Text helpers the `check` and `audit` reports share (internal to the alerting module).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "alerting/check_report.hpp"
#include "core/types.hpp"

namespace certwatch::alerting {

// "2026-12-01T22:07:30Z".
std::string utc_timestamp(std::int64_t unix_seconds);

// Where a certificate was seen: "path", "path #1" for the second of a bundle, "node 3".
std::string where(const CertIdentity& id);

// Left-aligned columns, two spaces apart, widths from the content, every cell escaped for a
// terminal (escape_for_display): the tables of `check` and `preflight`.
std::string render_columns(std::vector<std::vector<std::string>> rows);

// The document as indented JSON text and a newline, every string and key made valid UTF-8 first
// (a file name or a certificate subject is any bytes; nlohmann::json throws on invalid UTF-8).
std::string dump_json(nlohmann::json document);

// `check --output=json` as a document (before dump_json), whose sections the audit's JSON shares.
nlohmann::json check_report_json(const CheckReport& report);

}  // namespace certwatch::alerting
