#include "state/caps.hpp"

#include <algorithm>
#include <utility>
#include <vector>

#include "core/caps.hpp"

namespace certwatch::state {
namespace {

using Cut = std::map<std::string, std::uint64_t>;

// Counts the values past the label cap without changing them: a file's path is also what the
// checks open, so certificate labels are cut where they are written (the exporter).
void count_long_labels(const CertObservation& cert, Cut& cut) {
  const auto count = [&](const std::string& value) {
    if (value.size() > caps::kMaxLabelValueBytes) ++cut["label_values"];
  };
  count(cert.id.node_id);
  count(cert.id.path);
  count(cert.id.index);
  count(cert.id.user);
  if (cert.facts) {
    count(cert.facts->subject_cn);
    count(cert.facts->issuer_cn);
    count(cert.facts->serial_hex);
  }
}

void cap_certificates(std::vector<CertObservation>& certificates, Cut& cut) {
  std::map<std::string, std::size_t> per_target;
  std::size_t kept = 0;
  std::erase_if(certificates, [&](const CertObservation& cert) {
    if (cert.id.source == kSourceProbe &&
        ++per_target[cert.id.path] > caps::kMaxCertificatesPerTarget) {
      ++cut["certificates_per_target"];
      return true;
    }
    if (kept >= caps::kMaxCertificatesPerSource) {
      ++cut["certificates"];
      return true;
    }
    ++kept;
    count_long_labels(cert, cut);
    return false;
  });
}

std::vector<Family> cap_families(std::vector<Family> families, Cut& cut) {
  std::size_t series = 0;
  std::size_t bytes = 0;
  for (Family& family : families) {
    std::vector<Series> kept;
    for (Series& one : family.series) {
      std::size_t size = 0;
      for (auto& [name, value] : one.labels) {
        if (caps::bound_label_value(value)) ++cut["label_values"];
        size += name.size() + value.size();
      }
      if (series >= caps::kMaxSeriesPerSource || bytes + size > caps::kMaxSeriesBytesPerSource) {
        ++cut["series"];
        continue;
      }
      ++series;
      bytes += size;
      kept.push_back(std::move(one));
    }
    family.series = std::move(kept);
  }
  return families;
}

void bound(std::string& text, Cut& cut) {
  if (caps::bound_text(text)) ++cut["texts"];
}

std::vector<Table> cap_tables(std::vector<Table> tables, Cut& cut) {
  std::size_t rows = 0;
  for (Table& table : tables) {
    std::size_t dropped = 0;
    std::erase_if(table.rows, [&](std::vector<Cell>& row) {
      if (rows >= caps::kMaxTableRowsPerSource) {
        ++dropped;
        return true;
      }
      ++rows;
      for (Cell& cell : row) {
        bound(cell.text, cut);
        bound(cell.note, cut);
      }
      return false;
    });
    if (dropped > 0) {
      cut["table_rows"] += dropped;
      // Says so where the rows would have been.
      std::vector<Cell> row(std::max<std::size_t>(table.columns.size(), 1));
      row[0].text =
          std::to_string(dropped) + " more rows not shown (a cap: see crdb_cert_source_items_cut)";
      table.rows.push_back(std::move(row));
    }
  }
  return tables;
}

// Findings within their cap; a cut is counted by apply_caps at the poll's instant.
std::vector<Finding> cap_findings(std::vector<Finding> findings, Cut* cut) {
  if (findings.size() > caps::kMaxFindingsPerSource) {
    if (cut != nullptr) (*cut)["findings"] += findings.size() - caps::kMaxFindingsPerSource;
    findings.resize(caps::kMaxFindingsPerSource);
  }
  Cut ignored;
  for (Finding& finding : findings) {
    bound(finding.subject, cut != nullptr ? *cut : ignored);
    bound(finding.message, cut != nullptr ? *cut : ignored);
  }
  return findings;
}

std::vector<sources::Notice> cap_notices(std::vector<sources::Notice> notices, Cut& cut) {
  if (notices.size() > caps::kMaxNoticesPerSource) {
    cut["notices"] += notices.size() - caps::kMaxNoticesPerSource;
    notices.resize(caps::kMaxNoticesPerSource);
  }
  for (sources::Notice& notice : notices) {
    bound(notice.topic, cut);
    bound(notice.text, cut);
  }
  return notices;
}

// A source's facts within the caps: what every output renders (families, tables, notices) is
// computed once here; findings depend on the time and are capped at each call.
class BoundedFacts final : public sources::SourceFacts {
 public:
  BoundedFacts(std::shared_ptr<const sources::SourceFacts> inner, Cut& cut)
      : inner_(std::move(inner)),
        families_(cap_families(inner_->families(), cut)),
        tables_(cap_tables(inner_->tables(), cut)),
        notices_(cap_notices(inner_->notices(), cut)) {}

  std::vector<Family> families() const override { return families_; }
  std::vector<Table> tables() const override { return tables_; }
  std::vector<Finding> findings(double now) const override {
    return cap_findings(inner_->findings(now), nullptr);
  }
  std::vector<sources::Notice> notices() const override { return notices_; }
  std::vector<std::string> local_node_names() const override { return inner_->local_node_names(); }
  const SourceFacts& underlying() const override { return inner_->underlying(); }

 private:
  std::shared_ptr<const sources::SourceFacts> inner_;
  std::vector<Family> families_;
  std::vector<Table> tables_;
  std::vector<sources::Notice> notices_;
};

}  // namespace

void apply_caps(sources::PollResult& result, double now) {
  Cut cut;
  cap_certificates(result.certificates, cut);
  if (result.facts) {
    cap_findings(result.facts->findings(now), &cut);
    result.facts = std::make_shared<const BoundedFacts>(std::move(result.facts), cut);
  }
  for (auto& [kind, count] : cut) result.cut[kind] += count;
}

std::string describe_cut(const std::map<std::string, std::uint64_t>& cut) {
  std::string out;
  for (const auto& [kind, count] : cut) {
    if (!out.empty()) out += ", ";
    out += kind + "=" + std::to_string(count);
  }
  return out;
}

}  // namespace certwatch::state
