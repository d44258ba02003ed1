// The runbooks of deploy/runbooks, built into the binary and served as HTML at
// /runbooks/<Alert>, so an alert's runbook_url opens on any phone that can reach the daemon.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace certwatch::exporter {

struct EmbeddedRunbook {
  std::string_view alert;     // the file name without .md: the alert it is for
  std::string_view markdown;  // the page as written
};

// Every page, sorted by alert name (generated at configure time).
const std::vector<EmbeddedRunbook>& embedded_runbooks();

// The page of `alert` ("CrdbCertRotateNow", or "CrdbCertRotateNow.md" as the pages link to each
// other) as a complete HTML document; nullopt when there is none.
std::optional<std::string> render_runbook(std::string_view alert);

// An index of every page.
std::string render_runbook_index();

}  // namespace certwatch::exporter
