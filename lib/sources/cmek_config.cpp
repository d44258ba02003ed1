// The cmek section (the CockroachDB Cloud API, for the data-at-rest key): parsed and validated
// here, with the shared helpers (config/section.hpp); the registry entry (sources/registry.cpp)
// carries it.
#include <array>
#include <cctype>
#include <cstdio>
#include <utility>

#include "core/names.hpp"
#include "sources/sections.hpp"

namespace certwatch::sources {
namespace {

using namespace config;

constexpr std::size_t kMaxApiKeyFileBytes = 64 * 1024;

class CmekSectionParser : public SectionParser {
 public:
  explicit CmekSectionParser(const SectionParser& parser) : SectionParser(parser.state()) {}

  void parse_cmek(const Value& value, CmekConfig& cmek) {
    const auto fields = map_of(
        value, {"api_url", "cluster_id", "api_key_file", "poll_interval", "timeout", "ca_file"});
    if (!fields) return;
    if (const Value* v = find(*fields, "api_url")) {
      if (const auto text = non_empty_string(*v)) set_api_url(*v, *text, cmek);
    }
    if (const Value* v = require(*fields, value, "cluster_id")) {
      // The id becomes a path segment: anything beyond a UUID's alphabet could reshape the URL.
      const auto text = non_empty_string(*v);
      if (text && (text->size() > 128 || !std::all_of(text->begin(), text->end(), [](char c) {
                     return is_alpha(c) || is_digit(c) || c == '-' || c == '_';
                   }))) {
        fail(*v, "must be the cluster's id (letters, digits, - and _), got " + quote(*text));
      } else if (text) {
        cmek.cluster_id = *text;
      }
    }
    if (const Value* v = require(*fields, value, "api_key_file")) read_api_key_file(*v, cmek);
    if (const Value* v = find(*fields, "poll_interval")) {
      set_duration(*v, kPollIntervalRange, cmek.poll_interval);
    }
    if (const Value* v = find(*fields, "timeout")) set_duration(*v, kTimeoutRange, cmek.timeout);
    if (const Value* v = find(*fields, "ca_file")) {
      const auto text = non_empty_string(*v);
      if (text && check_path_kind(*v, resolve(*text))) cmek.ca_file = resolve(*text);
    }
  }

  // https://host[:port][/prefix]: nothing else, so the key never travels in clear text and the
  // URL cannot smuggle credentials, a query or a fragment.
  void set_api_url(const Value& value, const std::string& url, CmekConfig& cmek) {
    constexpr std::string_view kScheme = "https://";
    const auto bad = [&](std::string_view why) {
      fail(value,
           "must be an https:// URL with a host (" + std::string(why) + "), got " + quote(url));
    };
    if (!url.starts_with(kScheme)) return bad("only https is accepted");
    std::string_view rest = std::string_view(url).substr(kScheme.size());
    const std::size_t slash = rest.find('/');
    std::string_view authority = rest.substr(0, slash);
    std::string_view path = slash == std::string_view::npos ? "" : rest.substr(slash);
    while (path.ends_with('/')) path.remove_suffix(1);
    if (authority.find_first_of("@?#") != std::string_view::npos ||
        path.find_first_of("?#") != std::string_view::npos) {
      return bad("no user, query or fragment");
    }
    // The path goes into the request line as it is: RFC 3986 path characters only (unreserved,
    // sub-delims, ':', '@', '/' and %XX escapes), so no space, control character or CR LF can
    // end the line and inject a header.
    for (std::size_t i = 0; i < path.size(); ++i) {
      const char c = path[i];
      if (c == '%') {
        if (i + 2 >= path.size() || !std::isxdigit(static_cast<unsigned char>(path[i + 1])) ||
            !std::isxdigit(static_cast<unsigned char>(path[i + 2]))) {
          return bad("a % in the path must start a %XX escape");
        }
        i += 2;
      } else if (!is_alpha(c) && !is_digit(c) &&
                 std::string_view("-._~!$&'()*+,;=:@/").find(c) == std::string_view::npos) {
        return bad("the path may hold only letters, digits, -._~!$&'()*+,;=:@/ and %XX escapes");
      }
    }
    std::string_view port = "443";
    if (authority.starts_with('[')) {  // [v6]:port
      const std::size_t close = authority.find(']');
      if (close == std::string_view::npos) return bad("unterminated [IPv6] address");
      if (close + 1 < authority.size()) {
        if (authority[close + 1] != ':') return bad("junk after the [IPv6] address");
        port = authority.substr(close + 2);
      }
      authority = authority.substr(1, close - 1);
    } else if (const std::size_t colon = authority.rfind(':'); colon != std::string_view::npos) {
      port = authority.substr(colon + 1);
      authority = authority.substr(0, colon);
    }
    std::size_t pos = 0;
    const auto port_number = parse_digits(port, pos, 65535);
    if (!port_number || pos != port.size() || *port_number == 0) return bad("invalid port");
    if (!is_host_name_or_ip(authority) ||
        (authority.find(':') != std::string_view::npos && !url.starts_with("https://["))) {
      return bad("invalid host: a DNS name, an IPv4 address or a [bracketed] IPv6 address");
    }
    cmek.api_url = url;
    cmek.host = std::string(authority);
    cmek.port = std::to_string(*port_number);
    cmek.base_path = std::string(path);
  }

  // The key is read once, here: a reload picks up a new one. Its file must be private (0600 or
  // stricter); messages never quote its content.
  void read_api_key_file(const Value& value, CmekConfig& cmek) {
    auto file = read_named_file(value, kMaxApiKeyFileBytes);
    if (!file) return;
    const std::string& path = file->path;
    BoundedRead& read = file->read;
    if ((read.state.st_mode & 077) != 0) {  // the mode of the file that was read
      std::array<char, 8> mode{};
      std::snprintf(mode.data(), mode.size(), "%04o",
                    static_cast<unsigned>(read.state.st_mode & 07777));
      fail(value, "file " + quote(path) + " has mode " + mode.data() +
                      ": an API key file must be readable by its owner only (chmod 600)");
      return;
    }
    std::string key = trim_trailing_whitespace(std::move(read.content));
    // It goes into an Authorization header: a line break or a control byte would split it.
    if (key.empty() || !std::all_of(key.begin(), key.end(), [](char c) {
          return static_cast<unsigned char>(c) > 0x20 && c != 0x7f;
        })) {
      fail(value, "file " + quote(path) +
                      " must hold one API key: a single line of printable characters without "
                      "spaces (not shown)");
      return;
    }
    cmek.api_key = std::move(key);
    cmek.api_key_file = path;
  }
};

}  // namespace

void parse_cmek_section(const config::SectionParser& parser, const config::Value& value,
                        config::Config& config) {
  config.cmek.emplace();
  CmekSectionParser(parser).parse_cmek(value, *config.cmek);
}

std::string cmek_misfit(const TierFacts& tier) {
  return tier.tier == Tier::self_hosted
             ? "CMEK state comes from the CockroachDB Cloud API: set deployment.tier to advanced "
               "or byoc (CMEK needs CockroachDB Cloud Advanced)"
             : "CMEK is not available on " + std::string(tier.title) +
                   ": it needs CockroachDB Cloud Advanced; move the cluster to Advanced or remove "
                   "the cmek section";
}

}  // namespace certwatch::sources
