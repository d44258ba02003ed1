#include "http/endpoint_security.hpp"

namespace certwatch::web {

EndpointSecurityLoad load_endpoint_security(const std::string& web_config_file) {
  EndpointSecurityLoad result;
  WebConfigLoad loaded = load_web_config_file(web_config_file);
  if (!loaded.config) {
    result.errors = std::move(loaded.errors);
    return result;
  }
  const WebConfig& config = *loaded.config;
  auto security = std::make_shared<EndpointSecurity>();
  if (config.tls) {
    TlsBuildResult built = build_ssl_context(*config.tls);
    if (!built.context) {
      const auto line = config.tls->lines.find(built.key);
      result.errors.push_back({web_config_file, line == config.tls->lines.end() ? 0 : line->second,
                               "tls_server_config." + built.key, built.error});
      return result;
    }
    security->tls = std::make_shared<TlsContextSource>(*config.tls, std::move(built.context));
  }
  if (!config.basic_auth_users.empty()) {
    security->auth = std::make_shared<BasicAuth>(config.basic_auth_users);
  }
  security->headers = config.headers;
  result.security = std::move(security);
  return result;
}

}  // namespace certwatch::web
