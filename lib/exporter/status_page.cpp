#include "exporter/status_page.hpp"

#include <algorithm>
#include <limits>
#include <numeric>

#include "core/text.hpp"
#include "rules/checks.hpp"
#include "rules/conditions.hpp"
#include "state/remedy.hpp"

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
td,.notice,.next{overflow-wrap:anywhere}
.fix{display:block;font-family:ui-monospace,"SFMono-Regular",Menlo,Consolas,monospace;
font-size:12.5px;white-space:pre-wrap;overflow-wrap:anywhere;background:#f6f8fa;
border:1px solid var(--line);border-radius:4px;padding:4px 6px;margin-top:2px}
.next{background:#fff;border:1px solid var(--line);border-left:6px solid var(--ok);border-radius:6px;
padding:10px 16px;margin:0 0 14px}
.next.crit{border-left-color:var(--crit)}.next.warn{border-left-color:var(--warn)}
.next.info{border-left-color:var(--info)}.next h2{margin:0 0 6px}.next p{margin:4px 0}
@media (max-width:720px){
header{padding:10px 12px;gap:4px 12px}header nav{margin-left:0}header a{margin:0 14px 0 0}
main{padding:10px 10px 28px}
.summary{gap:8px}.tile{min-width:0;flex:1 1 40%;padding:6px 10px}.tile b{font-size:20px}
table,tbody,tr,td{display:block;width:100%}
table{border:0;background:none;border-radius:0}
tr.head{display:none}
tr{background:#fff;border:1px solid var(--line);border-radius:6px;margin:0 0 8px;padding:4px 0}
td{border:0;padding:3px 10px}
td[data-label]::before{content:attr(data-label);display:block;font-size:11.5px;font-weight:600;
color:var(--muted)}
tr.crit td:first-child,tr.warn td:first-child,tr.info td:first-child,tr.ok td:first-child{
box-shadow:none}
tr.crit{border-left:5px solid var(--crit)}tr.warn{border-left:5px solid var(--warn)}
tr.info{border-left:5px solid var(--info)}tr.ok{border-left:5px solid var(--ok)}
}
@media print{header nav{display:none}}
)";

// The label a cell shows above its value when a table row becomes a card on a narrow screen.
std::string labelled(std::string_view label) {
  return " data-label=\"" + escape_html(label) + "\"";
}

// A remedy's fix: its prose escaped, each command line in it as code to paste (as it is: a line
// shows only what shows as it is, so escaping it for display changes nothing a paste needs),
// then what each shell variable of those lines stands for.
std::string render_fix(const state::Remedy& remedy) {
  std::vector<std::pair<std::size_t, std::size_t>> spans;  // where each command is in the fix
  for (const std::string& command : remedy.commands) {
    for (std::size_t at = remedy.fix.find(command); !command.empty() && at != std::string::npos;
         at = remedy.fix.find(command, at + 1)) {
      const bool overlaps = std::any_of(spans.begin(), spans.end(), [&](const auto& span) {
        return at < span.first + span.second && span.first < at + command.size();
      });
      if (!overlaps) {
        spans.emplace_back(at, command.size());
        break;
      }
    }
  }
  std::sort(spans.begin(), spans.end());
  std::string html;
  std::size_t done = 0;
  for (const auto& [at, size] : spans) {
    html += escape_html(remedy.fix.substr(done, at - done)) + "<code class=\"fix\">" +
            escape_html(remedy.fix.substr(at, size)) + "</code>";
    done = at + size;
  }
  html += escape_html(remedy.fix.substr(done));
  for (const std::string& note : remedy.notes) {
    html += "<br><span class=\"muted\">" + escape_html(note) + "</span>";
  }
  return html;
}

// A source's own section: its title and rows; times show as ages, with the timestamp on hover.
std::string render_table(const Table& table, double now) {
  std::string html = "<h2>" + escape_html(table.title) + "</h2>\n<table><tr class=\"head\">";
  for (const std::string& column : table.columns) html += "<th>" + escape_html(column) + "</th>";
  html += "</tr>\n";
  for (const auto& row : table.rows) {
    html += "<tr>";
    for (std::size_t i = 0; i < row.size(); ++i) {
      const Cell& cell = row[i];
      const std::string label = i < table.columns.size() ? labelled(table.columns[i]) : "";
      if (cell.time) {
        html += "<td" + label + " title=\"" + format_time(*cell.time) + "\">" +
                format_age(*cell.time, now);
      } else {
        html += "<td" + label + (cell.mono ? " class=\"mono\">" : ">") + escape_html(cell.text);
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

std::string time_left_text(const std::optional<std::int64_t>& not_after, double now) {
  return not_after ? format_left(*not_after - static_cast<std::int64_t>(now)) : "-";
}

// The first screen of a phone: the most urgent problem with its fix, and what expires next.
std::string render_next(const std::vector<state::Problem>& problems, const state::Snapshot& s) {
  const double now = s.generated_at;
  const CertObservation* next = nullptr;
  for (const CertObservation* cert : s.certificates) {
    if (cert->load_failed || !cert->not_after) continue;
    if (next == nullptr || *cert->not_after < *next->not_after) next = cert;
  }
  const Severity worst = problems.empty() ? Severity::none : problems.front().severity;
  std::string html = std::string("<section class=\"next ") + severity_class(worst) + "\">";
  if (problems.empty()) {
    html += "<h2>Nothing to do</h2><p>All " + std::to_string(s.certificates.size()) +
            " certificates are ok.</p>";
  } else {
    const state::Problem& top = problems.front();
    html += "<h2>Most urgent: <span class=\"badge " + std::string(severity_class(top.severity)) +
            "\">" + escape_html(top.kind) + "</span></h2><p class=\"mono\">" +
            escape_html(top.subject) + "</p>";
    if (top.not_after) {
      html += "<p><b>" + time_left_text(top.not_after, now) + "</b> (" +
              format_time(static_cast<double>(*top.not_after)) + ")</p>";
    }
    if (!top.detail.empty()) html += "<p>" + escape_html(top.detail) + "</p>";
    html += "<p>" + escape_html(top.remedy.why) + "</p><p><b>Fix:</b> " + render_fix(top.remedy) +
            "</p><p><a href=\"/runbooks/" + escape_html(top.remedy.alert) + "\">Runbook " +
            escape_html(top.remedy.alert) + "</a></p>";
  }
  if (next != nullptr) {
    html += "<p><b>Expires next:</b> " + std::string(to_string(next->id.cert_type)) +
            " <span class=\"mono\">" +
            escape_html(next->id.path.empty() ? "node " + next->id.node_id : next->id.path) +
            "</span> in " + time_left_text(next->not_after, now) + " (" +
            format_time(static_cast<double>(*next->not_after)) + ")</p>";
  }
  return html + "</section>\n";
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

  // The problems, most urgent first: the first screen, the tiles and the Problems list.
  const std::vector<state::Problem> problems = state::problems(s);
  html += render_next(problems, s);
  // Summary tiles: the Problems list counted by severity, and the certificates that are ok.
  std::size_t counts[4] = {0, 0, 0, 0};
  for (const state::Problem& problem : problems) ++counts[static_cast<int>(problem.severity)];
  counts[0] = 0;
  for (const rules::CertState& state : s.states) counts[0] += state.severity == Severity::none;
  const struct {
    Severity severity;
    const char* label;
  } tiles[] = {{Severity::critical, "critical: act now"},
               {Severity::warning, "warning: schedule"},
               {Severity::info, "info: plan"},
               {Severity::none, "certificates ok"}};
  html += "<div class=\"summary\">";
  for (const auto& tile : tiles) {
    const std::size_t n = counts[static_cast<int>(tile.severity)];
    html += std::string("<div class=\"tile ") + severity_class(tile.severity) +
            (n == 0 ? " zero" : "") + "\"><b>" + std::to_string(n) + "</b><span>" + tile.label +
            "</span></div>";
  }
  html += "</div>\n";

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

  if (!problems.empty()) {
    html += "<h2>Problems <small>(" + std::to_string(problems.size()) +
            ", most urgent first)</small></h2>\n<table><tr class=\"head\"><th>Problem</th>"
            "<th>Where</th><th>Time left</th><th>Detail</th><th>Why it matters</th><th>Fix</th>"
            "</tr>\n";
    for (const state::Problem& problem : problems) {
      const char* css = severity_class(problem.severity);
      html += std::string("<tr class=\"") + css + "\"><td" + labelled("Problem") +
              "><span class=\"badge " + css + "\">" + escape_html(problem.kind) +
              "</span></td><td" + labelled("Where") + " class=\"mono\">" +
              escape_html(problem.subject) + "</td><td" + labelled("Time left") + ">" +
              time_left_text(problem.not_after, now) + "</td><td" + labelled("Detail") + ">" +
              escape_html(problem.detail) + "</td><td" + labelled("Why it matters") +
              " class=\"muted\">" + escape_html(problem.remedy.why) + "</td><td" + labelled("Fix") +
              ">" + render_fix(problem.remedy) + " <a href=\"/runbooks/" +
              escape_html(problem.remedy.alert) + "\">runbook</a></td></tr>\n";
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
        "<table><tr class=\"head\"><th>State</th><th>Time left</th><th>Expires</th><th>Type</th>"
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
      html += std::string("<tr class=\"") + css + "\"><td" + labelled("State") +
              "><span class=\"badge " + css + "\">" + escape_html(state.action) + "</span>" +
              renewal_note(state, now) + "</td>";
      if (cert.not_after && !cert.load_failed) {
        html += "<td" + labelled("Time left") + " class=\"left " + css + "\">" +
                format_left(*cert.not_after - static_cast<std::int64_t>(now)) + "</td><td" +
                labelled("Expires") + ">" + format_time(static_cast<double>(*cert.not_after)) +
                "</td>";
      } else {
        html += "<td colspan=\"2\" class=\"left crit\">node could not load it</td>";
      }
      html += "<td" + labelled("Type") + ">" + std::string(to_string(cert.id.cert_type)) +
              "</td><td" + labelled("Source") + ">" + escape_html(cert.id.source) + "</td><td" +
              labelled("Node / path") + " class=\"mono\">" + escape_html(where) + "</td><td" +
              labelled("Subject") + ">" + escape_html(cert.facts ? cert.facts->subject_cn : "") +
              "</td><td" + labelled("Issuer") + " class=\"muted\">" +
              escape_html(cert.facts ? cert.facts->issuer_cn : "") + "</td></tr>\n";
    }
    html += "</table>\n";
  }

  if (!s.ca_usage.empty()) {
    html +=
        "<h2>CA rotation</h2>\n<table><tr class=\"head\"><th>Bundle</th><th>CA</th><th>Expires</th>"
        "<th>Certificates depending on it</th><th>Status</th></tr>\n";
    for (const rules::CaUsage& usage : s.ca_usage) {
      const CertObservation& ca = *usage.ca;
      const char* css = usage.removable ? "ok" : "info";
      html += std::string("<tr class=\"") + css + "\"><td" + labelled("Bundle") +
              " class=\"mono\">" + escape_html(ca.id.path) + " #" + escape_html(ca.id.index) +
              "</td><td" + labelled("CA") + ">" + escape_html(ca.facts->subject_cn) + "</td><td" +
              labelled("Expires") + ">" + format_time(static_cast<double>(ca.facts->not_after)) +
              "</td><td" + labelled("Depending on it") + ">" + std::to_string(usage.issued) +
              "</td><td" + labelled("Status") + ">" +
              (usage.removable    ? "<span class=\"badge ok\">safe to remove</span>"
               : usage.issued > 0 ? "in use"
                                  : "keep: no other valid CA") +
              "</td></tr>\n";
    }
    html += "</table>\n";
  }

  html +=
      "<h2>Sources</h2>\n<table><tr class=\"head\"><th>Source</th><th>Status</th><th>Last poll</th>"
      "<th>Last success</th><th>Duration</th><th>Errors</th><th>Last error</th></tr>\n";
  for (const state::SourceHealth& h : s.health) {
    const char* css = !h.polled ? "info" : h.up ? "ok" : "crit";
    const char* status = !h.polled ? "pending" : h.up ? "up" : "down";
    char duration[32];
    std::snprintf(duration, sizeof duration, "%.3f s", h.last_duration);
    std::uint64_t errors = 0;
    for (const auto& [reason, n] : h.errors_total) errors += n;
    html += std::string("<tr class=\"") + css + "\"><td" + labelled("Source") + ">" +
            escape_html(h.source) + "</td><td" + labelled("Status") + "><span class=\"badge " +
            css + "\">" + status + "</span></td><td" + labelled("Last poll") + " title=\"" +
            format_time(h.last_poll) + "\">" + format_age(h.last_poll, now) + "</td><td" +
            labelled("Last success") + " title=\"" + format_time(h.last_success) + "\">" +
            format_age(h.last_success, now) + "</td><td" + labelled("Duration") + ">" + duration +
            "</td><td" + labelled("Errors") + ">" + std::to_string(errors) + "</td><td" +
            labelled("Last error") + ">" + escape_html(h.last_error ? h.last_error->message : "") +
            "</td></tr>\n";
  }
  html += "</table>\n";

  for (const Table& table : s.tables) html += render_table(table, now);
  html +=
      "<footer>Thresholds and actions come from the <code>rules</code> of the configuration; "
      "<code>crdb-certwatch rules</code> prints the matching Prometheus alerts. Machine-"
      "readable: <a href=\"" +
      escape_html(telemetry_path) + "\">" + escape_html(telemetry_path) +
      "</a>.</footer>\n</main></body></html>\n";
  return html;
}

}  // namespace certwatch::exporter
