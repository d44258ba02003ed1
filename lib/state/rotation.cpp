#include "state/rotation.hpp"

#include <algorithm>

namespace certwatch::state {

std::string_view to_string(RotationKind kind) {
  switch (kind) {
    case RotationKind::rotation:
      return "rotation";
    case RotationKind::ca_added:
      return "ca_added";
    case RotationKind::ca_removed:
      return "ca_removed";
  }
  return "rotation";
}

std::optional<RotationKind> rotation_kind_from_string(std::string_view text) {
  for (RotationKind kind :
       {RotationKind::rotation, RotationKind::ca_added, RotationKind::ca_removed}) {
    if (to_string(kind) == text) return kind;
  }
  return std::nullopt;
}

std::string identity_key(const CertIdentity& id) {
  std::string key = id.source;
  for (std::string_view part :
       {to_string(id.cert_type), std::string_view(id.node_id), std::string_view(id.path),
        std::string_view(id.index), std::string_view(id.user)}) {
    key += '\0';
    key += part;
  }
  return key;
}

namespace {

// A CA bundle file: every certificate of it is tracked as a set.
bool is_bundle(const CertObservation& cert) {
  return cert.id.source == kSourceFile && is_ca_type(cert.id.cert_type) && cert.facts != nullptr;
}

// The identity a rotation replaces a certificate at: index 0 of a leaf file, the leaf a target
// serves, what a node reports per type (per-user client certificates from node vars excepted:
// their expiry is a minimum over a day, so it moves late and does not show a rotation).
bool is_leaf_identity(const CertObservation& cert) {
  if (cert.load_failed || !cert.not_after) return false;
  if (cert.id.source == kSourceCluster) return cert.id.user.empty();
  if (cert.facts == nullptr || cert.id.index != "0") return false;
  return cert.id.source != kSourceFile || !is_ca_type(cert.id.cert_type);
}

CertIdentity bundle_identity(const CertIdentity& id) {
  CertIdentity bundle = id;
  bundle.index.clear();
  return bundle;
}

}  // namespace

void RotationTracker::seed(std::span<const RotationEvent> journal) {
  for (const RotationEvent& event : journal) {
    if (event.kind != RotationKind::rotation) continue;
    leaves_[identity_key(event.id)] = Held{event.new_fingerprint, event.not_after};
    count(event, false);
  }
  publish();
}

std::vector<RotationEvent> RotationTracker::observe(std::span<const CertObservation> certificates,
                                                    double now) {
  std::vector<RotationEvent> events;
  std::map<std::string, std::map<std::string, BundleCa>> bundles_now;
  std::map<std::string, CertIdentity> bundle_ids;
  for (const CertObservation& cert : certificates) {
    if (is_bundle(cert)) {
      const CertIdentity id = bundle_identity(cert.id);
      const std::string key = identity_key(id);
      bundle_ids.emplace(key, id);
      bundles_now[key].emplace(
          cert.facts->fingerprint_sha256,
          BundleCa{cert.id.index, cert.facts->not_after, cert.facts->subject_cn});
      continue;
    }
    if (!is_leaf_identity(cert)) continue;
    Held held{cert.facts ? cert.facts->fingerprint_sha256 : std::string(), cert.not_after};
    const std::string key = identity_key(cert.id);
    const auto it = leaves_.find(key);
    if (it == leaves_.end()) {
      leaves_.emplace(key, std::move(held));
      continue;
    }
    // Cluster certificates have no fingerprint: a new notAfter at a node and type is the sign.
    const bool changed = cert.facts ? it->second.fingerprint != held.fingerprint
                                    : it->second.not_after != held.not_after;
    if (changed) {
      RotationEvent event{RotationKind::rotation,
                          now,
                          cert.id,
                          it->second.fingerprint,
                          held.fingerprint,
                          it->second.not_after,
                          cert.not_after,
                          cert.facts ? cert.facts->subject_cn : ""};
      count(event, true);
      events.push_back(std::move(event));
      it->second = std::move(held);
    }
  }
  for (auto& [key, now_held] : bundles_now) {
    const auto it = bundles_.find(key);
    if (it != bundles_.end()) {
      const CertIdentity& bundle = bundle_ids[key];
      for (const auto& [fingerprint, ca] : now_held) {
        if (it->second.count(fingerprint) != 0) continue;
        CertIdentity id = bundle;
        id.index = ca.index;
        events.push_back({RotationKind::ca_added, now, id, "", fingerprint, std::nullopt,
                          ca.not_after, ca.subject_cn});
      }
      for (const auto& [fingerprint, ca] : it->second) {
        if (now_held.count(fingerprint) != 0) continue;
        CertIdentity id = bundle;
        id.index = ca.index;
        events.push_back({RotationKind::ca_removed, now, id, fingerprint, "", ca.not_after,
                          std::nullopt, ca.subject_cn});
      }
    }
    bundles_[key] = std::move(now_held);
  }
  if (!events.empty()) publish();
  return events;
}

void RotationTracker::count(const RotationEvent& event, bool since_start) {
  if (event.kind != RotationKind::rotation) return;
  RotationSeries& series = series_[identity_key(event.id)];
  series.id = event.id;
  series.last_rotation = std::max(series.last_rotation, event.time);
  if (since_start) ++series.rotations;
}

void RotationTracker::publish() {
  auto record = std::make_shared<RotationRecord>();
  record->series.reserve(series_.size());
  for (const auto& [key, series] : series_) record->series.push_back(series);
  record_ = std::move(record);
}

}  // namespace certwatch::state
