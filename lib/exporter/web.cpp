#include "exporter/web.hpp"

#include "exporter/compress.hpp"

#include <algorithm>
#include <cmath>
#include <ctime>
#include <numeric>

namespace certwatch::exporter {
namespace {

std::string escape_html(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string format_time(double unix_seconds) {
  if (unix_seconds <= 0) return "never";
  const auto t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &tm);
  return buf;
}

std::string format_left(std::int64_t seconds) {
  const bool past = seconds < 0;
  const std::int64_t s = std::llabs(seconds);
  std::string text;
  if (s >= 86400) {
    text = std::to_string(s / 86400) + "d " + std::to_string((s % 86400) / 3600) + "h";
  } else if (s >= 3600) {
    text = std::to_string(s / 3600) + "h " + std::to_string((s % 3600) / 60) + "m";
  } else {
    text = std::to_string(s / 60) + "m " + std::to_string(s % 60) + "s";
  }
  return past ? "expired " + text + " ago" : text;
}

Response make_response(http::status status, std::string content_type, std::string body) {
  Response res{status, 11};
  res.set(http::field::content_type, std::move(content_type));
  res.set(http::field::cache_control, "no-store");
  res.body() = std::move(body);
  return res;
}

}  // namespace

std::string render_status_page(const Snapshot& s, const std::string& telemetry_path) {
  std::string html;
  html.reserve(4096 + s.certificates.size() * 400);
  html += R"(<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>crdb-certwatch</title><style>
body{font-family:system-ui,sans-serif;margin:1.5rem;color:#1d1d1f;background:#fafafa}
h1{font-size:1.4rem;margin:0 0 .3rem}h2{font-size:1.1rem;margin-top:1.6rem}
table{border-collapse:collapse;width:100%;background:#fff;font-size:.88rem}
th,td{border:1px solid #ddd;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#f0f0f0}td.mono{font-family:ui-monospace,monospace;word-break:break-all}
.sev-critical{background:#fde2e1}.sev-warning{background:#fff4d6}.sev-info{background:#e6f0ff}
.sev-none{background:#fff}.badge{font-weight:600}.down{color:#b00020;font-weight:600}
.up{color:#0a7d2c;font-weight:600}.notice{background:#fff4d6;border:1px solid #e0b400;padding:.6rem;margin:.6rem 0}
</style></head><body>
<h1>crdb-certwatch</h1>
)";
  html += "<p>Version " + escape_html(s.build.version) + " (" + escape_html(s.build.revision) +
          "), " + escape_html(s.build.openssl_version) + ". Snapshot of " +
          format_time(s.generated_at) + ". <a href=\"" + escape_html(telemetry_path) +
          "\">Metrics</a></p>\n";

  for (const rules::ReloadPending& p : s.reload_pending) {
    html +=
        "<div class=\"notice\">Reload pending: <code>" + escape_html(p.path) +
        "</code> on disk expires " + format_time(static_cast<double>(p.on_disk_not_after)) +
        ", but node " + escape_html(p.node_id) + " still serves a " +
        std::string(to_string(p.cert_type)) + " certificate expiring " +
        format_time(static_cast<double>(p.loaded_not_after)) +
        ". Send SIGHUP to the cockroach process (<code>pkill -SIGHUP -x cockroach</code>).</div>\n";
  }

  html +=
      "<h2>Certificates</h2>\n<table><tr><th>State</th><th>Source</th><th>Type</th>"
      "<th>Node / path</th><th>Subject</th><th>Expires</th><th>Time left</th></tr>\n";
  std::vector<std::size_t> order(s.certificates.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return s.states[a].severity > s.states[b].severity;
  });
  for (const std::size_t i : order) {
    const CertObservation& cert = s.certificates[i];
    const rules::CertState& state = s.states[i];
    const std::string severity(to_string(state.severity));
    std::string where = cert.id.path.empty() ? "node " + cert.id.node_id : cert.id.path;
    if (!cert.id.index.empty() && cert.id.index != "0") where += " [" + cert.id.index + "]";
    if (!cert.id.path.empty() && cert.id.index == "0") where += " [0]";
    const std::string subject = cert.facts ? cert.facts->subject_cn : "";
    html += "<tr class=\"sev-" + severity + "\"><td class=\"badge\">" + escape_html(state.action) +
            " (" + severity + ")</td><td>" + std::string(to_string(cert.id.source)) + "</td><td>" +
            std::string(to_string(cert.id.cert_type)) + "</td><td class=\"mono\">" +
            escape_html(where) + "</td><td>" + escape_html(subject) + "</td>";
    if (cert.not_after && !cert.load_failed) {
      html += "<td>" + format_time(static_cast<double>(*cert.not_after)) + "</td><td>" +
              format_left(*cert.not_after - static_cast<std::int64_t>(s.generated_at)) + "</td>";
    } else {
      html += "<td colspan=\"2\">node reports no loadable certificate</td>";
    }
    html += "</tr>\n";
  }
  html += "</table>\n";

  if (!s.file_errors.empty()) {
    html += "<h2>File errors</h2>\n<table><tr><th>Path</th><th>Reason</th><th>Detail</th></tr>\n";
    for (const FileError& e : s.file_errors) {
      html += "<tr class=\"sev-warning\"><td class=\"mono\">" + escape_html(e.path) + "</td><td>" +
              std::string(to_string(e.reason)) + "</td><td>" + escape_html(e.detail) +
              "</td></tr>\n";
    }
    html += "</table>\n";
  }

  html +=
      "<h2>Sources</h2>\n<table><tr><th>Source</th><th>Status</th><th>Last poll</th>"
      "<th>Last success</th><th>Duration</th><th>Last error</th></tr>\n";
  for (const SourceHealth& h : s.health) {
    const char* status = !h.polled ? "pending" : h.up ? "up" : "down";
    char duration[32];
    std::snprintf(duration, sizeof duration, "%.3f s", h.last_duration);
    html += "<tr><td>" + std::string(to_string(h.kind)) + "</td><td class=\"" +
            (h.up ? "up" : "down") + "\">" + status + "</td><td>" + format_time(h.last_poll) +
            "</td><td>" + format_time(h.last_success) + "</td><td>" + duration + "</td><td>" +
            escape_html(h.last_error) + "</td></tr>\n";
  }
  html += "</table>\n";
  if (s.cluster) {
    html +=
        "<h2>Cluster nodes</h2>\n<table><tr><th>Node</th><th>Address</th><th>Version</th>"
        "<th>Last status update</th></tr>\n";
    for (const sources::NodeInfo& node : s.cluster->nodes) {
      html += "<tr><td>" + escape_html(node.node_id) +
              (node.node_id == s.cluster->local_node_id ? " (local)" : "") + "</td><td>" +
              escape_html(node.address) + "</td><td>" + escape_html(node.server_version) +
              "</td><td>" + format_time(node.updated_at) + "</td></tr>\n";
    }
    html +=
        std::string("</table>\n<p>Cluster security: ") +
        (s.cluster->secure ? "secure (nodes report certificates)"
                           : "<span class=\"down\">insecure: no node reports certificates</span>") +
        "</p>\n";
  }
  html += "</body></html>\n";
  return html;
}

Handler make_web_handler(WebOptions options, SnapshotProvider snapshot) {
  return [options = std::move(options), snapshot = std::move(snapshot)](const Request& req) {
    std::string_view target(req.target().data(), req.target().size());
    if (const auto q = target.find('?'); q != std::string_view::npos) target = target.substr(0, q);
    const auto current = snapshot();
    if (target == options.telemetry_path) {
      const auto encoding = req.find(http::field::accept_encoding);
      const bool gzip =
          encoding != req.end() &&
          accepts_gzip(std::string_view(encoding->value().data(), encoding->value().size())) &&
          !current->metrics_gzip().empty();
      Response res = make_response(http::status::ok, "text/plain; version=0.0.4; charset=utf-8",
                                   gzip ? current->metrics_gzip() : current->metrics_text);
      res.set(http::field::vary, "Accept-Encoding");
      if (gzip) res.set(http::field::content_encoding, "gzip");
      return res;
    }
    if (target == "/") {
      return make_response(http::status::ok, "text/html; charset=utf-8",
                           render_status_page(*current, options.telemetry_path));
    }
    if (target == "/-/healthy") {
      return make_response(http::status::ok, "text/plain; charset=utf-8", "Healthy\n");
    }
    if (target == "/-/ready") {
      if (current->ready()) {
        return make_response(http::status::ok, "text/plain; charset=utf-8", "Ready\n");
      }
      return make_response(http::status::service_unavailable, "text/plain; charset=utf-8",
                           "Not ready: waiting for the first poll of every source\n");
    }
    return make_response(http::status::not_found, "text/plain; charset=utf-8", "Not found\n");
  };
}

}  // namespace certwatch::exporter
