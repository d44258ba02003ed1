#include "http/routes.hpp"

#include "core/clock.hpp"
#include "exporter/compress.hpp"
#include "exporter/runbooks.hpp"
#include "exporter/status_page.hpp"
#include "state/collect.hpp"

namespace certwatch::web {
namespace {

Response make_response(http::status status, std::string content_type, std::string body) {
  Response res{status, 11};
  res.set(http::field::content_type, std::move(content_type));
  res.set(http::field::cache_control, "no-store");
  res.body() = std::move(body);
  return res;
}

// Each stale source on a line of its own ("stale: NAME (why)"), for /-/healthy's body.
std::string stale_lines(const state::Snapshot& snapshot, double now) {
  std::string out;
  for (const state::SourceHealth& h : snapshot.health) {
    const std::string why = h.stale_reason(now);
    if (!why.empty()) out += "stale: " + h.source + " (" + why + ")\n";
  }
  return out;
}

}  // namespace

Handler make_web_handler(WebOptions options, ExpositionProvider exposition) {
  return [options = std::move(options), exposition = std::move(exposition)](const Request& req) {
    std::string_view target(req.target().data(), req.target().size());
    if (const auto q = target.find('?'); q != std::string_view::npos) target = target.substr(0, q);
    const auto current = exposition();
    if (target == options.telemetry_path) {
      const auto encoding = req.find(http::field::accept_encoding);
      const bool gzip = encoding != req.end() &&
                        exporter::accepts_gzip(
                            std::string_view(encoding->value().data(), encoding->value().size())) &&
                        !current->gzip().empty();
      // The body points into the exposition, which the response keeps alive until it is written.
      Response res = make_response(http::status::ok, std::string(kExpositionContentType), "");
      res.body() = SharedText(current, gzip ? current->gzip() : current->text);
      res.set(http::field::vary, "Accept-Encoding");
      if (gzip) res.set(http::field::content_encoding, "gzip");
      return res;
    }
    if (target == "/") {
      return make_response(
          http::status::ok, "text/html; charset=utf-8",
          exporter::render_status_page(*current->snapshot, options.telemetry_path));
    }
    if (target == "/runbooks" || target == "/runbooks/") {
      return make_response(http::status::ok, "text/html; charset=utf-8",
                           exporter::render_runbook_index());
    }
    if (target.starts_with("/runbooks/")) {
      if (auto runbook =
              exporter::render_runbook(target.substr(std::string_view("/runbooks/").size()))) {
        return make_response(http::status::ok, "text/html; charset=utf-8", std::move(*runbook));
      }
      return make_response(http::status::not_found, "text/plain; charset=utf-8", "Not found\n");
    }
    if (target == "/-/healthy") {
      // 200 while the process works (a stale source is not a reason to restart it); the body
      // names the sources whose data is stale (issue 28).
      return make_response(http::status::ok, "text/plain; charset=utf-8",
                           "Healthy\n" + stale_lines(*current->snapshot, unix_now()));
    }
    if (target == "/-/ready") {
      if (current->snapshot->ready()) {
        return make_response(http::status::ok, "text/plain; charset=utf-8", "Ready\n");
      }
      std::string waiting;
      for (const state::SourceHealth& h : current->snapshot->health) {
        if (!h.polled) waiting += (waiting.empty() ? "" : ", ") + h.source;
      }
      return make_response(
          http::status::service_unavailable, "text/plain; charset=utf-8",
          "Not ready: waiting for the first poll of every source (still polling: " + waiting +
              ")\n");
    }
    return make_response(http::status::not_found, "text/plain; charset=utf-8", "Not found\n");
  };
}

}  // namespace certwatch::web
