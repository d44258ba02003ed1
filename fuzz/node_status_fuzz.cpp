// libFuzzer target for the meaning of crdb_internal.kv_node_status rows:
// sources::interpret_node_status on rows cut from the input (fields separated by '\t', rows by
// '\n'; a field "\N" is SQL NULL), and parse_unix_seconds on every field. Beyond "no crash, no
// leak, no UB" it checks:
//   - the poll succeeds (rows never fail it: bad values are notices and partial errors);
//   - no certificate expires at or before 1970: nothing is exported as expiring in 1970;
//   - every certificate names a node of the input.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "sources/cluster_source.hpp"

namespace {

using certwatch::sources::kClusterCertMetrics;
using certwatch::sources::NodeStatusRow;

void require(bool condition) {
  if (!condition) std::abort();  // libFuzzer reports the input that got here
}

std::vector<std::string_view> split(std::string_view text, char separator) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  while (true) {
    const auto at = text.find(separator, start);
    out.push_back(text.substr(start, at == std::string_view::npos ? at : at - start));
    if (at == std::string_view::npos) return out;
    start = at + 1;
  }
}

std::optional<std::string> nullable(const std::vector<std::string_view>& fields, std::size_t i) {
  if (i >= fields.size() || fields[i] == "\\N") return std::nullopt;
  return std::string(fields[i]);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  std::vector<NodeStatusRow> rows;
  std::set<std::string> node_ids;
  for (std::string_view line : split(input, '\n')) {
    if (rows.size() >= 64) break;
    const auto fields = split(line, '\t');
    for (std::string_view field : fields) {
      static_cast<void>(certwatch::sources::parse_unix_seconds(field));
    }
    NodeStatusRow row;
    row.node_id = std::string(fields[0]);
    row.address = fields.size() > 1 ? std::string(fields[1]) : "";
    row.server_version = fields.size() > 2 ? std::string(fields[2]) : "";
    row.updated_at = nullable(fields, 3);
    for (std::size_t i = 0; i < kClusterCertMetrics.size(); ++i) {
      row.expirations[i] = nullable(fields, 4 + i);
    }
    node_ids.insert(row.node_id);
    rows.push_back(std::move(row));
  }
  const auto result = certwatch::sources::interpret_node_status(
      rows, std::nullopt, [] { return certwatch::sources::HostIdentity{}; });
  require(result.ok());
  for (const auto& cert : result.certificates) {
    require(node_ids.count(cert.id.node_id) == 1);
    if (cert.not_after) require(*cert.not_after > 0);
  }
  return 0;
}
