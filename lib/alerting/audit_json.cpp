// The audit as JSON (schema crdb-certwatch/audit/v1), built from the model directly.
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "alerting/audit_layout.hpp"
#include "alerting/audit_report.hpp"
#include "alerting/report_text.hpp"
#include "core/text.hpp"
#include "rules/chain_causes.hpp"
#include "sources/registry.hpp"

namespace certwatch::alerting {
namespace {

using audit_layout::day;

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
  for (const std::string_view section : sources::Registry::builtin().useful_sections(tier.tier)) {
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
