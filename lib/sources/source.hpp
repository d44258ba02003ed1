// The one extension point for inputs: a source does I/O in poll() and returns plain data.
// It never touches metrics, never logs-and-swallows: failure is a value in PollResult.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "core/types.hpp"

namespace certwatch::sources {

// One row of crdb_internal.kv_node_status, as much as the daemon needs.
struct NodeInfo {
  std::string node_id;
  std::string address;
  std::string server_version;
  double updated_at = 0;  // unix seconds
};

struct ClusterFacts {
  std::vector<NodeInfo> nodes;
  bool secure = false;  // at least one node reports certificate metrics
  // The node this daemon runs beside: from config, or detected by address; empty if unknown.
  std::string local_node_id;
  // Why local_node_id is empty (no node or several nodes matched this host); for the log.
  std::string local_node_note;
};

struct PollResult {
  SourceKind kind = SourceKind::file;
  bool ok = true;
  // When !ok: a short reason code for crdb_cert_source_errors_total{reason} (connect_failed,
  // auth_failed, permission_denied, query_failed, timeout, ...) and a message for logs (no
  // secrets in it).
  std::string error_reason;
  std::string error_message;
  std::vector<CertObservation> certificates;
  std::vector<FileError> file_errors;
  std::optional<ClusterFacts> cluster;  // cluster source only
};

// Thread-safety: poll() is called from one worker thread at a time, never concurrently with
// itself; a source may keep state (a connection, a file cache) between polls.
class Source {
 public:
  virtual ~Source() = default;
  virtual SourceKind kind() const = 0;
  virtual std::chrono::seconds interval() const = 0;
  virtual PollResult poll() = 0;
};

}  // namespace certwatch::sources
