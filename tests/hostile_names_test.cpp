// Issue 11 items 1 and 8: file names and certificate subjects hold whatever bytes an attacker (or
// a broken tool) put there: bytes that are not UTF-8, overlong forms, surrogates, terminal
// escapes, newlines. Through the built binary, every output stays readable by what reads it:
// Prometheus (promtool and a real scrape), JSON parsers, terminals and browsers, and every
// certificate is still exported, under a name that decodes back to the bytes on disk.
#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "core/metric_names.hpp"
#include "core/text.hpp"
#include "support/certgen.hpp"
#include "support/exposition.hpp"
#include "support/http_client.hpp"
#include "support/process.hpp"
#include "support/require_tool.hpp"
#include "support/tempdir.hpp"
#include "x509/parse.hpp"

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using certwatch::escape_for_display;
using certwatch::is_valid_utf8;
using certwatch::unescape_bytes;
using certwatch::metric::kFileError;
using certwatch::metric::kNotAfter;
using certwatch::testing::CertSpec;
using certwatch::testing::ChildOutput;
using certwatch::testing::ChildProcess;
using certwatch::testing::CommandResult;
using certwatch::testing::generate_cert;
using certwatch::testing::http_get;
using certwatch::testing::lines_of;
using certwatch::testing::lines_starting;
using certwatch::testing::run_command;
using certwatch::testing::TempDir;
using Clock = std::chrono::steady_clock;

// A subject no CA should sign: a terminal's "set window title" sequence and a newline.
const std::string kTerminalCn = "\x1b]0;x\x07\nnext";

// File names whose bytes are not UTF-8: two stray bytes, an overlong '/', a lone surrogate.
const std::string kStrayBytesName = "client.\xff\xfe.crt";
const std::string kOverlongName = "client.\xc0\xaf.crt";
const std::string kSurrogateName = "client.\xed\xa0\x80.crt";
// A file that is not a certificate, named with a stray byte and an ESC: a file error about it.
const std::string kBrokenName = "client.\xfe-broken\x1b.crt";

// Whether the text holds a control character other than the newline that ends its lines: C0,
// DEL, or C1 (U+0080..U+009F in UTF-8).
bool has_raw_control(const std::string& text) {
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto byte = static_cast<unsigned char>(text[i]);
    if ((byte < 0x20 && byte != '\n') || byte == 0x7f) return true;
    if (byte == 0xc2 && i + 1 < text.size() && static_cast<unsigned char>(text[i + 1]) <= 0x9f) {
      return true;
    }
  }
  return false;
}

CertSpec spec(const std::string& common_name) {
  CertSpec out;
  out.common_name = common_name;
  return out;
}

// A certificate whose subject CN, a UTF8String, holds bytes that are not UTF-8. OpenSSL will not
// encode such a name, so it is made with a placeholder of the same length whose DER bytes are
// then replaced (the signature no longer matches; the daemon does not verify it).
std::string cert_pem_with_invalid_cn() {
  const std::string placeholder = "badXYcn";
  const std::string invalid =
      "bad\xff\xc0"
      "cn";
  std::string der = generate_cert(spec(placeholder)).der;
  for (std::size_t at = der.find(placeholder); at != std::string::npos;
       at = der.find(placeholder, at)) {
    der.replace(at, invalid.size(), invalid);
  }
  return certwatch::testing::pem_encode(der);
}

// A certs directory with every hostile name and subject, and a config that watches it.
struct HostileCerts {
  TempDir tmp;
  fs::path certs = tmp.path() / "certs";
  // The certificate files, raw bytes: each must be exported.
  std::vector<std::string> cert_paths;
  // Unusable files, each a file error: one not a certificate, one whose subject is not UTF-8.
  std::string broken_path = (certs / kBrokenName).string();
  std::string invalid_cn_path = (certs / "client.badcn.crt").string();
  fs::path config;

  HostileCerts() {
    const std::vector<std::pair<std::string, std::string>> files{
        {"node.crt", "node"},
        {kStrayBytesName, "stray"},
        {kOverlongName, "overlong"},
        {kSurrogateName, "surrogate"},
        {"client.terminal.crt", kTerminalCn}};
    for (const auto& [name, common_name] : files) {
      cert_paths.push_back(tmp.write("certs/" + name, generate_cert(spec(common_name)).cert_pem));
    }
    tmp.write("certs/" + kBrokenName,
              "-----BEGIN CERTIFICATE-----\n!!\n-----END CERTIFICATE-----\n");
    tmp.write("certs/client.badcn.crt", cert_pem_with_invalid_cn());
    config = tmp.write("config.yaml",
                       "poll_interval: 1s\nfiles:\n  certs_dirs: [" + certs.string() + "]\n");
  }
};

// The daemon on a free port with its log as JSON lines on stderr.
class Daemon {
 public:
  explicit Daemon(const HostileCerts& dir)
      : process_({CERTWATCH_BINARY, "--config.file=" + dir.config.string(),
                  "--web.listen-address=127.0.0.1:0", "--log.format=json"},
                 ChildOutput{dir.tmp.path() / "daemon.out", dir.tmp.path() / "daemon.err"}) {
    // The port it bound, from its "listening on ... (port N)" line; then the first poll.
    const std::regex listening{R"(\(port ([0-9]+)\))"};
    const auto deadline = Clock::now() + 15s;
    while (port_ == 0 || !ready()) {
      std::smatch match;
      const std::string log = process_.log();
      if (port_ == 0 && std::regex_search(log, match, listening)) port_ = std::stoi(match[1]);
      if (!process_.running()) FAIL("the daemon exited:\n" << log);
      if (Clock::now() > deadline) FAIL("the daemon was not ready within 15 s:\n" << log);
      std::this_thread::sleep_for(50ms);
    }
  }

  int port() const { return port_; }
  std::string log() const { return process_.log(); }

  std::string get(const std::string& target) const {
    const auto response = http_get(port_, target);
    INFO(log());
    REQUIRE(response);
    REQUIRE(response->status == 200);
    return response->body;
  }

 private:
  bool ready() const {
    if (port_ == 0) return false;
    const auto response = http_get(port_, "/-/ready", 1s);
    return response && response->status == 200;
  }

  ChildProcess process_;
  int port_ = 0;
};

// The values of label `name` in an exposition, with the exposition's own escapes (\\, \", \n)
// undone: what Prometheus stores.
std::vector<std::string> label_values(const std::string& exposition, const std::string& name) {
  std::vector<std::string> out;
  for (const std::string& line : lines_of(exposition)) {
    for (const std::string& opener : {"{" + name + "=\"", "," + name + "=\""}) {
      std::size_t at = line.find(opener);
      if (at == std::string::npos) continue;
      std::string value;
      for (at += opener.size(); at < line.size() && line[at] != '"'; ++at) {
        if (line[at] == '\\' && at + 1 < line.size()) {
          ++at;
          value += line[at] == 'n' ? '\n' : line[at];
        } else {
          value += line[at];
        }
      }
      out.push_back(value);
    }
  }
  return out;
}

// The label values decoded back to raw bytes (the README's escaping, reversed).
std::set<std::string> decoded(const std::vector<std::string>& values) {
  std::set<std::string> out;
  for (const std::string& value : values) out.insert(unescape_bytes(value));
  return out;
}

CommandResult run_check(const HostileCerts& dir, const std::string& output) {
  CommandResult result = run_command(
      {CERTWATCH_BINARY, "check", "--config.file=" + dir.config.string(), "--output=" + output},
      20s);
  if (result.timed_out) FAIL("check did not exit within 20 s");
  return result;
}

}  // namespace

TEST_CASE("the x509 parser passes terminal escapes through and refuses a subject not UTF-8",
          "[hostile-names]") {
  // The escaping happens at the outputs, so the facts hold the subject's bytes as they are.
  const auto terminal =
      certwatch::x509::parse_pem_bundle(generate_cert(spec(kTerminalCn)).cert_pem);
  REQUIRE(terminal.certificates.size() == 1);
  CHECK(terminal.certificates[0].subject_cn == kTerminalCn);
  // OpenSSL decodes no name whose UTF8String is not UTF-8: such a certificate is an unusable file
  // (a file error naming it), never a subject with stray bytes.
  const auto invalid = certwatch::x509::parse_pem_bundle(cert_pem_with_invalid_cn());
  CHECK(invalid.certificates.empty());
  CHECK(invalid.error == certwatch::x509::ParseError::bad_pem);
}

TEST_CASE("metrics with hostile file names and subjects are valid UTF-8 and pass promtool",
          "[hostile-names]") {
  const HostileCerts dir;
  const Daemon daemon(dir);
  const std::string body = daemon.get("/metrics");
  INFO(escape_for_display(body));
  CHECK(is_valid_utf8(body));
  // Every certificate is exported, the ones behind the bad names too, under decodable names.
  const auto not_after = lines_starting(body, std::string(kNotAfter) + "{");
  CHECK(not_after.size() == dir.cert_paths.size());
  const auto paths = decoded(label_values(body, "path"));
  for (const std::string& path : dir.cert_paths) {
    INFO(escape_for_display(path));
    CHECK(paths.count(path) == 1);
  }
  CHECK(decoded(label_values(body, "user")).count("\xff\xfe") == 1);
  const auto subjects = decoded(label_values(body, "subject_cn"));
  CHECK(subjects.count(kTerminalCn) == 1);
  // The unusable files are reported by their names too.
  const auto file_errors = lines_starting(body, std::string(kFileError) + "{");
  CHECK(file_errors.size() == 2);
  const auto error_paths = decoded(label_values(body, "path"));
  CHECK(error_paths.count(dir.broken_path) == 1);
  CHECK(error_paths.count(dir.invalid_cn_path) == 1);
  if (!certwatch::testing::require_tool("promtool", "apt-get install prometheus")) return;
  const CommandResult promtool = certwatch::testing::promtool_check_metrics(body);
  INFO(promtool.out);
  CHECK(promtool.exit_code == 0);
}

TEST_CASE("a real Prometheus scrapes the daemon with hostile names, up 1 and every series",
          "[hostile-names][e2e]") {
  if (!certwatch::testing::require_tool("prometheus", "apt-get install prometheus")) return;
  const HostileCerts dir;
  const Daemon daemon(dir);
  const int prometheus_port = certwatch::testing::find_free_port();
  const auto prometheus_config = dir.tmp.write(
      "prometheus.yml",
      "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: crdb-certwatch\n"
      "    static_configs:\n      - targets: ['127.0.0.1:" +
          std::to_string(daemon.port()) + "']\n");
  ChildProcess prometheus({"prometheus", "--config.file=" + prometheus_config.string(),
                           "--storage.tsdb.path=" + (dir.tmp.path() / "tsdb").string(),
                           "--web.listen-address=127.0.0.1:" + std::to_string(prometheus_port)},
                          dir.tmp.path() / "prometheus.log");
  // The instant query's result vector, empty while Prometheus is starting or has not scraped.
  const auto query = [&](const std::string& expression) {
    const auto response = http_get(prometheus_port, "/api/v1/query?query=" + expression);
    if (!response || response->status != 200) return nlohmann::json::array();
    const auto body = nlohmann::json::parse(response->body, nullptr, false);
    if (body.is_discarded()) return nlohmann::json::array();
    return body["data"]["result"];
  };
  nlohmann::json up;
  nlohmann::json series;
  const auto deadline = Clock::now() + 60s;
  while (Clock::now() < deadline) {
    up = query("up");
    series = query(std::string(kNotAfter));
    if (up.size() == 1 && series.size() == dir.cert_paths.size()) break;
    if (!prometheus.running()) FAIL("prometheus exited:\n" << prometheus.log());
    std::this_thread::sleep_for(500ms);
  }
  INFO("prometheus log:\n" << prometheus.log() << "\nup: " << up.dump());
  REQUIRE(up.size() == 1);
  // up is 0 when Prometheus rejected the scrape (an invalid UTF-8 label value does that).
  CHECK(up[0]["value"][1] == "1");
  REQUIRE(series.size() == dir.cert_paths.size());
  std::set<std::string> users;
  for (const auto& one : series) users.insert(unescape_bytes(one["metric"].value("user", "")));
  CHECK(users.count("\xff\xfe") == 1);
  CHECK(users.count("\xc0\xaf") == 1);
  CHECK(users.count("\xed\xa0\x80") == 1);
}

TEST_CASE("check --output=json exits with a status and its document holds the escaped names",
          "[hostile-names]") {
  const HostileCerts dir;
  const CommandResult result = run_check(dir, "json");
  INFO(escape_for_display(result.out + result.err));
  // Critical: the hostile client certificates fail cn_mismatch (their CNs name no user), and
  // the failing checks carry the same names, escaped the same way.
  CHECK(result.exit_code == 2);
  CHECK(is_valid_utf8(result.out));
  const auto document = nlohmann::json::parse(result.out, nullptr, false);
  REQUIRE_FALSE(document.is_discarded());
  std::set<std::string> paths;
  std::set<std::string> subjects;
  for (const auto& cert : document["certificates"]) {
    paths.insert(unescape_bytes(cert["path"].get<std::string>()));
    subjects.insert(unescape_bytes(cert["subject_cn"].get<std::string>()));
  }
  for (const std::string& path : dir.cert_paths) {
    INFO(escape_for_display(path));
    CHECK(paths.count(path) == 1);
  }
  CHECK(subjects.count(kTerminalCn) == 1);
  std::set<std::string> error_paths;
  for (const auto& error : document["file_errors"]) {
    error_paths.insert(unescape_bytes(error["path"].get<std::string>()));
  }
  CHECK(error_paths == std::set<std::string>{dir.broken_path, dir.invalid_cn_path});
}

TEST_CASE("check table output holds no control characters and is valid UTF-8", "[hostile-names]") {
  const HostileCerts dir;
  const CommandResult result = run_check(dir, "table");
  INFO(escape_for_display(result.out + result.err));
  CHECK(result.exit_code == 2);  // cn_mismatch, as above
  CHECK(is_valid_utf8(result.out));
  CHECK_FALSE(has_raw_control(result.out));
  // Each name shows as its reversible escape, on its own row.
  CHECK(result.out.find(escape_for_display(kTerminalCn)) != std::string::npos);
  CHECK(result.out.find(escape_for_display(dir.cert_paths[1])) != std::string::npos);
  CHECK(result.out.find(escape_for_display(dir.broken_path)) != std::string::npos);
}

TEST_CASE("the status page is valid UTF-8 and shows control characters as escapes",
          "[hostile-names]") {
  const HostileCerts dir;
  const Daemon daemon(dir);
  const std::string page = daemon.get("/");
  INFO(escape_for_display(page));
  CHECK(is_valid_utf8(page));
  CHECK_FALSE(has_raw_control(page));
  CHECK(page.find(escape_for_display(kTerminalCn)) != std::string::npos);
  CHECK(page.find(escape_for_display(dir.cert_paths[1])) != std::string::npos);
}

TEST_CASE("the JSON log stays valid JSON for a file error about a bad name", "[hostile-names]") {
  const HostileCerts dir;
  const Daemon daemon(dir);
  // The line is written after the first poll, which may end just after /-/ready says so.
  const auto deadline = Clock::now() + 5s;
  std::string log = daemon.log();
  while (log.find(" unusable") == std::string::npos && Clock::now() < deadline) {
    std::this_thread::sleep_for(50ms);
    log = daemon.log();
  }
  INFO(escape_for_display(log));
  CHECK(is_valid_utf8(log));
  bool reported = false;
  for (const std::string& line : lines_of(log)) {
    const auto entry = nlohmann::json::parse(line, nullptr, false);
    REQUIRE_FALSE(entry.is_discarded());
    const std::string message = unescape_bytes(entry["msg"].get<std::string>());
    reported = reported || message.find(dir.broken_path + " unusable") != std::string::npos;
  }
  CHECK(reported);
}
