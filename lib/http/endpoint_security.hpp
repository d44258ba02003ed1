// The endpoint's security as connections use it, built from --web.config.file (web_config.hpp):
// the TLS context, the basic-auth users and the extra headers, read once per load and replaced
// whole on reload.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "config/config.hpp"
#include "http/basic_auth.hpp"
#include "http/tls_context.hpp"
#include "http/web_config.hpp"

namespace certwatch::web {

// A web config in the form connections use. Shared by connections, replaced on reload: TLS is
// chosen when a connection is accepted, authentication and headers per request.
struct EndpointSecurity {
  std::shared_ptr<TlsContextSource> tls;  // null: plain HTTP
  std::shared_ptr<BasicAuth> auth;        // null: no authentication
  std::vector<std::pair<std::string, std::string>> headers;
};

struct EndpointSecurityLoad {
  std::shared_ptr<const EndpointSecurity> security;  // set exactly when errors is empty
  std::vector<config::ConfigError> errors;
};

// Reads --web.config.file and builds what connections use, reading the TLS files once: a config
// that cannot serve (unreadable certificate, key that does not match) is refused, its error
// naming file, line and key.
EndpointSecurityLoad load_endpoint_security(const std::string& web_config_file);

}  // namespace certwatch::web
