// The files section (certificate files on this host): parsed and validated here, with the shared
// helpers (config/section.hpp); the registry entry (sources/registry.cpp) carries it.
#include <array>
#include <map>
#include <utility>

#include "sources/sections.hpp"

namespace certwatch::sources {
namespace {

using namespace config;

// One PEM certificate is 0.5-2 KiB, so under 1 KiB refuses real files; a file is held in memory
// while parsed, and no certificate bundle comes near 64 MiB.
constexpr SizeRange kMaxFileBytesRange{1024, 64 * 1024 * 1024};

class FilesSectionParser : public SectionParser {
 public:
  explicit FilesSectionParser(const SectionParser& parser) : SectionParser(parser.state()) {}

  void parse_files(const Value& value, FilesConfig& files) {
    const auto fields = map_of(value, {"certs_dirs", "extra", "tls_secrets", "max_file_bytes"});
    if (!fields) return;
    std::map<std::string, std::string> seen_dirs;  // certs_dirs and tls_secrets alike
    if (const Value* v = find(*fields, "certs_dirs")) {
      if (const auto items = list_of(*v)) {
        files.certs_dirs.clear();
        for (const Value& item : *items) {
          const auto path = absolute_path(item);
          if (path && check_unique_path(item, *path, seen_dirs)) files.certs_dirs.push_back(*path);
        }
      }
    } else {
      for (const std::string& dir : files.certs_dirs) {
        seen_dirs.emplace(dir, join_key(value.key, "certs_dirs") + " (default)");
      }
    }
    if (const Value* v = find(*fields, "tls_secrets")) {
      if (const auto items = list_of(*v)) {
        for (const Value& item : *items) parse_tls_secret(item, files.tls_secrets, seen_dirs);
      }
    }
    if (const Value* v = find(*fields, "extra")) {
      if (const auto items = list_of(*v)) {
        std::map<std::string, std::string> seen;
        for (const Value& item : *items) parse_extra_file(item, files.extra, seen);
      }
    }
    if (const Value* v = find(*fields, "max_file_bytes")) {
      if (const auto text = scalar_of(*v, "a size such as 1MiB")) {
        const auto size = parse_size(*text);
        if (!size) {
          fail(*v, "invalid size " + quote(*text) +
                       " (expected bytes or e.g. 64KiB, 512KiB, 1MiB, " +
                       range_text(kMaxFileBytesRange) + ")");
        } else if (*size < kMaxFileBytesRange.min || *size > kMaxFileBytesRange.max) {
          fail(*v, "must be " + range_text(kMaxFileBytesRange) + ", got " + quote(*text));
        } else {
          files.max_file_bytes = *size;
        }
      }
    }
  }

  void parse_extra_file(const Value& value, std::vector<ExtraFile>& out,
                        std::map<std::string, std::string>& seen) {
    if (!value.node.IsMap()) {
      fail(value, "must be a map with path and cert_type");
      return;
    }
    const auto fields = map_of(value, {"path", "cert_type"});
    if (!fields) return;
    ExtraFile extra;
    bool ok = true;
    if (const Value* v = require(*fields, value, "path")) {
      const auto path = absolute_path(*v);
      if (!path) {
        ok = false;
      } else if (const auto slash = path->rfind('/');
                 path->substr(0, slash).find_first_of("*?[") != std::string::npos) {
        fail(*v, "wildcards are allowed only in the last path component, got " + quote(*path));
        ok = false;
      } else if (slash == path->size() - 1) {
        fail(*v, "must name files, not a directory (use files.certs_dirs for directories)");
        ok = false;
      } else if (path->ends_with(".key")) {
        fail(*v, "names a .key file: private keys are never read");
        ok = false;
      } else {
        ok = check_unique_path(*v, *path, seen);
        extra.glob = *path;
      }
    } else {
      ok = false;
    }
    if (const Value* v = find(*fields, "cert_type")) {
      const auto type = cert_type_of(*v);
      ok = ok && type.has_value();
      if (type) extra.cert_type = *type;
    }
    if (ok) out.push_back(std::move(extra));
  }

  // files.tls_secrets[]: {path, cert_type: node|client|ui, user (client only)}.
  void parse_tls_secret(const Value& value, std::vector<TlsSecret>& out,
                        std::map<std::string, std::string>& seen) {
    if (!value.node.IsMap()) {
      fail(value, "must be a map with path, cert_type and (for a client) user");
      return;
    }
    const auto fields = map_of(value, {"path", "cert_type", "user"});
    if (!fields) return;
    TlsSecret secret;
    bool ok = true;
    if (const Value* v = require(*fields, value, "path")) {
      const auto path = absolute_path(*v);
      ok = path && check_unique_path(*v, *path, seen);
      if (path) secret.path = *path;
    } else {
      ok = false;
    }
    if (const Value* v = require(*fields, value, "cert_type")) {
      const auto type = cert_type_of(*v);
      if (type && *type != CertType::node && *type != CertType::client && *type != CertType::ui) {
        fail(*v,
             "a TLS Secret holds a node, client or ui certificate, not " + quote(to_string(*type)));
        ok = false;
      } else {
        ok = ok && type.has_value();
        if (type) secret.cert_type = *type;
      }
    } else {
      ok = false;
    }
    const Value* user = find(*fields, "user");
    if (ok && secret.cert_type == CertType::client && user == nullptr) {
      fail(value.line, join_key(value.key, "user"),
           "required for a client certificate (the SQL user its CN must name)");
      ok = false;
    } else if (user != nullptr && secret.cert_type != CertType::client) {
      fail(*user, "only a client certificate has a user");
      ok = false;
    } else if (user != nullptr) {
      const auto name = non_empty_string(*user);
      ok = ok && name.has_value();
      if (name) secret.user = *name;
    }
    if (ok) out.push_back(std::move(secret));
  }
};

}  // namespace

void parse_files_section(const config::SectionParser& parser, const config::Value& value,
                         config::Config& config) {
  FilesSectionParser(parser).parse_files(value, config.files);
}

}  // namespace certwatch::sources
