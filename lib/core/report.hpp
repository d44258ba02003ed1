// What a source knows beyond certificates and file errors, in shapes every output renders alike:
// metric families for /metrics, tables for the status page and `check`, findings that raise the
// verdict. A source fills them; no renderer knows which source they came from.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/types.hpp"

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

// What one condition other than a certificate's expiry state is, in one row: its name (check's
// FINDING column, the page's Problems), its severity (check's verdict, the page, the alert's
// label), its alert (the generated rule and the runbook page /runbooks/<alert>) and why it matters
// and what to do (state/remedy.hpp). `check`, the status page, the rules generator and the audit
// read these rows and nothing else.
struct ConditionRow {
  std::string_view name;  // "probe_failed"
  Severity severity = Severity::warning;
  std::string_view alert;  // "CrdbCertProbeFailed"
  std::string_view why;    // one sentence
  std::string_view fix;    // commands and sentences, without a particular subject
};

// A condition is its row: one cannot be named without its row existing, so no condition silently
// borrows another's severity or alert. The rows are defined by their owner (the daemon's own in
// rules/conditions.cpp, each source's beside the source) and joined by the source registry
// (sources/registry.hpp), whose test proves each appears there exactly once. A source outside the
// library (a test's) defines a row of its own the same way.
class Condition {
 public:
  explicit constexpr Condition(const ConditionRow& row) : row_(&row) {}
  constexpr const ConditionRow& row() const { return *row_; }
  constexpr std::string_view name() const { return row_->name; }
  friend constexpr bool operator==(const Condition& a, const Condition& b) {
    return a.row_ == b.row_;
  }

  // The daemon's own (rules/conditions.cpp): raised from what every source reports.
  static const Condition file_error;
  static const Condition source_down;
  static const Condition reload_pending;
  static const Condition config_reload_failed;
  // The cluster source's (sources/cluster_source.cpp).
  static const Condition node_stale;
  static const Condition cluster_insecure;
  // No node's /_status/vars names a SQL user's client certificate (child metrics off).
  static const Condition client_child_metrics_off;
  // The probe's (sources/probe_source.cpp).
  static const Condition probe_failed;     // a probe target did not complete a handshake
  static const Condition served_mismatch;  // a node serves another certificate than it should
  // The CMEK source's (sources/cmek_source.cpp).
  static const Condition cmek_key_revoked;       // a CMEK key REVOKED or REVOKING
  static const Condition cmek_failed;            // a CMEK operation ended in *_FAILED
  static const Condition cmek_transition_stuck;  // ENABLING, ROTATING or DISABLING too long
  static const Condition cmek_api_unreachable;   // the CMEK source's polls fail
  // The cloud source's (sources/cloud_client_ca_source.cpp): the client CA uploaded to Cloud.
  static const Condition cloud_client_ca_not_set;  // none uploaded: certificate auth is off
  static const Condition cloud_client_ca_failed;   // the last upload FAILED, or no usable PEM
  static const Condition cloud_client_ca_pending;  // an upload PENDING for too long

 private:
  const ConditionRow* row_;
};

struct Finding {
  Condition condition = Condition::file_error;
  std::string subject;  // what it is about: a node id, a path; empty for the whole source
  std::string message;  // one sentence for people, with what to do

  friend bool operator==(const Finding&, const Finding&) = default;
};

}  // namespace certwatch
