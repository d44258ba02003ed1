// Snapshot -> Prometheus metric families (docs/metrics.md) -> text exposition.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "state/snapshot.hpp"

namespace certwatch::exporter {

// crdb_cert_file_error has one series per file up to this many; the files beyond are counted by
// reason in crdb_cert_file_errors_dropped (docs/metrics.md).
inline constexpr std::size_t kMaxFileErrorSeries = 1000;

struct RenderedText {
  std::string text;
  // The leading bytes of `text` that hold the per-certificate families (they come first).
  std::size_t certificate_text_size = 0;
};

// Renders the exposition one metric family at a time, so at most one family's series exist at
// once besides the text. `certificate_text`, when given, is the per-certificate part of an earlier
// rendering of the same certificates in the same states: it is copied, not rendered again.
RenderedText render_metrics(const state::Snapshot& snapshot,
                            std::optional<std::string_view> certificate_text = std::nullopt);

// A snapshot with its text exposition, rendered once so scrapes only send bytes. Immutable once
// made (the gzip form is made on the first scrape that asks, once).
struct Exposition {
  std::shared_ptr<const state::Snapshot> snapshot;
  std::string text;
  // How many leading bytes of `text` hold the per-certificate families; the next exposition
  // copies them instead of rendering again when no certificate or state changed.
  std::size_t certificate_text_size = 0;

  const std::string& gzip() const;

 private:
  mutable std::once_flag gzip_once_;
  mutable std::string gzip_;
};

// The HTTP endpoint's own family, crdb_cert_http_requests_refused_total{reason}: what it refused
// instead of serving. The server appends it to every exposition it serves (http_server.hpp).
std::string render_http_refusals(std::uint64_t auth_queue_full, std::uint64_t connection_limit);

// `previous`, when given, is the exposition this one replaces: its per-certificate text is reused
// when the certificates and their states are unchanged (the common poll on a quiet host).
std::shared_ptr<const Exposition> make_exposition(std::shared_ptr<const state::Snapshot> snapshot,
                                                  const Exposition* previous = nullptr);

}  // namespace certwatch::exporter
