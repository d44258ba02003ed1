// Snapshot -> Prometheus metric families (METRICS.md) -> text exposition.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace certwatch::exporter {

struct Snapshot;

struct RenderedText {
  std::string text;
  // The leading bytes of `text` that hold the per-certificate families (they come first).
  std::size_t certificate_text_size = 0;
};

// Renders the exposition one metric family at a time, so at most one family's series exist at
// once besides the text. `certificate_text`, when given, is the per-certificate part of an earlier
// rendering of the same certificates in the same states: it is copied, not rendered again.
RenderedText render_metrics(const Snapshot& snapshot,
                            std::optional<std::string_view> certificate_text = std::nullopt);

}  // namespace certwatch::exporter
