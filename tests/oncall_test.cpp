// Issue 25, the on-call engineer's view: a why and a fix for every problem (one table, read by the
// page, `check`, the alerts and the runbooks), Problems ordered and counted as the tiles count
// them, and the status page read in a real headless Chromium at phone and desktop widths.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <string>

#include "alerting/rule_file.hpp"
#include "config/config.hpp"
#include "exporter/runbooks.hpp"
#include "exporter/status_page.hpp"
#include "rules/checks.hpp"
#include "rules/conditions.hpp"
#include "rules/rule.hpp"
#include "sources/registry.hpp"
#include "state/collect.hpp"
#include "state/remedy.hpp"
#include "support/certgen.hpp"
#include "support/process.hpp"
#include "support/require_tool.hpp"
#include "support/tempdir.hpp"

using namespace certwatch;
using testing::CertSpec;
using testing::generate_cert;
using testing::GeneratedCert;
using testing::TempDir;

namespace {

constexpr std::int64_t kDay = 86400;

CertSpec spec(std::string cn, bool ca, std::int64_t not_after) {
  CertSpec out;
  out.common_name = std::move(cn);
  out.is_ca = ca;
  out.not_after = not_after;
  return out;
}

// A certs directory an on-call engineer might be paged for: a node certificate 5 days from
// expiry, two SANs missing from it and a world-readable key; a client certificate 60 days out;
// a CA fine for years; a file that is not a certificate. Deep paths, as real installs have.
struct Paged {
  TempDir dir;
  std::int64_t now = testing::unix_now();
  std::filesystem::path certs;
  std::shared_ptr<const state::Snapshot> snapshot;

  Paged() {
    certs = dir.path() / "var/lib/cockroach/a-rather-long-directory-name/certs";
    const GeneratedCert ca = generate_cert(spec("Cockroach CA", true, now + 3000 * kDay));
    CertSpec node_spec = spec("node", false, now + 5 * kDay);
    node_spec.dns_names = {"localhost", "db-1.internal.example.com"};
    node_spec.ip_addresses = {"127.0.0.1"};
    const GeneratedCert node = generate_cert(node_spec, &ca);
    const GeneratedCert client = generate_cert(spec("app_user", false, now + 60 * kDay), &ca);
    const std::string rel = std::filesystem::relative(certs, dir.path()).string();
    dir.write(rel + "/ca.crt", ca.cert_pem);
    dir.write(rel + "/node.crt", node.cert_pem);
    dir.write(rel + "/node.key", node.key_pem, 0644);
    dir.write(rel + "/client.app_user.crt", client.cert_pem);
    dir.write(rel + "/client.app_user.key", client.key_pem, 0600);
    dir.write(rel + "/ui.crt", "not a certificate\n");
    config::Config cfg;
    cfg.files.certs_dirs = {certs.string()};
    cfg.checks.san_required = {"lb.example.com", "10.0.0.7"};
    const double clock = static_cast<double>(now);
    snapshot = state::poll_once(sources::make_sources(cfg), cfg.rules, cfg.checks,
                                {"1.2.3", "abc", "OpenSSL 3"}, [clock] { return clock; });
  }
};

std::string slurp(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace

TEST_CASE("every condition, check and state has a why, a fix and a runbook the daemon serves",
          "[oncall][golden]") {
  const auto served = [](const std::string& alert) {
    INFO(alert);
    const auto page = exporter::render_runbook(alert);
    REQUIRE(page);
    CHECK(page->find("<h1>" + alert + "</h1>") != std::string::npos);
  };
  // Every condition the product raises: the registry joins them (registry_test proves each once).
  for (const Condition condition : sources::Registry::builtin().conditions()) {
    const state::Remedy remedy = state::condition_remedy(condition);
    INFO(remedy.alert);
    CHECK(remedy.alert == rules::alert_of(condition));
    CHECK(!remedy.why.empty());
    CHECK(!remedy.fix.empty());
    served(remedy.alert);
  }
  for (const rules::CheckInfo& check : rules::all_checks()) {
    const state::Remedy remedy = state::check_remedy(check.name);
    INFO(check.name);
    CHECK(remedy.alert == check.alert);
    CHECK(!remedy.why.empty());
    CHECK(remedy.fix != "Follow the runbook of the check.");
    served(remedy.alert);
  }
  std::set<std::string> actions{std::string(rules::kActionExpired),
                                std::string(rules::kActionNotYetValid),
                                std::string(rules::kActionLoadFailed)};
  for (const rules::Rule& rule : config::Config{}.rules) actions.insert(rule.action);
  for (const std::string& action : actions) {
    const state::Remedy remedy = state::action_remedy(action);
    INFO(action);
    CHECK(remedy.alert == alerting::action_alert_name(action));
    CHECK(!remedy.why.empty());
    CHECK(!remedy.fix.empty());
    served(remedy.alert);
  }
  // A custom action borrows the remedy of the default action it resembles.
  CHECK(state::action_remedy("renew_today", Severity::critical).alert == "CrdbCertRotateNow");
  CHECK(state::action_remedy("ca_soon", Severity::info, true).alert == "CrdbCertPlanRotation");
  // Every alert of the generated rules has a page the daemon serves, and nothing else is served.
  std::set<std::string> alerts;
  for (const auto& group : alerting::build_rule_groups({})) {
    for (const auto& rule : group.rules) {
      served(rule.name);
      alerts.insert(rule.name);
    }
  }
  for (const exporter::EmbeddedRunbook& runbook : exporter::embedded_runbooks()) {
    CHECK(alerts.count(std::string(runbook.alert)) == 1);
  }
  CHECK_FALSE(exporter::render_runbook("CrdbCertNoSuchAlert"));
  CHECK_FALSE(exporter::render_runbook("../../etc/passwd"));
  CHECK_FALSE(exporter::render_runbook(""));
}

TEST_CASE("the expiry fix reissues the certificate with its own SANs and user, then loads it",
          "[oncall]") {
  const Paged paged;
  const state::Snapshot& s = *paged.snapshot;
  const std::string dir = paged.certs.string();
  bool node_seen = false;
  bool client_seen = false;
  for (std::size_t i = 0; i < s.certificates.size(); ++i) {
    const CertObservation& cert = *s.certificates[i];
    const auto remedy = state::remedy_for(cert, s.states[i], Tier::self_hosted);
    if (cert.id.path.ends_with("/node.crt")) {
      REQUIRE(remedy);
      node_seen = true;
      CHECK(s.states[i].action == "rotate_now");
      INFO(remedy->fix);
      CHECK(remedy->fix.find("cockroach cert create-node --certs-dir=" + dir +
                             " --ca-key=/path/to/ca.key --overwrite localhost "
                             "db-1.internal.example.com 127.0.0.1") != std::string::npos);
      CHECK(remedy->fix.find("pkill -SIGHUP -x cockroach") != std::string::npos);
      CHECK(remedy->fix.find("kubectl rollout restart statefulset/") != std::string::npos);
      CHECK(remedy->alert == "CrdbCertRotateNow");
      // On a Cloud tier the node certificate is Cockroach Labs': nothing to reissue.
      const auto cloud = state::remedy_for(cert, s.states[i], Tier::standard);
      REQUIRE(cloud);
      CHECK(cloud->fix.find("cockroach cert") == std::string::npos);
      CHECK(cloud->fix.find("Cockroach Labs") != std::string::npos);
    } else if (cert.id.path.ends_with("/client.app_user.crt")) {
      REQUIRE(remedy);
      client_seen = true;
      CHECK(s.states[i].action == "schedule_rotation");
      INFO(remedy->fix);
      CHECK(remedy->fix.find("cockroach cert create-client --certs-dir=" + dir +
                             " --ca-key=/path/to/ca.key --overwrite app_user") !=
            std::string::npos);
      CHECK(remedy->fix.find("SIGHUP") == std::string::npos);  // clients read it themselves
    } else {
      CHECK_FALSE(remedy);  // the CA is years away: ok, no fix
    }
  }
  CHECK(node_seen);
  CHECK(client_seen);
}

TEST_CASE("Problems: most severe first, then least time left, one row per problem", "[oncall]") {
  const Paged paged;
  const auto problems = state::problems(*paged.snapshot);
  REQUIRE(problems.size() >= 4);
  for (std::size_t i = 1; i < problems.size(); ++i) {
    INFO(problems[i - 1].kind << " then " << problems[i].kind);
    CHECK(problems[i - 1].severity >= problems[i].severity);
    if (problems[i - 1].severity == problems[i].severity && problems[i].not_after) {
      REQUIRE(problems[i - 1].not_after);
      CHECK(*problems[i - 1].not_after <= *problems[i].not_after);
    }
    CHECK(!problems[i].remedy.why.empty());
    CHECK(!problems[i].remedy.fix.empty());
  }
  // Critical first: the rotate_now node certificate and its world-readable key.
  CHECK(problems[0].severity == Severity::critical);
  CHECK(problems[0].kind == "rotate_now");
  CHECK(problems[1].kind == "key_permissions");
  // Both missing SANs in one row, with one create-node line that adds both.
  std::size_t san_rows = 0;
  for (const state::Problem& p : problems) {
    if (p.kind != "san_missing") continue;
    ++san_rows;
    CHECK(p.detail == "lb.example.com, 10.0.0.7");
    INFO(p.remedy.fix);
    CHECK(p.remedy.fix.find("--overwrite localhost db-1.internal.example.com 127.0.0.1 "
                            "lb.example.com 10.0.0.7") != std::string::npos);
  }
  CHECK(san_rows == 1);

  // The tiles count what the Problems list holds.
  const std::string html = exporter::render_status_page(*paged.snapshot, "/metrics");
  std::size_t by_severity[4] = {0, 0, 0, 0};
  for (const state::Problem& p : problems) ++by_severity[static_cast<int>(p.severity)];
  CHECK(html.find("<b>" + std::to_string(by_severity[3]) + "</b><span>critical: act now") !=
        std::string::npos);
  CHECK(html.find("<b>" + std::to_string(by_severity[2]) + "</b><span>warning: schedule") !=
        std::string::npos);
  CHECK(html.find("<h2>Problems <small>(" + std::to_string(problems.size()) +
                  ", most urgent first)</small></h2>") != std::string::npos);
  CHECK(html.find("<a href=\"/runbooks/CrdbCertRotateNow\">") != std::string::npos);
  // Nothing fetched from elsewhere, nothing that needs JavaScript.
  CHECK(html.find("<script") == std::string::npos);
  CHECK(html.find("http://") == std::string::npos);
  CHECK(html.find("https://") == std::string::npos);
  CHECK(html.find(" src=") == std::string::npos);
  CHECK(html.find("url(") == std::string::npos);
  CHECK(html.find("@import") == std::string::npos);
}

// What the test measures in the browser, appended to a copy of the page (the page itself has no
// script): whether anything is wider than the viewport, and where the most urgent certificate is.
constexpr std::string_view kLayoutProbe = R"(<script>
(function () {
  var width = document.documentElement.clientWidth, overflow = [];
  document.querySelectorAll('body *').forEach(function (e) {
    var r = e.getBoundingClientRect();
    if (r.width > 0 && (r.right > width + 1 || r.left < -1)) {
      overflow.push(e.tagName + '.' + e.className + ' right=' + Math.round(r.right));
    }
  });
  var next = document.querySelector('section.next');
  var urgent = document.querySelector('section.next p.mono');
  var out = document.createElement('pre');
  out.id = 'layout';
  out.textContent = 'viewport=' + width + ' scroll=' + document.documentElement.scrollWidth +
      ' urgent_bottom=' + (urgent ? Math.round(urgent.getBoundingClientRect().bottom) : -1) +
      ' fix_bottom=' + (next ? Math.round(next.querySelector('.fix').getBoundingClientRect().bottom) : -1) +
      ' screen=' + window.innerHeight + ' overflow=' + overflow.length + ' ' + overflow.slice(0, 5).join(';');
  document.body.appendChild(out);
})();
</script>)";

TEST_CASE(
    "the status page at 390 and 1440 px in headless Chromium: no horizontal scroll, the "
    "most urgent certificate on the first screen",
    "[oncall][browser]") {
  if (!testing::require_tool("chromium", "apt-get install chromium")) return;
  const Paged paged;
  const std::string html = exporter::render_status_page(*paged.snapshot, "/metrics");
  const auto page = paged.dir.write("status.html", html);
  std::string probed = html;
  probed.insert(probed.rfind("</body>"), kLayoutProbe);
  const auto probe = paged.dir.write("status-probe.html", probed);
  const std::string profile = (paged.dir.path() / "chromium-profile").string();
  const auto chromium = [&](const std::filesystem::path& file, std::vector<std::string> args) {
    // File pages of one directory count as one origin, so the frame can read its page's DOM.
    std::vector<std::string> argv{"chromium",          "--headless",
                                  "--no-sandbox",      "--disable-gpu",
                                  "--no-first-run",    "--user-data-dir=" + profile,
                                  "--hide-scrollbars", "--allow-file-access-from-files"};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.push_back("file://" + file.string());
    return testing::run_command(argv, std::chrono::seconds{120});
  };
  // Screenshots land in the build tree (docs/ holds copies made by hand).
  const auto shots = std::filesystem::current_path() / "screenshots";
  std::filesystem::create_directories(shots);
  for (const auto& [width, height] : {std::pair{390, 844}, std::pair{1440, 900}}) {
    // Headless Chromium keeps its window at least 500 px wide: a narrower viewport is an iframe
    // of that width (media queries inside it see the iframe's width, as a phone's would).
    const bool framed = width < 500;
    const auto frame = [&](const std::filesystem::path& inner, const std::string& name) {
      return paged.dir.write(
          name,
          "<!DOCTYPE html><html><body style=\"margin:0;background:#888\"><iframe id=\"f\" "
          "src=\"" +
              inner.filename().string() + "\" style=\"width:" + std::to_string(width) +
              "px;height:" + std::to_string(height) +
              "px;border:0;display:block;background:#fff\"></iframe><script>"
              "window.addEventListener('load',function(){var d=document.getElementById('f')"
              ".contentDocument;var r=d&&d.getElementById('layout');var o=document."
              "createElement('pre');o.textContent=r?r.textContent:'no access';document.body."
              "appendChild(o);});</script></body></html>");
    };
    const std::string size = std::to_string(framed ? 500 : width) + "," + std::to_string(height);
    INFO("width " << width);
    const auto dom = chromium(framed ? frame(probe, "frame-probe.html") : probe,
                              {"--window-size=" + size, "--dump-dom"});
    INFO(dom.err);
    REQUIRE(dom.exit_code == 0);
    std::smatch m;
    REQUIRE(
        std::regex_search(dom.out, m,
                          std::regex("viewport=(\\d+) scroll=(\\d+) urgent_bottom=(-?\\d+) "
                                     "fix_bottom=(-?\\d+) screen=(\\d+) overflow=(\\d+)([^<]*)")));
    INFO(m[0].str());
    const int viewport = std::stoi(m[1]);
    CHECK(viewport <= width + 1);
    CHECK(viewport >= width - 20);
    CHECK(std::stoi(m[2]) <= viewport);  // no horizontal scroll
    CHECK(std::stoi(m[6]) == 0);         // no element wider than the viewport
    // The first screen names the most urgent certificate and shows its fix.
    CHECK(std::stoi(m[3]) > 0);
    CHECK(std::stoi(m[3]) <= std::stoi(m[5]));
    CHECK(std::stoi(m[4]) <= std::stoi(m[5]));
    const auto png = shots / ("status-page-" + std::to_string(width) + ".png");
    REQUIRE(chromium(framed ? frame(page, "frame-page.html") : page,
                     {"--window-size=" + size, "--screenshot=" + png.string()})
                .exit_code == 0);
    const std::string image = slurp(png);
    REQUIRE(image.size() > 1000);
    CHECK(image.substr(0, 8) == std::string("\x89PNG\r\n\x1a\n", 8));
  }
  // The first phone screen names the certificate: the urgent section holds node.crt's path.
  const auto next = html.find("<section class=\"next crit\">");
  REQUIRE(next != std::string::npos);
  CHECK(html.find("/node.crt", next) < html.find("</section>", next));
}
