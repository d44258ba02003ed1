// The `audit` report (issue 14): the data model on a fixture certs directory with an injected
// clock, its three renderings, the real binary, and the HTML in a real headless Chromium.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <future>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "alerting/audit_report.hpp"
#include "config/config.hpp"
#include "core/text.hpp"
#include "sources/cmek_source.hpp"
#include "sources/registry.hpp"
#include "state/collect.hpp"
#include "state/snapshot.hpp"
#include "support/certgen.hpp"
#include "support/process.hpp"
#include "support/require_tool.hpp"
#include "support/tempdir.hpp"

namespace {

using certwatch::alerting::AuditReport;
using certwatch::alerting::CalendarEntry;
using certwatch::testing::CertSpec;
using certwatch::testing::generate_cert;
using certwatch::testing::GeneratedCert;
using certwatch::testing::kDay;
using certwatch::testing::TempDir;

// A name that is markup in both HTML and Markdown, and a table cell break.
constexpr std::string_view kHostileUser = "<img src=x onerror=alert(1)>|*_";
constexpr std::string_view kHostileCn = "<script>alert(\"cn\")</script>";

std::string slurp(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// A certificate spec with the names and validity these tests choose; certgen's defaults otherwise.
CertSpec spec(std::string common_name, bool is_ca, std::int64_t not_before,
              std::int64_t not_after) {
  CertSpec out;
  out.common_name = std::move(common_name);
  out.is_ca = is_ca;
  out.not_before = not_before;
  out.not_after = not_after;
  return out;
}

// A certs directory in the middle of a CA rotation, at a fixed instant: ca.crt holds the new CA
// and the old one, node.crt (from the new CA) needs rotating within the year, a client whose
// user name and CN are hostile markup, and ui.crt that is not a certificate.
struct Fixture {
  TempDir dir;
  std::int64_t now = certwatch::testing::unix_now();
  GeneratedCert new_ca, old_ca, node, client;
  std::filesystem::path config_path;
  std::string yaml;

  explicit Fixture(std::string_view extra_yaml = "") {
    new_ca = generate_cert(spec("Cockroach CA 2026", true, now - kDay, now + 500 * kDay));
    old_ca = generate_cert(spec("Cockroach CA 2021", true, now - 1500 * kDay, now + 200 * kDay));
    CertSpec node_spec = spec("node", false, now - kDay, now + 100 * kDay);
    node_spec.dns_names = {"localhost", "node1.example"};
    node_spec.ip_addresses = {"127.0.0.1"};
    node = generate_cert(node_spec, &new_ca);
    CertSpec client_spec = spec(std::string(kHostileCn), false, now - kDay, now + 20 * kDay);
    client_spec.key_algorithm = certwatch::testing::KeyAlgorithm::rsa;
    client_spec.key_bits = 2048;
    client = generate_cert(client_spec, &new_ca);
    const auto certs = dir.path() / "certs";
    dir.write("certs/ca.crt", new_ca.cert_pem + old_ca.cert_pem);
    dir.write("certs/node.crt", node.cert_pem);
    write_key_file(dir, "certs/node.key", node);
    dir.write("certs/client." + std::string(kHostileUser) + ".crt", client.cert_pem);
    dir.write("certs/ui.crt", "this is not a certificate\n");
    yaml = "files:\n  certs_dirs: [\"" + certs.string() + "\"]\n" + std::string(extra_yaml);
    config_path = dir.write("config.yaml", yaml);
  }

  std::vector<const GeneratedCert*> all() const { return {&new_ca, &old_ca, &node, &client}; }

  AuditReport report() const {
    auto loaded = certwatch::config::parse_config(yaml, config_path.string());
    REQUIRE(loaded.errors.empty());
    const double clock = static_cast<double>(now);
    const auto snapshot = certwatch::state::poll_once(
        certwatch::sources::make_sources(*loaded.config), loaded.config->rules,
        loaded.config->checks, {"1.2.3", "abc", "OpenSSL 3"}, [clock] { return clock; });
    return certwatch::alerting::make_audit_report(
        *snapshot, certwatch::alerting::audit_context(*loaded.config, config_path.string()));
  }
};

std::string fingerprint(const GeneratedCert& cert) {
  return certwatch::testing::sha256_fingerprint(cert);
}

const CalendarEntry* find_entry(const AuditReport& report, std::string_view path_suffix,
                                std::string_view action, std::string_view index = "0") {
  for (const CalendarEntry& entry : report.calendar) {
    if (entry.id.path.ends_with(path_suffix) && entry.action == action && entry.id.index == index) {
      return &entry;
    }
  }
  return nullptr;
}

}  // namespace

TEST_CASE("audit model lists every fixture certificate in every format") {
  const Fixture fixture;
  const AuditReport report = fixture.report();
  CHECK(report.certificate_count == 4);
  const std::string html = render_audit_html(report);
  const std::string markdown = render_audit_markdown(report);
  const auto json = nlohmann::json::parse(render_audit_json(report));
  std::vector<std::string> json_fingerprints;
  for (const auto& source : json["in_transit"]["sources"]) {
    for (const auto& cert : source["certificates"]) {
      json_fingerprints.push_back(cert["fingerprint_sha256"]);
    }
  }
  for (const GeneratedCert* cert : fixture.all()) {
    INFO(fingerprint(*cert));
    CHECK(html.find(fingerprint(*cert)) != std::string::npos);
    CHECK(markdown.find(fingerprint(*cert)) != std::string::npos);
    CHECK(std::count(json_fingerprints.begin(), json_fingerprints.end(), fingerprint(*cert)) == 1);
  }
  // Key type, size and signature algorithm are the evidence a reviewer asks for.
  CHECK(html.find("rsa 2048") != std::string::npos);
  CHECK(html.find("ec 256") != std::string::npos);
  CHECK(markdown.find("sha256") != std::string::npos);
  // The CA rotation: both CAs of the bundle, each with what it verifies.
  REQUIRE(report.check.ca_usage.size() == 2);
  CHECK(html.find("Cockroach CA 2021") != std::string::npos);
  // Run facts: host, version and the config digest.
  CHECK(report.config_sha256 == certwatch::alerting::sha256_hex(fixture.yaml));
  CHECK(html.find(report.config_sha256) != std::string::npos);
  CHECK(markdown.find("1.2.3") != std::string::npos);
}

TEST_CASE("audit calendar dates follow the injected clock") {
  const Fixture fixture;
  const AuditReport report = fixture.report();
  const std::int64_t node_expiry = fixture.now + 100 * kDay;
  const CalendarEntry* schedule = find_entry(report, "/node.crt", "schedule_rotation");
  const CalendarEntry* rotate = find_entry(report, "/node.crt", "rotate_now");
  const CalendarEntry* expires = find_entry(report, "/node.crt", "expired");
  REQUIRE(schedule != nullptr);
  REQUIRE(rotate != nullptr);
  REQUIRE(expires != nullptr);
  CHECK(schedule->due == node_expiry - 90 * kDay);
  CHECK(rotate->due == node_expiry - 30 * kDay);
  CHECK(expires->due == node_expiry);
  CHECK_FALSE(schedule->now);
  // The old CA is inside its plan_rotation year already: due now, and it expires within the year.
  const CalendarEntry* old_ca_now = find_entry(report, "/ca.crt", "plan_rotation", "1");
  REQUIRE(old_ca_now != nullptr);
  CHECK(old_ca_now->now);
  CHECK(old_ca_now->due == fixture.now);
  REQUIRE(find_entry(report, "/ca.crt", "expired", "1") != nullptr);
  CHECK(find_entry(report, "/ca.crt", "expired", "1")->due == fixture.now + 200 * kDay);
  // The new CA's plan_rotation threshold (500d - 365d) is within the year; its expiry is not.
  REQUIRE(find_entry(report, "/ca.crt", "plan_rotation", "0") != nullptr);
  CHECK(find_entry(report, "/ca.crt", "plan_rotation", "0")->due == fixture.now + 135 * kDay);
  CHECK(find_entry(report, "/ca.crt", "expired", "0") == nullptr);
  // Sorted by date, and every date in the rendered month it is listed under.
  CHECK(std::is_sorted(report.calendar.begin(), report.calendar.end(),
                       [](const auto& a, const auto& b) { return a.due < b.due; }));
  const std::string markdown = render_audit_markdown(report);
  const std::string day = certwatch::utc_time(rotate->due, "%Y-%m-%d");
  const std::string month = certwatch::utc_time(rotate->due, "%B %Y");
  const auto month_at = markdown.find("### " + month);
  REQUIRE(month_at != std::string::npos);
  CHECK(markdown.find("| " + day + " | rotate\\_now |", month_at) != std::string::npos);
  const auto json = nlohmann::json::parse(render_audit_json(report));
  CHECK(json["calendar"]["entries"].size() == report.calendar.size());
  CHECK(json["calendar"]["until"] == fixture.now + 365 * kDay);
}

TEST_CASE("audit lists a file error under what could not be checked") {
  const Fixture fixture;
  const AuditReport report = fixture.report();
  const auto ui = std::find_if(report.unchecked.begin(), report.unchecked.end(),
                               [](const auto& item) { return item.what.ends_with("/ui.crt"); });
  REQUIRE(ui != report.unchecked.end());
  CHECK(ui->why.find("no_certificate") != std::string::npos);
  // On a self-hosted tier without a cluster section, the nodes' view is named as not observed,
  // and so is encryption at rest.
  const auto has = [&](std::string_view what) {
    return std::any_of(report.unchecked.begin(), report.unchecked.end(),
                       [&](const auto& item) { return item.what == what; });
  };
  CHECK(has("cluster source"));
  CHECK(has("encryption at rest"));
  CHECK(has("check key_mismatch"));
  const std::string html = render_audit_html(report);
  const auto section = html.find("<section id=\"unchecked\">");
  REQUIRE(section != std::string::npos);
  CHECK(html.find("/ui.crt", section) != std::string::npos);
}

TEST_CASE("audit data at rest follows the tier") {
  CHECK(Fixture().report().data_at_rest.state ==
        certwatch::alerting::DataAtRest::State::not_observed);
  const AuditReport advanced = Fixture("deployment:\n  tier: advanced\n").report();
  CHECK(advanced.data_at_rest.state == certwatch::alerting::DataAtRest::State::managed);
  CHECK(render_audit_html(advanced).find("Managed by Cockroach Labs.") != std::string::npos);
  CHECK(nlohmann::json::parse(render_audit_json(advanced))["tier"]["name"] == "advanced");
}

TEST_CASE("audit data at rest shows the CMEK source's regions and keys") {
  auto facts = std::make_shared<certwatch::sources::CmekFacts>();
  facts->cluster_id = "c0ffee00-1111-2222-3333-444455556666";
  facts->info.status = "ENABLED";
  certwatch::sources::CmekKeyInfo key;
  key.status = "ENABLED";
  key.type = "AWS_KMS";
  key.uri = "arn:aws:kms:us-east-1:123456789012:key/<audit>";
  key.auth_principal = "arn:aws:iam::123456789012:role/crdb-cmek";
  facts->info.regions = {{"us-east-1", "ENABLED", {key}}};
  auto result = std::make_shared<certwatch::sources::PollResult>();
  result->source = "cmek";
  result->facts = facts;
  certwatch::state::SnapshotInputs inputs;
  inputs.results = {result};
  inputs.tier = certwatch::Tier::advanced;
  const auto snapshot = certwatch::state::make_snapshot(inputs, 1.8e9);
  TempDir dir;
  const auto config_path = dir.write("config.yaml", "deployment:\n  tier: advanced\n");
  certwatch::config::Config config;
  config.deployment.tier = certwatch::Tier::advanced;
  const AuditReport report = certwatch::alerting::make_audit_report(
      *snapshot, certwatch::alerting::audit_context(config, config_path.string()));
  CHECK(report.data_at_rest.state == certwatch::alerting::DataAtRest::State::cmek_observed);
  CHECK(report.data_at_rest.statement.find("status ENABLED, 1 region(s), 1 key(s)") !=
        std::string::npos);
  const std::string html = render_audit_html(report);
  CHECK(html.find("us-east-1") != std::string::npos);
  CHECK(html.find("key/&lt;audit&gt;") != std::string::npos);
  CHECK(html.find("AWS_KMS") != std::string::npos);
  CHECK(render_audit_markdown(report).find("crdb-cmek") != std::string::npos);
}

TEST_CASE("audit escapes hostile names in HTML and Markdown") {
  const Fixture fixture;
  const AuditReport report = fixture.report();
  const std::string html = render_audit_html(report);
  CHECK(html.find("<img") == std::string::npos);
  CHECK(html.find("<script") == std::string::npos);
  CHECK(html.find("&lt;img src=x onerror=alert(1)&gt;|*_") != std::string::npos);
  CHECK(html.find("&lt;script&gt;alert(&quot;cn&quot;)&lt;/script&gt;") != std::string::npos);
  const std::string markdown = render_audit_markdown(report);
  // Every < of the Markdown is escaped, so no renderer can read raw HTML out of it.
  for (auto at = markdown.find('<'); at != std::string::npos; at = markdown.find('<', at + 1)) {
    INFO(markdown.substr(at > 40 ? at - 40 : 0, 80));
    CHECK((at > 0 && markdown[at - 1] == '\\'));
  }
  CHECK(markdown.find("\\<script\\>") != std::string::npos);
  CHECK(markdown.find("\\<img src=x onerror=alert(1)\\>\\|\\*\\_") != std::string::npos);
  // Every table row of the Markdown still has as many cells as its header: no cell break leaked.
  std::istringstream lines(markdown);
  std::size_t columns = 0;
  for (std::string line; std::getline(lines, line);) {
    if (!line.starts_with("|")) {
      columns = 0;
      continue;
    }
    std::size_t cells = 0;
    for (std::size_t i = 0; i < line.size(); ++i) {
      if (line[i] == '|' && (i == 0 || line[i - 1] != '\\')) ++cells;
    }
    if (columns == 0) columns = cells;
    INFO(line);
    CHECK(cells == columns);
  }
  // Bytes that are not UTF-8 are shown as escapes, never raw.
  CHECK(certwatch::escape_html("a\xff<") == "a\\xff&lt;");
  CHECK(certwatch::escape_markdown("a\xff|") == "a\\\\xff\\|");
}

TEST_CASE("audit JSON parses and carries the same counts") {
  const Fixture fixture;
  const AuditReport report = fixture.report();
  const auto json = nlohmann::json::parse(render_audit_json(report));
  CHECK(json["schema"] == "crdb-certwatch/audit/v1");
  CHECK(json["in_transit"]["certificate_count"] == report.certificate_count);
  CHECK(json["check_failures"].size() == report.check.checks.size());
  CHECK(json["ca_rotation"].size() == report.check.ca_usage.size());
  CHECK(json["file_errors"].size() == 1);
  CHECK(json["unchecked"].size() == report.unchecked.size());
  CHECK(json["checks"].size() == report.checks.size());
  CHECK(json["exit_code"] == static_cast<int>(report.check.status));
  CHECK(json["in_transit"]["cluster_secure"].is_null());
  CHECK(json["data_at_rest"]["state"] == "not_observed");
  // The hostile name survives as text.
  bool found = false;
  for (const auto& cert : json["in_transit"]["sources"][0]["certificates"]) {
    found = found || cert["user"] == std::string(kHostileUser);
  }
  CHECK(found);
}

TEST_CASE("audit through the binary exits like check and writes atomically with mode 0640") {
  const Fixture fixture;
  const std::string config = "--config.file=" + fixture.config_path.string();
  const auto check = certwatch::testing::run_command({CERTWATCH_BINARY, "check", config});
  const auto out = fixture.dir.path() / "report.json";
  const auto audit = certwatch::testing::run_command(
      {CERTWATCH_BINARY, "audit", config, "--format=json", "--output=" + out.string()});
  INFO(audit.err);
  CHECK(audit.exit_code == check.exit_code);
  CHECK(audit.exit_code == 2);  // the client expires in 20 days: rotate_now, critical
  CHECK(audit.out.empty());
  struct stat st {};
  REQUIRE(::stat(out.c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0640);
  const auto json = nlohmann::json::parse(slurp(out));
  CHECK(json["in_transit"]["certificate_count"] == 4);
  // The digest is of the file as it is on disk, by an independent tool.
  if (certwatch::testing::require_tool("sha256sum", "apt-get install coreutils")) {
    const auto sum = certwatch::testing::run_command({"sha256sum", fixture.config_path.string()});
    CHECK(sum.out.substr(0, 64) == json["config"]["sha256"]);
  }
  // Nothing else is left beside the report (the temporary file was renamed).
  std::size_t entries = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(fixture.dir.path())) {
    ++entries;
  }
  CHECK(entries == 3);  // certs/, config.yaml, report.json
  // Markdown on stdout; a bad format and an unwritable output are UNKNOWN (3).
  const auto md =
      certwatch::testing::run_command({CERTWATCH_BINARY, "audit", config, "--format=md"});
  CHECK(md.out.starts_with("# Encryption posture audit"));
  CHECK(certwatch::testing::run_command({CERTWATCH_BINARY, "audit", config, "--format=pdf"})
            .exit_code == 3);
  const auto unwritable = certwatch::testing::run_command(
      {CERTWATCH_BINARY, "audit", config, "--output=/nonexistent/dir/report.html"});
  CHECK(unwritable.exit_code == 3);
  CHECK(unwritable.err.find("cannot write") != std::string::npos);
}

TEST_CASE("audit HTML renders prints and screenshots in headless Chromium") {
  if (!certwatch::testing::require_tool("chromium", "apt-get install chromium")) return;
  if (!certwatch::testing::require_tool("pdfinfo", "apt-get install poppler-utils")) return;
  const Fixture fixture;
  // Eight certificates, the size the print layout is held to (issue 25): four more clients.
  for (int i = 0; i < 4; ++i) {
    const GeneratedCert extra = generate_cert(
        spec("user" + std::to_string(i), false, fixture.now - kDay, fixture.now + (40 + i) * kDay),
        &fixture.new_ca);
    fixture.dir.write("certs/client.user" + std::to_string(i) + ".crt", extra.cert_pem);
  }
  const auto html = fixture.dir.path() / "report.html";
  const auto written = certwatch::testing::run_command(
      {CERTWATCH_BINARY, "audit", "--config.file=" + fixture.config_path.string(),
       "--output=" + html.string()});
  INFO(written.err);
  REQUIRE(written.exit_code == 2);
  REQUIRE(std::filesystem::file_size(html) > 0);
  const std::string profile = (fixture.dir.path() / "chromium-profile").string();
  auto chromium = [&](std::vector<std::string> args) {
    std::vector<std::string> argv{"chromium",         "--headless",
                                  "--no-sandbox",     "--disable-gpu",
                                  "--no-first-run",   "--user-data-dir=" + profile,
                                  "--hide-scrollbars"};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.push_back("file://" + html.string());
    return certwatch::testing::run_command(argv, std::chrono::seconds{120});
  };
  const auto dom = chromium({"--dump-dom"});
  INFO(dom.err);
  REQUIRE(dom.exit_code == 0);
  for (const GeneratedCert* cert : fixture.all())
    CHECK(dom.out.find(fingerprint(*cert)) != std::string::npos);
  CHECK(dom.out.find("What could not be checked") != std::string::npos);
  // The hostile names stayed text: the parsed DOM holds no element made from them.
  CHECK(dom.out.find("<img") == std::string::npos);

  const auto pdf = fixture.dir.path() / "report.pdf";
  REQUIRE(chromium({"--print-to-pdf=" + pdf.string(), "--no-pdf-header-footer"}).exit_code == 0);
  REQUIRE(std::filesystem::exists(pdf));
  CHECK(std::filesystem::file_size(pdf) > 1000);
  const auto info = certwatch::testing::run_command({"pdfinfo", pdf.string()});
  std::smatch pages;
  REQUIRE(std::regex_search(info.out, pages, std::regex("Pages:\\s+(\\d+)")));
  // Sections flow: eight certificates took 9 pages with a page per section; issue 25 wants at
  // most 4 A4 pages (the report's @page says A4 portrait, and Chromium honours it).
  CHECK(info.out.find("(A4)") != std::string::npos);
  CHECK(std::stoi(pages[1]) <= 4);
  CHECK(std::stoi(pages[1]) >= 1);

  const auto png = fixture.dir.path() / "report.png";
  REQUIRE(chromium({"--screenshot=" + png.string(), "--window-size=1280,1900"}).exit_code == 0);
  const std::string image = slurp(png);
  REQUIRE(image.size() > 1000);
  CHECK(image.substr(0, 8) == std::string("\x89PNG\r\n\x1a\n", 8));
  // docs/audit-report.png is this screenshot:
  //   CERTWATCH_AUDIT_SCREENSHOT=$PWD/docs/audit-report.png build/tests/audit_test '*Chromium'
  if (const char* keep = std::getenv("CERTWATCH_AUDIT_SCREENSHOT")) {
    std::filesystem::copy_file(png, keep, std::filesystem::copy_options::overwrite_existing);
  }
}

namespace {

// `audit --output=<target>` through the binary.
certwatch::testing::CommandResult audit_to(const Fixture& fixture, const std::string& target,
                                           std::string_view format = "json") {
  return certwatch::testing::run_command({CERTWATCH_BINARY, "audit",
                                          "--config.file=" + fixture.config_path.string(),
                                          "--format=" + std::string(format), "--output=" + target});
}

struct stat lstat_of(const std::filesystem::path& path) {
  struct stat st {};
  REQUIRE(::lstat(path.c_str(), &st) == 0);
  return st;
}

}  // namespace

TEST_CASE("audit --output writes a new or own regular file and stdout for -") {
  const Fixture fixture;
  // A new file.
  const auto fresh = fixture.dir.path() / "new.json";
  auto run = audit_to(fixture, fresh.string());
  INFO(run.err);
  CHECK(run.exit_code == 2);
  CHECK(S_ISREG(lstat_of(fresh).st_mode));
  CHECK((lstat_of(fresh).st_mode & 07777) == 0640);
  CHECK(nlohmann::json::parse(slurp(fresh))["in_transit"]["certificate_count"] == 4);
  // An existing file of this user is replaced whole (a new inode: renamed over it).
  const auto own = fixture.dir.write("own.json", "old\n", 0600);
  const ino_t old_inode = lstat_of(own).st_ino;
  run = audit_to(fixture, own.string());
  CHECK(run.exit_code == 2);
  CHECK(slurp(own).starts_with("{"));
  CHECK(lstat_of(own).st_ino != old_inode);
  CHECK(lstat_of(own).st_uid == ::geteuid());
  // `-` is standard output, as no --output is.
  run = audit_to(fixture, "-", "md");
  CHECK(run.exit_code == 2);
  CHECK(run.out.starts_with("# Encryption posture audit"));
  CHECK_FALSE(std::filesystem::exists(fixture.dir.path() / "-"));
  // Standard output that cannot take it is an error (UNKNOWN), not a silent loss.
  if (std::filesystem::exists("/dev/full")) {
    const auto full = certwatch::testing::run_command(
        {"sh", "-c", "exec \"$0\" audit \"$1\" >/dev/full", CERTWATCH_BINARY,
         "--config.file=" + fixture.config_path.string()});
    CHECK(full.exit_code == 3);
    CHECK(full.err.find("No space left on device") != std::string::npos);
  }
}

TEST_CASE("audit --output writes through devices and stays off symlinks and others' files") {
  const Fixture fixture;
  const auto& dir = fixture.dir.path();
  if (::geteuid() == 0) {
    // Devices made here first (a null and a full device), so that a regression cannot replace
    // the host's own; then the host's /dev/null, which must stay a device.
    const auto null_device = dir / "null";
    const auto full_device = dir / "full";
    REQUIRE(::mknod(null_device.c_str(), S_IFCHR | 0666, makedev(1, 3)) == 0);
    REQUIRE(::mknod(full_device.c_str(), S_IFCHR | 0666, makedev(1, 7)) == 0);
    auto run = audit_to(fixture, null_device.string());
    INFO(run.err);
    CHECK(run.exit_code == 2);
    REQUIRE(S_ISCHR(lstat_of(null_device).st_mode));
    run = audit_to(fixture, full_device.string());
    CHECK(run.exit_code == 3);
    CHECK(run.err.find("No space left on device") != std::string::npos);
    REQUIRE(S_ISCHR(lstat_of(full_device).st_mode));
  }
  auto run = audit_to(fixture, "/dev/null");
  CHECK(run.exit_code == 2);
  CHECK(S_ISCHR(lstat_of("/dev/null").st_mode));

  // A FIFO nobody reads: an error at once, not a hang; it stays a FIFO.
  const auto fifo = dir / "report.fifo";
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  const auto started = std::chrono::steady_clock::now();
  run = audit_to(fixture, fifo.string());
  CHECK(run.exit_code == 3);
  CHECK(run.err.find("no process is reading") != std::string::npos);
  CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds{30});
  CHECK(S_ISFIFO(lstat_of(fifo).st_mode));
  // With a reader, the reader gets the whole report (larger than a pipe's buffer: the HTML).
  {
    const int reader = ::open(fifo.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    REQUIRE(reader >= 0);
    auto audit =
        std::async(std::launch::async, [&] { return audit_to(fixture, fifo.string(), "html"); });
    std::string received;
    char buffer[65536];
    for (;;) {
      const ssize_t n = ::read(reader, buffer, sizeof buffer);
      if (n > 0) {
        received.append(buffer, static_cast<std::size_t>(n));
        continue;
      }
      if (audit.wait_for(std::chrono::milliseconds{10}) == std::future_status::ready && n == 0) {
        break;
      }
    }
    ::close(reader);
    const auto result = audit.get();
    INFO(result.err);
    CHECK(result.exit_code == 2);
    CHECK(received.starts_with("<!DOCTYPE html>"));
    CHECK(received.ends_with("</html>\n"));
    CHECK(S_ISFIFO(lstat_of(fifo).st_mode));
  }

  // A symlink is refused, and neither it nor its target changes.
  const auto target = fixture.dir.write("target.txt", "keep me\n");
  const auto link = dir / "link.json";
  std::filesystem::create_symlink(target, link);
  run = audit_to(fixture, link.string());
  CHECK(run.exit_code == 3);
  CHECK(run.err.find("symbolic link") != std::string::npos);
  CHECK(S_ISLNK(lstat_of(link).st_mode));
  CHECK(slurp(target) == "keep me\n");
  // A dangling one too: the audit creates nothing where it points.
  const auto dangling = dir / "dangling.json";
  std::filesystem::create_symlink(dir / "nowhere.json", dangling);
  CHECK(audit_to(fixture, dangling.string()).exit_code == 3);
  CHECK_FALSE(std::filesystem::exists(dir / "nowhere.json"));
  // A directory is refused.
  run = audit_to(fixture, dir.string());
  CHECK(run.exit_code == 3);
  CHECK(run.err.find("a directory") != std::string::npos);

  // Another user's file: refused, its owner and content unchanged.
  if (::geteuid() == 0) {
    const auto theirs = fixture.dir.write("theirs.json", "their report\n", 0644);
    REQUIRE(::chown(theirs.c_str(), 65534, 65534) == 0);  // nobody
    run = audit_to(fixture, theirs.string());
    CHECK(run.exit_code == 3);
    CHECK(run.err.find("owned by") != std::string::npos);
    CHECK(lstat_of(theirs).st_uid == 65534);
    CHECK(slurp(theirs) == "their report\n");
  }
  // Nothing was left behind by a refusal (no temporary files).
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    CHECK(entry.path().filename().string().find(".tmp.") == std::string::npos);
  }
}

TEST_CASE("audit HTML carries a restrictive CSP that Chromium enforces without changing the page") {
  if (!certwatch::testing::require_tool("chromium", "apt-get install chromium")) return;
  const Fixture fixture;
  const auto html_path = fixture.dir.path() / "report.html";
  REQUIRE(audit_to(fixture, html_path.string(), "html").exit_code == 2);
  const std::string html = slurp(html_path);
  const std::string tag = "<meta http-equiv=\"Content-Security-Policy\" content=\"" +
                          std::string(certwatch::alerting::kAuditContentSecurityPolicy) + "\">\n";
  REQUIRE(html.find(tag) != std::string::npos);
  CHECK(html.find(tag) < html.find("<title>"));
  CHECK(certwatch::alerting::kAuditContentSecurityPolicy.starts_with("default-src 'none';"));
  // The same report without the tag, and each with a script added: the policy stops the script.
  std::string without = html;
  without.erase(without.find(tag), tag.size());
  const std::string script = "<script>document.title='script ran'</script>";
  const auto with_script = [&](std::string page) {
    return page.insert(page.find("</body>"), script);
  };
  const auto profile = (fixture.dir.path() / "chromium-profile").string();
  const auto chromium = [&](const std::string& name, const std::string& page,
                            std::vector<std::string> args) {
    const auto file = fixture.dir.write(name, page);
    std::vector<std::string> argv{"chromium",         "--headless",
                                  "--no-sandbox",     "--disable-gpu",
                                  "--no-first-run",   "--user-data-dir=" + profile,
                                  "--hide-scrollbars"};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.push_back("file://" + file.string());
    return certwatch::testing::run_command(argv, std::chrono::seconds{120});
  };
  CHECK(chromium("csp-script.html", with_script(html), {"--dump-dom"})
            .out.find("<title>script ran</title>") == std::string::npos);
  CHECK(chromium("open-script.html", with_script(without), {"--dump-dom"})
            .out.find("<title>script ran</title>") != std::string::npos);
  // Rendered the same with and without the policy: the inline style is allowed, nothing else
  // was needed.
  const auto shot = [&](const std::string& name, const std::string& page) {
    const auto png = fixture.dir.path() / (name + ".png");
    const auto run =
        chromium(name + ".html", page, {"--screenshot=" + png.string(), "--window-size=1280,1600"});
    REQUIRE(run.exit_code == 0);
    return slurp(png);
  };
  const std::string with_policy = shot("with-csp", html);
  const std::string no_policy = shot("without-csp", without);
  CHECK(with_policy.size() > 1000);
  CHECK(with_policy == no_policy);
}
