#include "core/types.hpp"

#include <array>
#include <utility>

namespace certwatch {
namespace {

constexpr std::array<std::pair<CertType, std::string_view>, 11> kCertTypeNames{{
    {CertType::ca, "ca"},
    {CertType::client_ca, "client_ca"},
    {CertType::ui_ca, "ui_ca"},
    {CertType::tenant_ca, "tenant_ca"},
    {CertType::node, "node"},
    {CertType::node_client, "node_client"},
    {CertType::client, "client"},
    {CertType::ui, "ui"},
    {CertType::tenant_client, "tenant_client"},
    {CertType::tenant_signing, "tenant_signing"},
    {CertType::other, "other"},
}};

constexpr std::array<std::pair<Severity, std::string_view>, 4> kSeverityNames{{
    {Severity::none, "none"},
    {Severity::info, "info"},
    {Severity::warning, "warning"},
    {Severity::critical, "critical"},
}};

}  // namespace

std::string_view to_string(CertType type) {
  for (const auto& [value, name] : kCertTypeNames) {
    if (value == type) return name;
  }
  return "other";
}

std::optional<CertType> cert_type_from_string(std::string_view label) {
  for (const auto& [value, name] : kCertTypeNames) {
    if (name == label) return value;
  }
  return std::nullopt;
}

bool is_ca_type(CertType type) {
  return type == CertType::ca || type == CertType::client_ca || type == CertType::ui_ca ||
         type == CertType::tenant_ca;
}

const std::vector<CertType>& all_cert_types() {
  static const std::vector<CertType> types = [] {
    std::vector<CertType> out;
    for (const auto& entry : kCertTypeNames) out.push_back(entry.first);
    return out;
  }();
  return types;
}

std::string_view to_string(Severity severity) {
  for (const auto& [value, name] : kSeverityNames) {
    if (value == severity) return name;
  }
  return "none";
}

std::optional<Severity> severity_from_string(std::string_view label) {
  for (const auto& [value, name] : kSeverityNames) {
    if (name == label) return value;
  }
  return std::nullopt;
}

std::string_view to_string(ErrorReason reason) {
  switch (reason) {
    case ErrorReason::connect_failed:
      return "connect_failed";
    case ErrorReason::auth_failed:
      return "auth_failed";
    case ErrorReason::permission_denied:
      return "permission_denied";
    case ErrorReason::query_failed:
      return "query_failed";
    case ErrorReason::timeout:
      return "timeout";
    case ErrorReason::bad_config:
      return "bad_config";
    case ErrorReason::internal_error:
      return "internal_error";
    case ErrorReason::dns_failed:
      return "dns_failed";
    case ErrorReason::ssl_refused:
      return "ssl_refused";
    case ErrorReason::handshake_failed:
      return "handshake_failed";
    case ErrorReason::not_found:
      return "not_found";
    case ErrorReason::rate_limited:
      return "rate_limited";
    case ErrorReason::server_error:
      return "server_error";
    case ErrorReason::bad_response:
      return "bad_response";
  }
  return "internal_error";
}

std::string_view to_string(FileErrorReason reason) {
  switch (reason) {
    case FileErrorReason::not_found:
      return "not_found";
    case FileErrorReason::permission_denied:
      return "permission_denied";
    case FileErrorReason::not_regular_file:
      return "not_regular_file";
    case FileErrorReason::too_large:
      return "too_large";
    case FileErrorReason::no_certificate:
      return "no_certificate";
    case FileErrorReason::bad_pem:
      return "bad_pem";
    case FileErrorReason::read_error:
      return "read_error";
  }
  return "read_error";
}

bool same_facts(const std::shared_ptr<const CertificateFacts>& a,
                const std::shared_ptr<const CertificateFacts>& b) {
  if (a == b) return true;  // the same facts (or both absent): the common case, no comparison
  return a != nullptr && b != nullptr && *a == *b;
}

namespace {

bool same_anchors(const std::shared_ptr<const std::vector<CertificateFacts>>& a,
                  const std::shared_ptr<const std::vector<CertificateFacts>>& b) {
  if (a == b) return true;
  if (a == nullptr || b == nullptr) return false;
  return *a == *b;
}

}  // namespace

bool operator==(const CertObservation& a, const CertObservation& b) {
  return a.id == b.id && same_facts(a.facts, b.facts) && a.not_after == b.not_after &&
         a.not_before == b.not_before && a.load_failed == b.load_failed &&
         a.local_node == b.local_node && a.dialed_name == b.dialed_name &&
         same_anchors(a.trust_anchors, b.trust_anchors);
}

}  // namespace certwatch
