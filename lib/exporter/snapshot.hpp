// The immutable value a poll publishes and every scrape, status page and `check` reads.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/types.hpp"
#include "rules/evaluate.hpp"
#include "sources/source.hpp"

namespace certwatch::exporter {

// What the scheduler knows about one source across polls.
struct SourceHealth {
  SourceKind kind = SourceKind::file;
  bool polled = false;                                // at least one poll has finished (ready)
  bool up = false;                                    // the last poll succeeded
  double last_success = 0;                            // unix seconds; 0 = never
  double last_poll = 0;                               // unix seconds of the last finished poll
  double last_duration = 0;                           // seconds
  std::map<std::string, std::uint64_t> errors_total;  // by reason
  std::string last_error_reason;  // reason code of the last failure (a key of errors_total)
  std::string last_error;         // message of the last failure, for logs and the status page
};

struct BuildInfo {
  std::string version;
  std::string revision;
  std::string openssl_version;
};

// A source's poll result, shared (never copied) between the scheduler, which keeps each
// source's last good result, and every snapshot made from it.
using SharedPollResult = std::shared_ptr<const sources::PollResult>;

// Everything a snapshot is made of. Sources' results are the last *successful* ones, so a source
// that is down keeps serving its last good data (its health says it is down).
struct SnapshotInputs {
  std::vector<SharedPollResult> results;
  std::vector<SourceHealth> health;
  bool config_reload_ok = true;
  double config_reload_success_at = 0;
  std::vector<rules::Rule> rules;
  BuildInfo build;
};

struct Snapshot {
  double generated_at = 0;  // unix seconds
  // The results the snapshot was made from; they own what `certificates` points to.
  std::vector<SharedPollResult> results;
  // Every certificate of every result, in result order.
  std::vector<const CertObservation*> certificates;
  std::vector<rules::CertState> states;            // states[i] is the state of certificates[i]
  std::vector<const FileError*> file_errors;       // every result's, in result order
  const sources::ClusterFacts* cluster = nullptr;  // the cluster result's, if there is one
  std::vector<rules::ReloadPending> reload_pending;
  std::vector<SourceHealth> health;
  bool config_reload_ok = true;
  double config_reload_success_at = 0;
  BuildInfo build;
  // The text exposition, rendered once per snapshot so scrapes only copy bytes.
  std::string metrics_text;
  // How many leading bytes of metrics_text hold the per-certificate families. The next
  // snapshot copies them instead of rendering again when no certificate or state changed.
  std::size_t certificate_text_size = 0;

  // metrics_text gzip-compressed, made on the first scrape that asks for it and kept for the
  // snapshot's life.
  const std::string& metrics_gzip() const;

  bool ready() const;  // every enabled source has finished one poll
  Severity worst_severity() const;

 private:
  mutable std::once_flag gzip_once_;
  mutable std::string metrics_gzip_;
};

// Evaluates, cross-checks and renders: the only place a snapshot is made. `now` in unix seconds.
// `previous`, when given, is the snapshot this one replaces: its per-certificate text is reused
// when the certificates and their states are unchanged (the common poll on a quiet host).
std::shared_ptr<const Snapshot> make_snapshot(const SnapshotInputs& inputs, double now,
                                              const Snapshot* previous = nullptr);

}  // namespace certwatch::exporter
