// What any source may turn into output: the caps that keep a hostile or broken input (a 1 MB
// API response with 41,500 keys, a probe target serving hundreds of certificates, a 2 KiB region
// name) from amplifying into a /metrics, a page or a log that the daemon or Prometheus cannot
// carry. The same caps hold for every source; state/caps.hpp applies them where a poll's result
// enters the daemon, the exporter bounds every label value it writes, and what was cut is counted
// in crdb_cert_source_items_cut{source, kind} and logged once per poll. docs/metrics.md lists
// them; they are constants, not configuration: no real deployment comes near them.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace certwatch::caps {

// Bytes of one label value. A longer one keeps its first bytes and ends in "...#" and 16 hex
// digits of a hash of the whole value, so two long values stay two series.
inline constexpr std::size_t kMaxLabelValueBytes = 256;
// Series of a source's own families (per-target, per-region, per-key...), in all, and the bytes
// of their label names and values in all.
inline constexpr std::size_t kMaxSeriesPerSource = 10'000;
inline constexpr std::size_t kMaxSeriesBytesPerSource = 1024 * 1024;
// Certificates one probe target may contribute (a real chain has 2-4).
inline constexpr std::size_t kMaxCertificatesPerTarget = 32;
// Certificates of one source's poll.
inline constexpr std::size_t kMaxCertificatesPerSource = 100'000;
// Rows of a source's tables on the page, in `check` and in the audit, in all.
inline constexpr std::size_t kMaxTableRowsPerSource = 1'000;
// Bytes of one table cell, finding or notice text.
inline constexpr std::size_t kMaxTextBytes = 512;
// Findings of one source (each may become a line of the page and of `check`).
inline constexpr std::size_t kMaxFindingsPerSource = 1'000;
// Notices of one source (each is logged when it changes).
inline constexpr std::size_t kMaxNoticesPerSource = 100;

// Cuts `value` to kMaxLabelValueBytes as described above (never inside a UTF-8 sequence);
// returns whether it did.
bool bound_label_value(std::string& value);
// Cuts `text` to `limit` bytes, never inside a UTF-8 sequence, ending in "..."; returns whether
// it did.
bool bound_text(std::string& text, std::size_t limit = kMaxTextBytes);

}  // namespace certwatch::caps
