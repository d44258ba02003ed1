// What a source knows beyond certificates and file errors, in shapes every output renders alike:
// metric families for /metrics, tables for the status page and `check`, findings that raise the
// verdict. A source fills them; no renderer knows which source they came from.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace certwatch {

using LabelPairs = std::vector<std::pair<std::string, std::string>>;

struct Series {
  LabelPairs labels;
  double value = 0;

  friend bool operator==(const Series&, const Series&) = default;
};

struct Family {
  enum class Type { gauge, counter };
  std::string name;
  std::string help;
  Type type = Type::gauge;
  // Cached from the source's last successful poll (the help text says so).
  bool cached = true;
  std::vector<Series> series;

  friend bool operator==(const Family&, const Family&) = default;
};

// One table cell: text, or a point in time the page shows as an age and `check` as a timestamp.
struct Cell {
  std::string text;
  std::optional<double> time;  // unix seconds
  bool mono = false;           // an address, a path: shown in a fixed-width font
  std::string note;            // a short muted remark after the text, e.g. "(this host)"

  friend bool operator==(const Cell&, const Cell&) = default;
};

struct Table {
  std::string title;
  std::vector<std::string> columns;
  std::vector<std::vector<Cell>> rows;

  friend bool operator==(const Table&, const Table&) = default;
};

// Conditions other than a certificate's expiry state. Their severities and alert names are one
// table in rules/conditions.hpp, read by `check`, the status page and the rule generator.
enum class Condition {
  file_error,
  source_down,
  node_stale,
  reload_pending,
  cluster_insecure,
  config_reload_failed,
  probe_failed,           // a probe target did not complete a handshake
  served_mismatch,        // a node serves another certificate than its disk or its report says
  cmek_key_revoked,       // a CMEK key REVOKED or REVOKING
  cmek_failed,            // a CMEK operation ended in *_FAILED
  cmek_transition_stuck,  // ENABLING, ROTATING or DISABLING for longer than configured
  cmek_api_unreachable,   // the CMEK source is down
  // The client CA uploaded to CockroachDB Cloud (the cloud source).
  cloud_client_ca_not_set,  // none uploaded: certificate authentication is off (info)
  cloud_client_ca_failed,   // the last upload FAILED, or its PEM holds no usable certificate
  cloud_client_ca_pending,  // an upload PENDING for longer than alerting.cmek_transition_for
};

struct Finding {
  Condition condition = Condition::file_error;
  std::string subject;  // what it is about: a node id, a path; empty for the whole source
  std::string message;  // one sentence for people, with what to do

  friend bool operator==(const Finding&, const Finding&) = default;
};

}  // namespace certwatch
