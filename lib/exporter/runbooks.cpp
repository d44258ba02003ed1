#include "exporter/runbooks.hpp"

#include <md4c-html.h>

#include "core/text.hpp"
#include "state/remedy.hpp"

namespace certwatch::exporter {
namespace {

constexpr std::string_view kStyle = R"(
*{box-sizing:border-box}
body{font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1f2328;
background:#f6f7f9;overflow-wrap:anywhere}
header{background:#1f2430;color:#fff;padding:10px 16px}header a{color:#9cc3ff;text-decoration:none}
main{padding:12px 16px 40px;max-width:900px}
pre{background:#fff;border:1px solid #e3e5e8;border-radius:6px;padding:8px 10px;white-space:pre-wrap;
overflow-wrap:anywhere}
code{font-family:ui-monospace,"SFMono-Regular",Menlo,Consolas,monospace;font-size:13px}
table{border-collapse:collapse;display:block;max-width:100%;overflow-x:auto}
th,td{border:1px solid #e3e5e8;padding:4px 8px;text-align:left;vertical-align:top}
h1{font-size:20px}h2{font-size:17px}h3{font-size:15px}
)";

std::string page(std::string_view title, std::string_view body) {
  return "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\n"
         "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>" +
         escape_html(title) + " - crdb-certwatch</title><style>" + std::string(kStyle) +
         "</style></head><body>\n<header><a href=\"/\">crdb-certwatch</a> &middot; <a "
         "href=\"/runbooks/\">runbooks</a></header>\n<main>\n" +
         std::string(body) + "</main></body></html>\n";
}

void append_output(const MD_CHAR* text, MD_SIZE size, void* out) {
  static_cast<std::string*>(out)->append(text, size);
}

}  // namespace

std::optional<std::string> render_runbook(std::string_view alert) {
  if (alert.ends_with(".md")) alert.remove_suffix(3);
  for (const EmbeddedRunbook& runbook : embedded_runbooks()) {
    if (runbook.alert != alert) continue;
    std::string body;
    // MD_FLAG_NOHTML: a page is shown as written, never as markup it carries.
    if (md_html(runbook.markdown.data(), static_cast<MD_SIZE>(runbook.markdown.size()),
                append_output, &body, MD_DIALECT_GITHUB | MD_FLAG_NOHTML, 0) != 0) {
      body = "<pre>" + escape_html(runbook.markdown) + "</pre>";
    }
    // The why and the fix every other output shows, first: the page is opened from an alert.
    if (const auto remedy = state::remedy_for_alert(alert)) {
      const auto heading_end = body.find("</h1>");
      const auto at = heading_end == std::string::npos ? 0 : heading_end + 5;
      body.insert(at, "\n<p><b>Why it matters:</b> " + escape_html(remedy->why) +
                          "</p>\n<p><b>Fix:</b> <code>" + escape_html(remedy->fix) +
                          "</code></p>\n");
    }
    return page(alert, body);
  }
  return std::nullopt;
}

std::string render_runbook_index() {
  std::string body = "<h1>Runbooks</h1>\n<ul>\n";
  for (const EmbeddedRunbook& runbook : embedded_runbooks()) {
    const std::string name = escape_html(runbook.alert);
    body += "<li><a href=\"/runbooks/" + name + "\">" + name + "</a></li>\n";
  }
  return page("Runbooks", body + "</ul>\n");
}

}  // namespace certwatch::exporter
