// The metric names of docs/metrics.md, used by the renderer, the sources' own families and the
// generated Prometheus rules, so a rename cannot leave one of them behind.
#pragma once

#include <string_view>

namespace certwatch::metric {

// Per certificate.
inline constexpr std::string_view kNotAfter = "crdb_cert_not_after_timestamp_seconds";
inline constexpr std::string_view kNotBefore = "crdb_cert_not_before_timestamp_seconds";
inline constexpr std::string_view kInfo = "crdb_cert_info";
inline constexpr std::string_view kExpiryState = "crdb_cert_expiry_state";
// Automated rotation: when the automation should renew a managed certificate, and rotations seen.
inline constexpr std::string_view kRenewalExpected = "crdb_cert_renewal_expected_timestamp_seconds";
inline constexpr std::string_view kLastRotation = "crdb_cert_last_rotation_timestamp_seconds";
inline constexpr std::string_view kRotations = "crdb_cert_rotations_total";
// Posture checks.
inline constexpr std::string_view kCheckFailed = "crdb_cert_check_failed";
inline constexpr std::string_view kCaIssued = "crdb_cert_ca_issued_certificates";
// Cluster source.
inline constexpr std::string_view kClusterNodeInfo = "crdb_cert_cluster_node_info";
inline constexpr std::string_view kClusterNodeUpdated =
    "crdb_cert_cluster_node_updated_timestamp_seconds";
inline constexpr std::string_view kClusterSecure = "crdb_cert_cluster_secure";
// Cluster source, node vars (each node's /_status/vars): client certificates per SQL user.
inline constexpr std::string_view kClientSeen = "crdb_cert_client_seen";
inline constexpr std::string_view kNodeVarsSuccess = "crdb_cert_node_vars_success";
inline constexpr std::string_view kNodeVarsErrors = "crdb_cert_node_vars_errors_total";
inline constexpr std::string_view kClientChildMetrics = "crdb_cert_cluster_client_child_metrics";
inline constexpr std::string_view kClusterInfo = "crdb_cert_cluster_info";
// Probe source.
inline constexpr std::string_view kProbeSuccess = "crdb_cert_probe_success";
inline constexpr std::string_view kProbeDuration = "crdb_cert_probe_duration_seconds";
inline constexpr std::string_view kProbeTlsInfo = "crdb_cert_probe_tls_info";
inline constexpr std::string_view kProbeErrors = "crdb_cert_probe_errors_total";
inline constexpr std::string_view kServedMismatch = "crdb_cert_served_mismatch";
// CMEK source (the data-at-rest key).
inline constexpr std::string_view kCmekClusterStatus = "crdb_cmek_cluster_status";
inline constexpr std::string_view kCmekRegionStatus = "crdb_cmek_region_status";
inline constexpr std::string_view kCmekKeyInfo = "crdb_cmek_key_info";
inline constexpr std::string_view kCmekKeyUpdated = "crdb_cmek_key_updated_timestamp_seconds";
// Cloud source (the client CA uploaded to CockroachDB Cloud).
inline constexpr std::string_view kCloudClientCaStatus = "crdb_cert_cloud_client_ca_status";
// Cross-checks and files.
inline constexpr std::string_view kReloadPending = "crdb_cert_reload_pending";
inline constexpr std::string_view kFileError = "crdb_cert_file_error";
inline constexpr std::string_view kFileErrorsDropped = "crdb_cert_file_errors_dropped";
// The exporter itself.
inline constexpr std::string_view kSourceUp = "crdb_cert_source_up";
inline constexpr std::string_view kSourceLastSuccess =
    "crdb_cert_source_last_success_timestamp_seconds";
inline constexpr std::string_view kSourceDuration = "crdb_cert_source_duration_seconds";
inline constexpr std::string_view kSourceErrors = "crdb_cert_source_errors_total";
inline constexpr std::string_view kSourceOverruns = "crdb_cert_source_overruns_total";
inline constexpr std::string_view kSourceItemsCut = "crdb_cert_source_items_cut";
inline constexpr std::string_view kSourceTruncated = "crdb_cert_source_truncated_total";
inline constexpr std::string_view kConfigReloadSuccessful =
    "crdb_cert_config_last_reload_successful";
inline constexpr std::string_view kConfigReloadTimestamp =
    "crdb_cert_config_last_reload_success_timestamp_seconds";
inline constexpr std::string_view kBuildInfo = "crdb_cert_exporter_build_info";
// The HTTP endpoint (appended to each exposition it serves).
inline constexpr std::string_view kHttpRequestsRefused = "crdb_cert_http_requests_refused_total";

}  // namespace certwatch::metric
