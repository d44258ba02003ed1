#include "exporter/status_page.hpp"

#include <algorithm>
#include <limits>
#include <numeric>

#include "core/shell_command.hpp"
#include "core/text.hpp"
#include "rules/chain_causes.hpp"
#include "rules/checks.hpp"
#include "rules/conditions.hpp"

namespace certwatch::exporter {
namespace {

std::string format_time(double unix_seconds) {
  if (unix_seconds <= 0) return "never";
  return utc_time(static_cast<std::int64_t>(unix_seconds), "%Y-%m-%d %H:%M:%S UTC");
}

std::string format_left(std::int64_t seconds) {
  if (seconds < 0) return "expired " + human_duration(static_cast<double>(-seconds)) + " ago";
  return human_duration(static_cast<double>(seconds));
}

}  // namespace

namespace {

// "3m ago", "2h 5m ago" for poll times: operators read ages, not timestamps.
std::string format_age(double then, double now) {
  if (then <= 0) return "never";
  const auto seconds = static_cast<std::int64_t>(now - then);
  if (seconds < 1) return "just now";
  return format_left(seconds) + " ago";
}

// Who renews a managed certificate and when it should (automation: config); empty otherwise.
std::string renewal_note(const rules::CertState& state, double now) {
  if (!state.renewal_expected) return {};
  const auto expected = static_cast<double>(*state.renewal_expected);
  return "<br><small class=\"managed\">managed by " + escape_html(state.managed_by) +
         (expected >= now ? ", renewal expected " : ", renewal was expected ") +
         format_time(expected) + "</small>";
}

const char* severity_class(Severity severity) {
  switch (severity) {
    case Severity::critical:
      return "crit";
    case Severity::warning:
      return "warn";
    case Severity::info:
      return "info";
    case Severity::none:
      break;
  }
  return "ok";
}

// What an operator does about a file error, in one line.
const char* file_error_hint(FileErrorReason reason) {
  switch (reason) {
    case FileErrorReason::permission_denied:
      return "give the crdb-certwatch user read access (group cockroach, mode 0640 for .crt)";
    case FileErrorReason::not_found:
      return "the file vanished or the path is wrong";
    case FileErrorReason::no_certificate:
    case FileErrorReason::bad_pem:
      return "not a PEM certificate: check what was copied there";
    case FileErrorReason::too_large:
      return "larger than files.max_file_bytes";
    case FileErrorReason::not_regular_file:
      return "a directory, socket or device where a certificate was expected";
    case FileErrorReason::read_error:
      break;
  }
  return "see the daemon's log";
}

constexpr std::string_view kStyle = R"(
:root{--crit:#c62828;--crit-bg:#fdecea;--warn:#a15c00;--warn-bg:#fff4e0;--info:#1c5fb8;
--info-bg:#e8f0fe;--ok:#1b7f3b;--ok-bg:#e8f5ec;--muted:#5f6368;--line:#e3e5e8}
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1f2328;
background:#f6f7f9}
header{background:#1f2430;color:#fff;padding:14px 24px;display:flex;align-items:baseline;gap:18px;
flex-wrap:wrap}
header h1{font-size:18px;margin:0}header .meta{color:#b8bfcc;font-size:12.5px}
header nav{margin-left:auto}header a{color:#9cc3ff;margin-left:14px;text-decoration:none}
main{padding:18px 24px 40px;max-width:1500px}
.summary{display:flex;gap:12px;flex-wrap:wrap;margin-bottom:16px}
.tile{background:#fff;border:1px solid var(--line);border-left:6px solid var(--ok);border-radius:6px;
padding:10px 16px;min-width:150px}
.tile b{display:block;font-size:24px;line-height:1.1}.tile span{color:var(--muted);font-size:12.5px}
.tile.crit{border-left-color:var(--crit)}.tile.warn{border-left-color:var(--warn)}
.tile.info{border-left-color:var(--info)}.tile.zero{opacity:.55}
.notice{background:var(--warn-bg);border:1px solid #f0c36d;border-radius:6px;padding:10px 14px;
margin:0 0 12px}
.notice.crit{background:var(--crit-bg);border-color:#f5a5a0}
.notice code,.mono{font-family:ui-monospace,"SFMono-Regular",Menlo,Consolas,monospace;font-size:12.5px}
h2{font-size:15px;margin:22px 0 8px}h2 small{color:var(--muted);font-weight:400}
table{border-collapse:collapse;width:100%;background:#fff;border:1px solid var(--line);
border-radius:6px;overflow:hidden}
th,td{padding:6px 10px;text-align:left;vertical-align:top;border-bottom:1px solid var(--line)}
th{background:#f0f2f5;font-weight:600;font-size:12.5px;color:#3c4043}
tr:last-child td{border-bottom:0}td.mono{word-break:break-all}
tr.crit td:first-child{box-shadow:inset 4px 0 var(--crit)}tr.warn td:first-child{box-shadow:inset 4px 0 var(--warn)}
tr.info td:first-child{box-shadow:inset 4px 0 var(--info)}tr.ok td:first-child{box-shadow:inset 4px 0 var(--ok)}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;font-weight:600;
white-space:nowrap}
.badge.crit{background:var(--crit-bg);color:var(--crit)}.badge.warn{background:var(--warn-bg);color:var(--warn)}
.badge.info{background:var(--info-bg);color:var(--info)}.badge.ok{background:var(--ok-bg);color:var(--ok)}
.left.crit{color:var(--crit);font-weight:600}.left.warn{color:var(--warn);font-weight:600}
.muted{color:var(--muted)}.empty{padding:14px;color:var(--muted);background:#fff;
border:1px dashed var(--line);border-radius:6px}
footer{color:var(--muted);font-size:12px;margin-top:26px}
)";

// The exact fix for a failing check: a command line to paste (built by command_line(), which
// quotes every file name, SAN and user name), or a sentence, or both.
struct Fix {
  Fix(std::string sentence) : text(std::move(sentence)) {}  // NOLINT: a fix that is a sentence
  Fix(const char* sentence) : text(sentence) {}             // NOLINT
  Fix(std::vector<ShellCommand> commands, std::string sentence = {})
      : command(command_line(commands)), text(std::move(sentence)) {}
  CommandLine command;
  std::string text;  // after the command
};

Fix fix_for(const rules::CheckFailure& f, const state::Snapshot& s) {
  const std::string& path = f.id.path;
  const auto slash = path.rfind('/');
  const std::string key = path.ends_with(".crt") ? path.substr(0, path.size() - 4) + ".key" : path;
  // Only a file has a certs directory on this host; a probed or reported node's is elsewhere.
  const ShellArg certs_dir = f.id.source == kSourceFile && slash != std::string::npos
                                 ? value_arg("CERTS_DIR", path.substr(0, slash), "--certs-dir=")
                                 : literal_arg("--certs-dir=/path/to/certs");
  const std::vector<ShellArg> reissue{certs_dir, literal_arg("--ca-key=/path/to/ca.key"),
                                      literal_arg("--overwrite")};
  const ShellCommand sighup{
      {"pkill"}, {literal_arg("-SIGHUP"), literal_arg("-x")}, {literal_arg("cockroach")}};
  // The names the certificate carries now, each an argument of its own.
  const auto current_sans = [&] {
    std::vector<ShellArg> names;
    for (const CertObservation* cert : s.certificates) {
      if (cert->id == f.id && cert->facts) {
        for (const auto& n : cert->facts->dns_names) names.push_back(value_arg("SAN", n));
        for (const auto& n : cert->facts->ip_addresses) names.push_back(value_arg("SAN", n));
        break;
      }
    }
    return names;
  };
  const std::string& check = f.check;
  if (check == rules::kCheckSanMissing) {
    std::vector<ShellArg> names = current_sans();
    for (const rules::CheckFailure& other : s.check_failures) {
      if (other.id == f.id && other.check == check) names.push_back(value_arg("SAN", other.detail));
    }
    return Fix({{{"cockroach", "cert", "create-node"}, reissue, names}, sighup});
  }
  if (check == rules::kCheckKeyPermissions) {
    return Fix({{{"chmod"}, {}, {literal_arg("0600"), value_arg("KEY_FILE", key)}},
                {{"chown"}, {}, {literal_arg("cockroach"), value_arg("KEY_FILE", key)}}});
  }
  if (check == rules::kCheckKeyOwner) {
    return Fix({{{"chown"}, {}, {literal_arg("OWNER"), value_arg("KEY_FILE", key)}}},
               "(OWNER: the configured key_owner)");
  }
  if (check == rules::kCheckKeyMissing) {
    return "put the private key of " + path + " at " + key + " (mode 0600), or re-issue both";
  }
  if (check == rules::kCheckCaKeyPresent) {
    return "move " + path + " off this host to offline storage; nodes never read it";
  }
  if (check == rules::kCheckCnMismatch || check == rules::kCheckEkuMissing ||
      check == rules::kCheckWeakKey || check == rules::kCheckWeakSignature) {
    const std::string why = "(RSA 2048+, SHA-256, CN and key usages as CockroachDB needs)";
    if (f.id.cert_type == CertType::client) {
      return Fix(
          {{{"cockroach", "cert", "create-client"}, reissue, {value_arg("SQL_USER", f.id.user)}}},
          why);
    }
    std::vector<ShellArg> names = current_sans();
    if (names.empty())
      return "re-issue it with cockroach cert create-node and every SAN of the node " + why;
    return Fix({{{"cockroach", "cert", "create-node"}, reissue, std::move(names)}}, why);
  }
  if (check == rules::kCheckChainUntrusted) {
    const std::string_view fix = rules::chain_fix_of(f);  // one per cause
    return fix.empty() ? "see the CrdbCertChainUntrusted runbook" : std::string(fix);
  }
  if (check == rules::kCheckOutlivesCa) {
    return "rotate the CA before it expires: a combined ca.crt (new first, old second) on every "
           "node and client, then re-issue the leaves from the new CA";
  }
  if (check == rules::kCheckKeyMismatch) {
    return "put the key that belongs to " + path + " at " + key + ", or re-issue both";
  }
  return "replace it now, and remove the compromised certificate or CA from every trust bundle";
}

// The command in a code element, as it is (command_line() shows only what shows as it is, so the
// display escaping changes nothing a paste would need), then the sentence and the notes.
std::string render_fix(const Fix& fix) {
  std::string html;
  if (!fix.command.text.empty()) html += "<code>" + escape_html(fix.command.text) + "</code>";
  if (!fix.text.empty()) html += (html.empty() ? "" : " ") + escape_html(fix.text);
  for (const std::string& note : fix.command.notes) {
    html += "<br><span class=\"muted\">" + escape_html(note) + "</span>";
  }
  return html;
}

// A source's own section: its title and rows; times show as ages, with the timestamp on hover.
std::string render_table(const Table& table, double now) {
  std::string html = "<h2>" + escape_html(table.title) + "</h2>\n<table><tr>";
  for (const std::string& column : table.columns) html += "<th>" + escape_html(column) + "</th>";
  html += "</tr>\n";
  for (const auto& row : table.rows) {
    html += "<tr>";
    for (const Cell& cell : row) {
      if (cell.time) {
        html += "<td title=\"" + format_time(*cell.time) + "\">" + format_age(*cell.time, now);
      } else {
        html += std::string(cell.mono ? "<td class=\"mono\">" : "<td>") + escape_html(cell.text);
      }
      if (!cell.note.empty()) {
        html += " <span class=\"muted\">" + escape_html(cell.note) + "</span>";
      }
      html += "</td>";
    }
    html += "</tr>\n";
  }
  return html + "</table>\n";
}

// Conditions the page shows in sections of their own; the others become notices.
bool shown_elsewhere(Condition condition) {
  return condition == Condition::file_error || condition == Condition::reload_pending ||
         condition == Condition::source_down || condition == Condition::config_reload_failed;
}

}  // namespace

std::string render_status_page(const state::Snapshot& s, const std::string& telemetry_path) {
  const double now = s.generated_at;
  std::string html;
  html.reserve(8192 + s.certificates.size() * 600);
  html +=
      "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\n"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
      "<title>crdb-certwatch</title><style>";
  html += kStyle;
  html += "</style></head><body>\n<header><h1>crdb-certwatch</h1><span class=\"meta\">version " +
          escape_html(s.build.version) + " (" + escape_html(s.build.revision) + "), " +
          escape_html(s.build.openssl_version) + " &middot; snapshot " + format_time(now) +
          "</span><nav><a href=\"" + escape_html(telemetry_path) +
          "\">Metrics</a><a href=\"/-/healthy\">Health</a><a href=\"/-/ready\">Ready</a></nav>"
          "</header>\n<main>\n";

  // Summary tiles: how many certificates need what, worst first.
  std::size_t counts[4] = {0, 0, 0, 0};
  for (const rules::CertState& state : s.states) ++counts[static_cast<int>(state.severity)];
  const struct {
    Severity severity;
    const char* label;
  } tiles[] = {{Severity::critical, "critical: act now"},
               {Severity::warning, "warning: schedule"},
               {Severity::info, "info: plan"},
               {Severity::none, "ok"}};
  html += "<div class=\"summary\">";
  for (const auto& tile : tiles) {
    const std::size_t n = counts[static_cast<int>(tile.severity)];
    html += std::string("<div class=\"tile ") + severity_class(tile.severity) +
            (n == 0 ? " zero" : "") + "\"><b>" + std::to_string(n) + "</b><span>" + tile.label +
            "</span></div>";
  }
  std::size_t sources_down = 0;
  for (const state::SourceHealth& h : s.health) sources_down += h.polled && !h.up ? 1 : 0;
  html += std::string("<div class=\"tile ") + (s.file_errors.empty() ? "zero" : "warn") + "\"><b>" +
          std::to_string(s.file_errors.size()) +
          "</b><span>unreadable files</span></div><div class=\"tile " +
          (sources_down == 0 ? "zero" : "crit") + "\"><b>" + std::to_string(sources_down) +
          "</b><span>sources down</span></div></div>\n";

  if (!s.ready()) {
    html +=
        "<div class=\"notice\">Waiting for the first poll of every source; the figures "
        "below are incomplete.</div>\n";
  }
  if (!s.config_reload_ok) {
    html +=
        "<div class=\"notice crit\">The last configuration reload failed: the daemon runs "
        "the previous configuration. Check the log (<code>journalctl -u "
        "crdb-certwatch</code>) and run <code>crdb-certwatch --config.check</code>.</div>\n";
  }
  for (const rules::ReloadPending& p : s.reload_pending) {
    html += "<div class=\"notice\"><b>Reload pending on node " + escape_html(p.node_id) +
            ":</b> <code>" + escape_html(p.path) + "</code> on disk expires " +
            format_time(static_cast<double>(p.on_disk_not_after)) + ", but CockroachDB still " +
            "serves the " + std::string(to_string(p.cert_type)) + " certificate that expires " +
            format_time(static_cast<double>(p.loaded_not_after)) +
            ". CockroachDB reads certificates only on SIGHUP: on that host run <code>pkill "
            "-HUP -x cockroach</code> (or <code>systemctl reload cockroach</code>)." +
            (rules::wire_confirms(p, s.served_mismatch)
                 ? " The probe confirms it: the node still serves the old certificate."
                 : "") +
            "</div>\n";
  }

  if (!s.check_failures.empty()) {
    html += "<h2>Problems <small>(" + std::to_string(s.check_failures.size()) +
            " failing checks)</small></h2>\n<table><tr><th>Check</th><th>Certificate</th>"
            "<th>Detail</th><th>Why it matters</th><th>Fix</th></tr>\n";
    for (const rules::CheckFailure& f : s.check_failures) {
      const char* css = severity_class(f.severity);
      std::string where = f.id.path.empty() ? "node " + f.id.node_id : f.id.path;
      if (!f.id.index.empty() && f.id.index != "0") where += " [bundle #" + f.id.index + "]";
      html += std::string("<tr class=\"") + css + "\"><td><span class=\"badge " + css + "\">" +
              escape_html(f.check) + "</span></td><td class=\"mono\">" +
              escape_html(std::string(to_string(f.id.cert_type))) + " " + escape_html(where) +
              "</td><td>" + escape_html(f.detail) + "</td><td class=\"muted\">" +
              escape_html(std::string(rules::why_of(f))) + "</td><td>" + render_fix(fix_for(f, s)) +
              "</td></tr>\n";
    }
    html += "</table>\n";
  }

  html += "<h2>Certificates <small>(" + std::to_string(s.certificates.size()) +
          ", most urgent first)</small></h2>\n";
  if (s.certificates.empty()) {
    html +=
        "<div class=\"empty\">No certificates found yet. Check <code>files.certs_dirs</code> "
        "in the configuration and the file errors below.</div>\n";
  } else {
    html +=
        "<table><tr><th>State</th><th>Time left</th><th>Expires</th><th>Type</th>"
        "<th>Source</th><th>Node / path</th><th>Subject</th><th>Issuer</th></tr>\n";
    std::vector<std::size_t> order(s.certificates.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
      if (s.states[a].severity != s.states[b].severity) {
        return s.states[a].severity > s.states[b].severity;
      }
      const auto left = [&](std::size_t i) {
        return s.certificates[i]->not_after.value_or(std::numeric_limits<std::int64_t>::min());
      };
      return left(a) < left(b);
    });
    for (const std::size_t i : order) {
      const CertObservation& cert = *s.certificates[i];
      const rules::CertState& state = s.states[i];
      const char* css = severity_class(state.severity);
      std::string where = cert.id.path.empty() ? "node " + cert.id.node_id : cert.id.path;
      if (!cert.id.path.empty() && !cert.id.node_id.empty())
        where += " (node " + cert.id.node_id + ")";
      if (!cert.id.index.empty() && cert.id.index != "0") {
        where += " [bundle #" + cert.id.index + "]";
      }
      if (!cert.id.user.empty()) where += " user " + cert.id.user;
      html += std::string("<tr class=\"") + css + "\"><td><span class=\"badge " + css + "\">" +
              escape_html(state.action) + "</span>" + renewal_note(state, now) + "</td>";
      if (cert.not_after && !cert.load_failed) {
        html += std::string("<td class=\"left ") + css + "\">" +
                format_left(*cert.not_after - static_cast<std::int64_t>(now)) + "</td><td>" +
                format_time(static_cast<double>(*cert.not_after)) + "</td>";
      } else {
        html += "<td colspan=\"2\" class=\"left crit\">node could not load it</td>";
      }
      html += "<td>" + std::string(to_string(cert.id.cert_type)) + "</td><td>" +
              escape_html(cert.id.source) + "</td><td class=\"mono\">" + escape_html(where) +
              "</td><td>" + escape_html(cert.facts ? cert.facts->subject_cn : "") +
              "</td><td class=\"muted\">" + escape_html(cert.facts ? cert.facts->issuer_cn : "") +
              "</td></tr>\n";
    }
    html += "</table>\n";
  }

  if (!s.ca_usage.empty()) {
    html +=
        "<h2>CA rotation</h2>\n<table><tr><th>Bundle</th><th>CA</th><th>Expires</th>"
        "<th>Certificates depending on it</th><th>Status</th></tr>\n";
    for (const rules::CaUsage& usage : s.ca_usage) {
      const CertObservation& ca = *usage.ca;
      const char* css = usage.removable ? "ok" : "info";
      html += std::string("<tr class=\"") + css + "\"><td class=\"mono\">" +
              escape_html(ca.id.path) + " #" + escape_html(ca.id.index) + "</td><td>" +
              escape_html(ca.facts->subject_cn) + "</td><td>" +
              format_time(static_cast<double>(ca.facts->not_after)) + "</td><td>" +
              std::to_string(usage.issued) + "</td><td>" +
              (usage.removable    ? "<span class=\"badge ok\">safe to remove</span>"
               : usage.issued > 0 ? "in use"
                                  : "keep: no other valid CA") +
              "</td></tr>\n";
    }
    html += "</table>\n";
  }

  if (!s.file_errors.empty()) {
    html += "<h2>Unreadable files <small>(" + std::to_string(s.file_errors.size()) +
            ")</small></h2>\n<table><tr><th>Path</th><th>Reason</th><th>Detail</th>"
            "<th>What to do</th></tr>\n";
    for (const FileError* error : s.file_errors) {
      const FileError& e = *error;
      html += "<tr class=\"warn\"><td class=\"mono\">" + escape_html(e.path) +
              "</td><td><span class=\"badge warn\">" + std::string(to_string(e.reason)) +
              "</span></td><td>" + escape_html(e.detail) + "</td><td class=\"muted\">" +
              file_error_hint(e.reason) + "</td></tr>\n";
    }
    html += "</table>\n";
  }

  html +=
      "<h2>Sources</h2>\n<table><tr><th>Source</th><th>Status</th><th>Last poll</th>"
      "<th>Last success</th><th>Duration</th><th>Errors</th><th>Last error</th></tr>\n";
  for (const state::SourceHealth& h : s.health) {
    const char* css = !h.polled ? "info" : h.up ? "ok" : "crit";
    const char* status = !h.polled ? "pending" : h.up ? "up" : "down";
    char duration[32];
    std::snprintf(duration, sizeof duration, "%.3f s", h.last_duration);
    std::uint64_t errors = 0;
    for (const auto& [reason, n] : h.errors_total) errors += n;
    html += std::string("<tr class=\"") + css + "\"><td>" + escape_html(h.source) +
            "</td><td><span class=\"badge " + css + "\">" + status + "</span></td><td title=\"" +
            format_time(h.last_poll) + "\">" + format_age(h.last_poll, now) + "</td><td title=\"" +
            format_time(h.last_success) + "\">" + format_age(h.last_success, now) + "</td><td>" +
            duration + "</td><td>" + std::to_string(errors) + "</td><td>" +
            escape_html(h.last_error ? h.last_error->message : "") + "</td></tr>\n";
  }
  html += "</table>\n";

  for (const Table& table : s.tables) html += render_table(table, now);
  for (const Finding& finding : s.findings) {
    if (shown_elsewhere(finding.condition)) continue;
    html += std::string("<div class=\"notice ") +
            severity_class(rules::severity_of(finding.condition)) + "\">" +
            escape_html(finding.message) + "</div>\n";
  }
  html +=
      "<footer>Thresholds and actions come from the <code>rules</code> of the configuration; "
      "<code>crdb-certwatch rules</code> prints the matching Prometheus alerts. Machine-"
      "readable: <a href=\"" +
      escape_html(telemetry_path) + "\">" + escape_html(telemetry_path) +
      "</a>.</footer>\n</main></body></html>\n";
  return html;
}

}  // namespace certwatch::exporter
