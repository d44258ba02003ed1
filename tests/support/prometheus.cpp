#include "support/prometheus.hpp"

#include <regex>
#include <thread>

namespace certwatch::testing {

namespace {

std::string prometheus_config(const std::vector<int>& exporter_ports,
                              const std::vector<std::string>& rule_files,
                              const std::string& cluster) {
  std::string yaml = "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n";
  if (!rule_files.empty()) {
    yaml += "rule_files:\n";
    for (const auto& file : rule_files) yaml += "  - '" + file + "'\n";
  }
  yaml += "scrape_configs:\n  - job_name: crdb-certwatch\n    static_configs:\n      - targets:\n";
  for (const int port : exporter_ports)
    yaml += "          - '127.0.0.1:" + std::to_string(port) + "'\n";
  if (!cluster.empty()) yaml += "        labels:\n          cluster: '" + cluster + "'\n";
  return yaml;
}

}  // namespace

std::optional<int> wait_for_listening_port(ChildProcess& daemon, std::chrono::seconds timeout) {
  const std::regex listening{R"(\(port ([0-9]+)\))"};
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    std::smatch match;
    const std::string log = daemon.log();
    if (std::regex_search(log, match, listening)) return std::stoi(match[1]);
    if (!daemon.running()) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds{50});
  }
  return std::nullopt;
}

PrometheusServer::PrometheusServer(const TempDir& dir, const std::vector<int>& exporter_ports,
                                   const std::vector<std::string>& rule_files,
                                   const std::string& cluster)
    : port_(find_free_port()),
      process_({"prometheus",
                "--config.file=" + dir.write("prometheus.yml",
                                             prometheus_config(exporter_ports, rule_files, cluster))
                                       .string(),
                "--storage.tsdb.path=" + (dir.path() / "tsdb").string(),
                "--web.listen-address=127.0.0.1:" + std::to_string(port_)},
               dir.path() / "prometheus.log") {}

bool PrometheusServer::wait_until_ready(std::chrono::seconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline && process_.running()) {
    const auto response = http_get(port_, "/-/ready", std::chrono::seconds{2});
    if (response && response->status == 200) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds{200});
  }
  return false;
}

std::optional<HttpResponse> PrometheusServer::api_get(
    std::string_view path, const std::vector<std::pair<std::string, std::string>>& params) const {
  std::string target(path);
  char separator = '?';
  for (const auto& [name, value] : params) {
    target += separator + percent_encode(name) + "=" + percent_encode(value);
    separator = '&';
  }
  return http_get(port_, target, std::chrono::seconds{10});
}

std::string percent_encode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if ((byte >= 'A' && byte <= 'Z') || (byte >= 'a' && byte <= 'z') ||
        (byte >= '0' && byte <= '9') || c == '-' || c == '.' || c == '_' || c == '~') {
      out += c;
    } else {
      out += '%';
      out += kHex[byte >> 4];
      out += kHex[byte & 0xf];
    }
  }
  return out;
}

}  // namespace certwatch::testing
