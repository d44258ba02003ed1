// The one extension point for inputs: a source does I/O in poll() and returns plain data.
// It never touches metrics, never logs-and-swallows: failure is a value in PollResult. Sources are
// listed in sources/registry.cpp; nothing else in the daemon knows which sources exist.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/report.hpp"
#include "core/types.hpp"

namespace certwatch::sources {

// A fact worth one log line when it changes (which node is this host's), not one per poll.
struct Notice {
  std::string topic;  // what it is about; a new text for the same topic is logged again
  bool warning = false;
  std::string text;
};

// What a source knows beyond certificates and file errors (the cluster's nodes, a probe's
// handshakes), and how it shows in every output. Each source defines its own type.
class SourceFacts {
 public:
  virtual ~SourceFacts() = default;
  // Metric families of the source's own, rendered after the per-certificate families.
  virtual std::vector<Family> families() const { return {}; }
  // Sections of the status page and the `check` report.
  virtual std::vector<Table> tables() const { return {}; }
  // Conditions that hold at `now` (unix seconds), e.g. a node whose status is too old.
  virtual std::vector<Finding> findings(double now) const {
    static_cast<void>(now);
    return {};
  }
  virtual std::vector<Notice> notices() const { return {}; }
  // Names and addresses this host's node is reached by, as the source knows them (the cluster's
  // advertise address): node.crt must carry each (the san_missing check).
  virtual std::vector<std::string> local_node_names() const { return {}; }
  // The facts as the source made them; a wrapper (state/caps.hpp's bounded view) returns what it
  // wraps, so facts_as<> finds the source's own type through it.
  virtual const SourceFacts& underlying() const { return *this; }
};

struct PollResult {
  std::optional<SourceError> error;  // set when the poll failed: nothing else is used then
  std::vector<CertObservation> certificates;
  std::vector<FileError> file_errors;
  // Key files seen (file source): the key beside each leaf certificate (present or not) and any
  // CA key in a certs directory.
  std::vector<KeyFile> keys;
  // Denylist entries read from checks.denylist_file (file source), one per line as written.
  std::vector<std::string> denylist;
  std::shared_ptr<const SourceFacts> facts;  // null: nothing beyond certificates
  // The name of the source instance that produced it, set by the poll framework (run_poll), so a
  // report can group what each source found even when it found no certificates.
  std::string source;
  // Failures of parts of a poll that still succeeded as a whole (one probe target of many): each
  // is counted under crdb_cert_source_errors_total by its reason, and the source stays up.
  std::vector<SourceError> partial_errors;
  // What the caps (core/caps.hpp) cut from this result, by kind; empty when nothing was cut. Set
  // by the poll framework, read by crdb_cert_source_items_cut.
  std::map<std::string, std::uint64_t> cut;

  bool ok() const { return !error; }
  // The reason label and the message of a failed poll; empty when it succeeded.
  std::string_view error_reason() const { return error ? to_string(error->reason) : ""; }
  std::string error_message() const { return error ? error->message : ""; }
  static PollResult failed(ErrorReason reason, std::string message) {
    PollResult result;
    result.error = SourceError{reason, std::move(message)};
    return result;
  }
};

// The facts of a result as the source's own type, or null.
template <typename Facts>
const Facts* facts_as(const PollResult& result) {
  return result.facts ? dynamic_cast<const Facts*>(&result.facts->underlying()) : nullptr;
}

// Thread-safety: poll() is called from one worker thread at a time, never concurrently with
// itself; a source may keep state (a connection, a file cache) between polls. The other methods
// are called on the daemon's own thread and must not block.
class Source {
 public:
  // `name` is the instance's name: the `source` label of its health series, unique per daemon.
  explicit Source(std::string name) : name_(std::move(name)) {}
  virtual ~Source() = default;
  Source(const Source&) = delete;
  Source& operator=(const Source&) = delete;

  const std::string& name() const { return name_; }
  virtual std::chrono::seconds interval() const = 0;
  virtual PollResult poll() = 0;
  // Directories whose changes should trigger a poll at once (inotify); empty: the interval only.
  virtual std::vector<std::string> watched_directories() const { return {}; }
  // Whether `next`, built from a reloaded configuration, polls exactly what this one does: then
  // the running instance is kept, with its cache or its connection.
  virtual bool same_config(const Source& next) const = 0;

  // The sources (by instance name) whose view this one reads: the probe's from_cluster reads the
  // cluster's nodes. Declared, never shared through a global: the scheduler delays this source's
  // first poll until each of them has finished its first, hands it every new good result of
  // theirs through receive(), and polls it at once when the first such view arrives after it has
  // already polled without one.
  virtual std::vector<std::string> depends_on() const { return {}; }
  // A new good result of `source`, one of depends_on(). Called on the daemon's thread, possibly
  // while poll() runs on its worker: an implementation guards what it keeps.
  virtual void receive(const std::string& source, const std::shared_ptr<const PollResult>& result) {
    static_cast<void>(source);
    static_cast<void>(result);
  }

 private:
  std::string name_;
};

}  // namespace certwatch::sources
