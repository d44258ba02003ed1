// Issue 28 item 1 and its low items: what the daemon prints for a person to paste or read. A
// command line must run as exactly the arguments it was built from, whatever a file name, a SAN
// or a user name holds: a real shell is the oracle. The commands the line names are replaced by
// shell functions that print their arguments (NUL-separated), the line runs in an empty directory,
// and the words that come out must be the original values, with no file created. Values no line
// can show safely (controls, bidi overrides, bytes that are not UTF-8) stay out of it: the line
// names a variable and stops while it is unset; set to the value the note shows (unescaped), it
// runs as the original too. Then the same through the real binary: hostile names from disk and
// from a hostile TLS server the probe dials, on the status page, in `check`, in the audit, and
// hostile key names in `--config.check`.
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <regex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "core/shell_command.hpp"
#include "core/text.hpp"
#include "support/certgen.hpp"
#include "support/http_client.hpp"
#include "support/process.hpp"
#include "support/require_tool.hpp"
#include "support/tempdir.hpp"

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using certwatch::command_line;
using certwatch::CommandLine;
using certwatch::escape_for_display;
using certwatch::literal_arg;
using certwatch::ShellArg;
using certwatch::ShellCommand;
using certwatch::shows_as_it_is;
using certwatch::unescape_bytes;
using certwatch::value_arg;
using certwatch::testing::CertSpec;
using certwatch::testing::ChildProcess;
using certwatch::testing::generate_cert;
using certwatch::testing::GeneratedCert;
using certwatch::testing::run_command;
using certwatch::testing::single_quoted_yaml;
using certwatch::testing::TempDir;

// Values an attacker chooses (file names, SANs, user names), NUL-free: every shell
// metacharacter, quote and expansion, option-like words, globs, and the characters that cannot be
// shown in a command line: controls, bidi and other invisible characters, bytes that are not
// UTF-8.
const std::vector<std::string> kHostile{
    "$(touch pwned)", "$(touch${IFS}pwned)", "`touch pwned`", "x;touch${IFS}pwned;#",
    "a && touch pwned", "a || touch pwned", "a | tee pwned", ">pwned", "<pwned", "2>pwned",
    "a&touch pwned", "(touch pwned)", "{touch,pwned}", "'", "\"", "''", "'$(touch pwned)'",
    "\"$(touch pwned)\"", "'\"'\"'", "\\", "a\\", "\\'", "${IFS}", "$HOME", "$0", "$((6*7))",
    "$'\\x41'", "*", "?", "[a-z]*", "~", "~root", "-rf", "--help", "-", "--", " ", "", "a b", "!!",
    "!$", "#comment", "a=b", "%s%n", "^x",
    "n\xc5\x93ud.example",  // a letter beyond ASCII: quoted, shown
    "\xe8\x8a\x82\xe7\x82\xb9",
    "x\xc2\xa0y",  // a no-break space: shown, quoted
    // Cannot be shown: each stays out of the line.
    "a\tb", "two\nlines;touch pwned", "cr\rtouch pwned", "esc\x1b]0;title\x07", "del\x7f",
    "c1\xc2\x85",
    "evil\xe2\x80\xaetxt.exe",       // U+202E RIGHT-TO-LEFT OVERRIDE
    "iso\xe2\x81\xa6x\xe2\x81\xa9",  // U+2066 .. U+2069
    "zw\xe2\x80\x8bsp",              // U+200B
    "bom\xef\xbb\xbf", "bad\xff", "overlong\xc0\xaf",
    "a\\xb",  // the display escaping would show it as a\\xb
};

// Shell functions in place of the commands a fix line may name: each prints its name and its
// arguments, NUL-terminated, and does nothing else.
const std::string kStubs =
    "cockroach() { printf '%s\\0' cockroach \"$@\"; }\n"
    "chmod() { printf '%s\\0' chmod \"$@\"; }\n"
    "chown() { printf '%s\\0' chown \"$@\"; }\n"
    "pkill() { printf '%s\\0' pkill \"$@\"; }\n"
    "mv() { printf '%s\\0' mv \"$@\"; }\n"
    "kubectl() { printf '%s\\0' kubectl \"$@\"; }\n";

struct ShellRun {
  int exit_code = -1;
  std::vector<std::string> words;
  std::string err;
};

// `line` run by `shell -c` in `dir`, with `environment` (NAME=value) added.
ShellRun run_line(const std::string& shell, const std::string& line, const fs::path& dir,
                  const std::vector<std::string>& environment = {}) {
  std::vector<std::string> argv{"env", "-C", dir.string()};
  argv.insert(argv.end(), environment.begin(), environment.end());
  argv.insert(argv.end(), {shell, "-c", kStubs + line});
  const auto result = run_command(argv, 30s);
  ShellRun run{result.exit_code, {}, result.err};
  std::size_t start = 0;
  for (std::size_t end; (end = result.out.find('\0', start)) != std::string::npos;
       start = end + 1) {
    run.words.push_back(result.out.substr(start, end - start));
  }
  return run;
}

bool dir_is_empty(const fs::path& dir) {
  return fs::directory_iterator(dir) == fs::directory_iterator();
}

// The words each command should receive: what command_line() was given.
std::vector<std::string> expected_words(const std::vector<ShellCommand>& commands) {
  std::vector<std::string> words;
  for (const ShellCommand& command : commands) {
    // The stub prints its name, then its arguments: the program's other words first.
    words.insert(words.end(), command.program.begin(), command.program.end());
    for (const ShellArg& option : command.options) {
      words.push_back(option.text + option.value.value_or(""));
    }
    bool dash = false;
    for (const ShellArg& operand : command.operands) {
      dash = dash || (operand.text + operand.value.value_or("")).starts_with('-');
    }
    if (dash) words.emplace_back("--");
    for (const ShellArg& operand : command.operands) {
      words.push_back(operand.text + operand.value.value_or(""));
    }
  }
  return words;
}

// NAME=value for every note of the line: the variable and the value it stands for, unescaped
// from what the note shows.
std::vector<std::string> environment_from_notes(const CommandLine& line) {
  std::vector<std::string> environment;
  const std::regex note{R"(^([A-Z_][A-Z0-9_]*) stands for (.*) \(shown escaped: )"};
  for (const std::string& raw : line.notes) {
    const std::string text = escape_for_display(raw);  // as any output shows it
    std::smatch match;
    REQUIRE(std::regex_search(text, match, note));
    environment.push_back(match[1].str() + "=" + unescape_bytes(match[2].str()));
  }
  return environment;
}

// Runs `commands`' line with both shells and checks it against the oracle.
void check_line(const std::vector<ShellCommand>& commands, const std::vector<std::string>& values) {
  const CommandLine line = command_line(commands);
  INFO("line: " << escape_for_display(line.text));
  CHECK(shows_as_it_is(line.text));
  CHECK(line.text.find('\n') == std::string::npos);
  bool all_shown = true;
  for (const std::string& value : values) all_shown = all_shown && shows_as_it_is(value);
  CHECK(line.notes.empty() == all_shown);
  for (const std::string shell : {"sh", "bash"}) {
    INFO("shell: " << shell);
    TempDir dir;
    const auto run = run_line(shell, line.text, dir.path(), environment_from_notes(line));
    INFO("stderr: " << run.err);
    CHECK(run.exit_code == 0);
    CHECK(run.words == expected_words(commands));
    CHECK(dir_is_empty(dir.path()));
    if (!all_shown) {
      // Unset, the variable stops the line before any command runs with a wrong argument.
      const auto unset = run_line(shell, line.text, dir.path());
      CHECK(unset.exit_code != 0);
      CHECK(unset.words.empty());
      CHECK(dir_is_empty(dir.path()));
    }
  }
}

}  // namespace

TEST_CASE("shell_quote leaves plainly safe words alone and quotes the rest", "[shell]") {
  CHECK(certwatch::shell_quote("/var/lib/cockroach/certs/node.key") ==
        "/var/lib/cockroach/certs/node.key");
  CHECK(certwatch::shell_quote("--certs-dir=/a/b") == "--certs-dir=/a/b");
  CHECK(certwatch::shell_quote("node1.example:26257,x@y+z%") == "node1.example:26257,x@y+z%");
  CHECK(certwatch::shell_quote("") == "''");
  CHECK(certwatch::shell_quote("a b") == "'a b'");
  CHECK(certwatch::shell_quote("it's") == "'it'\\''s'");
  CHECK(certwatch::shell_quote("~") == "'~'");
  CHECK(certwatch::shell_quote("$(x)") == "'$(x)'");
}

TEST_CASE("every hostile value reaches the command as itself, run by a real shell", "[shell]") {
  if (!certwatch::testing::require_tool("bash", "apt-get install bash")) return;
  for (const std::string& value : kHostile) {
    INFO("value: " << escape_for_display(value));
    // As an operand, twice in a chain (the fix for a key's mode and owner).
    check_line({{{"chmod"}, {}, {literal_arg("0600"), value_arg("KEY_FILE", value)}},
                {{"chown"}, {}, {literal_arg("cockroach"), value_arg("KEY_FILE", value)}}},
               {value});
    // In an option after the program's own prefix, and among other operands.
    check_line(
        {{{"cockroach", "cert", "create-node"},
          {value_arg("CERTS_DIR", value, "--certs-dir="), literal_arg("--overwrite")},
          {value_arg("SAN", "localhost"), value_arg("SAN", value), value_arg("SAN", "::1")}},
         {{"pkill"}, {literal_arg("-SIGHUP"), literal_arg("-x")}, {literal_arg("cockroach")}}},
        {value});
  }
}

TEST_CASE("values that cannot be shown get one variable each and a note", "[shell]") {
  const std::string rlo = "evil\xe2\x80\xaetxt.exe";
  const std::string newline = "a\nb";
  const CommandLine line = command_line({{{"cockroach", "cert", "create-node"},
                                          {},
                                          {value_arg("SAN", rlo), value_arg("SAN", "ok"),
                                           value_arg("SAN", newline), value_arg("SAN", rlo)}}});
  CHECK(line.text ==
        "cockroach cert create-node \"${SAN:?not set, see the note}\" ok "
        "\"${SAN_2:?not set, see the note}\" \"${SAN:?not set, see the note}\"");
  REQUIRE(line.notes.size() == 2);
  CHECK(
      escape_for_display(line.notes[0])
          .starts_with(
              R"(SAN stands for evil\xe2\x80\xaetxt.exe (shown escaped: it holds a control, bidi or invisible character)"));
  CHECK(escape_for_display(line.notes[1]).starts_with(R"(SAN_2 stands for a\x0ab )"));
  CHECK(command_line({{{"chmod"}, {}, {literal_arg("0600"), value_arg("KEY_FILE", "\xff")}}})
            .notes[0]
            .find("is not valid UTF-8") != std::string::npos);
  // An option-like operand is preceded by --, so that it is no option.
  CHECK(command_line({{{"chmod"}, {}, {literal_arg("0600"), value_arg("KEY_FILE", "-rf")}}}).text ==
        "chmod -- 0600 -rf");
  CHECK(
      command_line({{{"chmod"}, {}, {literal_arg("0600"), value_arg("KEY_FILE", "/a/b")}}}).text ==
      "chmod 0600 /a/b");
}

namespace {

std::string html_unescape(std::string text) {
  for (const auto& [entity, c] : std::vector<std::pair<std::string, std::string>>{
           {"&lt;", "<"}, {"&gt;", ">"}, {"&quot;", "\""}, {"&#39;", "'"}, {"&amp;", "&"}}) {
    for (std::size_t at; (at = text.find(entity)) != std::string::npos;) {
      text.replace(at, entity.size(), c);
    }
  }
  return text;
}

// A fix as the page shows it: the command line and the variables its notes define.
struct PageFix {
  std::string line;
  std::vector<std::string> environment;
};

// Every fix command of the page's Problems table.
std::vector<PageFix> page_fixes(const std::string& html) {
  const auto start = html.find("<h2>Problems");
  if (start == std::string::npos) return {};
  const std::string table = html.substr(start, html.find("</table>", start) - start);
  std::vector<PageFix> fixes;
  const std::regex code{"<code[^>]*>(.*?)</code>"};
  const std::regex note{
      R"(<span class="muted">([A-Z_][A-Z0-9_]*) stands for (.*?) \(shown escaped: )"};
  for (std::size_t row = table.find("<tr class="); row != std::string::npos;) {
    const std::size_t next = table.find("<tr class=", row + 1);
    const std::string cells = table.substr(row, next - row);
    row = next;
    std::smatch match;
    if (!std::regex_search(cells, match, code)) continue;
    PageFix fix{html_unescape(match[1].str()), {}};
    for (auto it = std::sregex_iterator(cells.begin(), cells.end(), note);
         it != std::sregex_iterator(); ++it) {
      fix.environment.push_back((*it)[1].str() + "=" +
                                unescape_bytes(html_unescape((*it)[2].str())));
    }
    fixes.push_back(std::move(fix));
  }
  return fixes;
}

bool has_raw_bidi_or_control(const std::string& text) {
  for (const std::string_view bad : {"\xe2\x80\xae", "\xe2\x81\xa6", "\x1b", "\r"}) {
    if (text.find(bad) != std::string::npos) return true;
  }
  return false;
}

}  // namespace

TEST_CASE("fix lines on the status page run as the hostile names from disk and from the wire",
          "[shell][binary]") {
  if (!certwatch::testing::require_tool("bash", "apt-get install bash")) return;
  if (!certwatch::testing::require_tool("openssl", "apt-get install openssl")) return;
  TempDir dir;
  CertSpec ca_spec;
  ca_spec.common_name = "Cockroach CA";
  ca_spec.is_ca = true;
  const GeneratedCert ca = generate_cert(ca_spec);
  // A certs directory whose own name is an attack, with a node certificate whose SANs are.
  const fs::path certs = dir.path() / "certs $(touch${IFS}pwned);'x";
  const std::vector<std::string> node_sans{
      "x;touch${IFS}pwned;#", "$(touch pwned)", "`touch pwned`", "-rf", "a'b", "*",
      "evil\xe2\x80\xaetxt",  "nl\nx"};
  CertSpec node_spec;
  node_spec.dns_names = node_sans;
  node_spec.ip_addresses = {"127.0.0.1"};
  const GeneratedCert node = generate_cert(node_spec, &ca);
  dir.write((certs / "ca.crt").string().substr(dir.path().string().size() + 1), ca.cert_pem);
  const auto relative = [&](const std::string& name) {
    return (certs / name).string().substr(dir.path().string().size() + 1);
  };
  dir.write(relative("node.crt"), node.cert_pem);
  dir.write(relative("node.key"), node.key_pem, 0644);  // key_permissions: chmod and chown
  // Client certificates whose user names (from the file names) are attacks; CN root, so each
  // fails cn_mismatch (create-client USER), and a key at 0644 (chmod/chown of the key path).
  const std::vector<std::string> users{"$(touch${IFS}pwned)",
                                       "x;y&&z|w",
                                       "-rf",
                                       "q'\"q",
                                       "a\xe2\x80\xae"
                                       "b",
                                       "tab\tb"};
  CertSpec client_spec;
  client_spec.common_name = "root";
  const GeneratedCert client = generate_cert(client_spec, &ca);
  for (const std::string& user : users) {
    dir.write(relative("client." + user + ".crt"), client.cert_pem);
    dir.write(relative("client." + user + ".key"), client.key_pem, 0644);
  }
  // A hostile TLS server: its leaf carries attacks as SANs and not the name it is dialed by.
  const std::vector<std::string> served_sans{"srv;touch${IFS}pwned;#", "$(id>pwned)",
                                             "srv\xe2\x80\xaemoc"};
  CertSpec served_spec;
  served_spec.dns_names = served_sans;
  const GeneratedCert served = generate_cert(served_spec, &ca);
  const auto served_crt = dir.write("served/leaf.crt", served.cert_pem);
  const auto served_key = dir.write("served/leaf.key", served.key_pem, 0600);
  const std::string address = "127.0.0.1:" + std::to_string(certwatch::testing::find_free_port());
  ChildProcess server({"openssl", "s_server", "-quiet", "-www", "-accept", address, "-cert",
                       served_crt.string(), "-key", served_key.string()},
                      dir.path() / "s_server.log");
  const auto config = dir.write(
      "config.yaml",
      "poll_interval: 1s\nfiles:\n  certs_dirs: [" + single_quoted_yaml(certs.string()) +
          "]\nchecks:\n  san:\n    required: [lb.example]\nprobe:\n  poll_interval: 1s\n"
          "  timeout: 2s\n  ca_file: " +
          single_quoted_yaml((certs / "ca.crt").string()) + "\n  targets:\n    - {address: '" +
          address + "', protocol: tls, server_name: localhost}\n");
  ChildProcess daemon(
      {CERTWATCH_BINARY, "--config.file", config.string(), "--web.listen-address", "127.0.0.1:0"},
      dir.path() / "daemon.log");

  // The page once both sources have reported: the probe's SAN fix names the served SANs.
  const std::regex listening{R"(\(port ([0-9]+)\))"};
  std::string html;
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (std::chrono::steady_clock::now() < deadline) {
    std::smatch match;
    const std::string log = daemon.log();
    if (std::regex_search(log, match, listening)) {
      if (const auto page = certwatch::testing::http_get(std::stoi(match[1]), "/")) {
        html = page->body;
        if (html.find("srv;touch${IFS}pwned;#") != std::string::npos &&
            html.find("lb.example") != std::string::npos) {
          break;
        }
      }
    }
    std::this_thread::sleep_for(200ms);
  }
  INFO("log: " << daemon.log());
  const std::vector<PageFix> fixes = page_fixes(html);
  REQUIRE(fixes.size() >= 2 * users.size() + 2);

  // Every line, run by both shells: no file appears, and every word printed is collected.
  std::multiset<std::string> words;
  for (const PageFix& fix : fixes) {
    INFO("line: " << escape_for_display(fix.line));
    CHECK(shows_as_it_is(fix.line));
    for (const std::string shell : {"sh", "bash"}) {
      TempDir run_dir;
      const auto run = run_line(shell, fix.line, run_dir.path(), fix.environment);
      INFO(shell << " stderr: " << run.err);
      CHECK(run.exit_code == 0);
      CHECK(dir_is_empty(run_dir.path()));
      if (shell == "sh") words.insert(run.words.begin(), run.words.end());
      if (!fix.environment.empty()) {
        // Without the variables, nothing runs.
        const auto unset = run_line(shell, fix.line, run_dir.path());
        CHECK(unset.exit_code != 0);
        CHECK(unset.words.empty());
        CHECK(dir_is_empty(run_dir.path()));
      }
    }
  }
  // Each hostile value arrived as one whole argument: shown ones quoted in the line, the others
  // through the variable their note defines.
  for (const std::vector<std::string>* values : {&node_sans, &served_sans, &users}) {
    for (const std::string& value : *values) {
      INFO("value: " << escape_for_display(value));
      CHECK(words.count(value) > 0);
    }
  }
  for (const std::string& user : users) {
    INFO("user: " << escape_for_display(user));
    CHECK(words.count((certs / ("client." + user + ".key")).string()) > 0);
  }
  CHECK(words.count((certs / "node.key").string()) > 0);
  CHECK(words.count("--certs-dir=" + certs.string()) > 0);
  CHECK(words.count("lb.example") > 0);
  CHECK(words.count("localhost") > 0);  // the probe's dialed name, missing from its SANs

  // The bidi overrides and controls are escaped wherever a person reads them.
  CHECK_FALSE(has_raw_bidi_or_control(html));
  CHECK(html.find(R"(evil\xe2\x80\xaetxt)") != std::string::npos);
  const std::string flag = "--config.file=" + config.string();
  const auto table = run_command({CERTWATCH_BINARY, "check", flag});
  CHECK_FALSE(has_raw_bidi_or_control(table.out));
  CHECK(table.out.find(R"(client.a\xe2\x80\xaeb.crt)") != std::string::npos);
  for (const std::string format : {"md", "html"}) {
    const auto audit = run_command({CERTWATCH_BINARY, "audit", flag, "--format=" + format});
    INFO(format);
    CHECK(audit.out.size() > 1000);
    CHECK_FALSE(has_raw_bidi_or_control(audit.out));
    // Markdown escapes the escape's backslashes once more, as it does every backslash.
    CHECK(audit.out.find(format == "md" ? R"(a\\xe2\\x80\\xaeb)" : R"(a\xe2\x80\xaeb)") !=
          std::string::npos);
  }
}

TEST_CASE("config.check (--config.check) shows hostile key names escaped", "[binary]") {
  TempDir dir;
  const auto config =
      dir.write("config.yaml",
                "files:\n  certs_dirs: [/nonexistent]\n  \"\\e]0;pwned\\a\\u202e\": 1\n"
                "\"\\u2066evil\\u2069\\r\\nfake: line\": 2\n");
  const auto run =
      run_command({CERTWATCH_BINARY, "--config.check", "--config.file=" + config.string()});
  INFO(run.err);
  CHECK(run.exit_code != 0);
  CHECK_FALSE(has_raw_bidi_or_control(run.err + run.out));
  CHECK(run.err.find(R"(\x1b]0;pwned\x07\xe2\x80\xae)") != std::string::npos);
  CHECK(run.err.find(R"(\xe2\x81\xa6evil\xe2\x81\xa9\x0d\x0afake: line)") != std::string::npos);
}
