// Rotation evidence: a new certificate at a leaf's identity (index 0 of a leaf file; per node and
// type for the cluster and probe sources) is a rotation; a CA added to or removed from a bundle is
// journalled as ca_added / ca_removed, not as a rotation. The tracker is pure (observations and a
// clock in, events out); the journal (rotation_journal.hpp) keeps the events across restarts.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/types.hpp"

namespace certwatch::state {

enum class RotationKind { rotation, ca_added, ca_removed };
std::string_view to_string(RotationKind kind);
std::optional<RotationKind> rotation_kind_from_string(std::string_view text);

struct RotationEvent {
  RotationKind kind = RotationKind::rotation;
  double time = 0;  // unix seconds, when the daemon saw it
  CertIdentity id;
  // SHA-256 fingerprints (lowercase hex); empty where the source knows none (cluster: only the
  // notAfter the node reports) and, for ca_added/ca_removed, on the side that does not exist.
  std::string old_fingerprint;
  std::string new_fingerprint;
  std::optional<std::int64_t> old_not_after;
  std::optional<std::int64_t> not_after;
  std::string subject_cn;

  friend bool operator==(const RotationEvent&, const RotationEvent&) = default;
};

// Per identity: the last rotation (from the journal or seen since start) and how many this
// process saw. Immutable once published in a snapshot.
struct RotationSeries {
  CertIdentity id;
  double last_rotation = 0;
  std::uint64_t rotations = 0;  // since the process started
};
struct RotationRecord {
  std::vector<RotationSeries> series;  // by identity
};

// Remembers what each identity held at the last poll. Not thread-safe: one owner calls it (the
// daemon's io thread).
class RotationTracker {
 public:
  // What the journal says: each identity's last rotation time and what it rotated to, so a
  // rotation while the daemon was stopped is seen on its first poll.
  void seed(std::span<const RotationEvent> journal);
  // One source's certificates after a successful poll; returns the events since the last call
  // for that source (none for an identity seen for the first time).
  std::vector<RotationEvent> observe(std::span<const CertObservation> certificates, double now);
  // The series for the metrics; the same pointer until something rotates.
  std::shared_ptr<const RotationRecord> record() const { return record_; }

 private:
  struct Held {
    std::string fingerprint;  // empty for cluster certificates
    std::optional<std::int64_t> not_after;
  };
  struct BundleCa {
    std::string index;
    std::int64_t not_after = 0;
    std::string subject_cn;
  };
  void count(const RotationEvent& event, bool since_start);
  void publish();

  std::map<std::string, Held> leaves_;                              // by identity key
  std::map<std::string, std::map<std::string, BundleCa>> bundles_;  // bundle key -> fingerprints
  std::map<std::string, RotationSeries> series_;
  std::shared_ptr<const RotationRecord> record_ = std::make_shared<RotationRecord>();
};

// The identity as one string (labels joined by a separator no label holds unescaped).
std::string identity_key(const CertIdentity& id);

}  // namespace certwatch::state
