// The C++ side of bench/parse_vs_go.sh, timed exactly as bench/go/parse_certs.go times Go:
//   crdb-certwatch-bench-parse MODE DIR BUNDLE REPEATS     MODE: daemon | openssl
// daemon: x509::parse_pem_bundle (the daemon's parser, every fact); openssl: the floor's bare
// loop (PEM_read_bio_X509 + notAfter). Prints certs, then for parse (files already in memory), e2e
// (list, read, parse) and bundle (the one bundle file, in memory) the wall time (<name>_us) and
// the process's CPU time (<name>_cpu_us): the minimum over REPEATS passes, in microseconds per
// certificate.
#include <dirent.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <functional>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "openssl_loop.hpp"
#include "x509/parse.hpp"

namespace {

std::string read_whole(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::vector<std::string> read_dir(const std::string& dir) {
  std::unique_ptr<DIR, int (*)(DIR*)> handle(::opendir(dir.c_str()), &::closedir);
  if (!handle) {
    std::perror(dir.c_str());
    std::exit(1);
  }
  std::vector<std::string> files;
  while (const dirent* entry = ::readdir(handle.get())) {
    const std::string name = entry->d_name;
    if (name.size() < 4 || name.compare(name.size() - 4, 4, ".crt") != 0) continue;
    files.push_back(read_whole(dir + "/" + name));
  }
  return files;
}

long parse_all(bool daemon, const std::vector<std::string>& files, long long& observed) {
  if (!daemon) {
    certwatch::bench::OpensslCount counted;
    for (const std::string& content : files) certwatch::bench::count_with_openssl(content, counted);
    observed += counted.not_after_years;
    return counted.certs;
  }
  long certs = 0;
  for (const std::string& content : files) {
    const auto result = certwatch::x509::parse_pem_bundle(content);
    if (result.error) {
      std::fprintf(stderr, "parse: %s\n", result.detail.c_str());
      std::exit(1);
    }
    for (const auto& facts : result.certificates) observed += facts.not_after;
    certs += static_cast<long>(result.certificates.size());
  }
  return certs;
}

double cpu_microseconds() {
  timespec now{};
  ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) * 1e6 + static_cast<double>(now.tv_nsec) / 1e3;
}

// The fastest of several passes, microseconds per certificate.
struct Timing {
  double wall = -1;
  double cpu = -1;
  std::string text(const char* name) const {
    char line[128];
    std::snprintf(line, sizeof line, "%s_us=%.2f %s_cpu_us=%.2f", name, wall, name, cpu);
    return line;
  }
};

Timing min_per_cert(int repeats, long& certs, const std::function<long()>& pass) {
  Timing best;
  for (int i = 0; i < repeats; ++i) {
    const double cpu_start = cpu_microseconds();
    const auto start = std::chrono::steady_clock::now();
    certs = pass();
    const double per_cert = static_cast<double>(std::max(certs, 1L));
    const double wall =
        std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start)
            .count() /
        per_cert;
    const double cpu = (cpu_microseconds() - cpu_start) / per_cert;
    if (best.wall < 0 || wall < best.wall) best.wall = wall;
    if (best.cpu < 0 || cpu < best.cpu) best.cpu = cpu;
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 5 || (std::strcmp(argv[1], "daemon") != 0 && std::strcmp(argv[1], "openssl") != 0)) {
    std::fprintf(stderr, "usage: %s daemon|openssl DIR BUNDLE REPEATS\n", argv[0]);
    return 2;
  }
  const bool daemon = std::strcmp(argv[1], "daemon") == 0;
  const std::string dir = argv[2];
  const int repeats = std::max(1, std::atoi(argv[4]));
  long long observed = 0;
  long certs = 0;
  const std::vector<std::string> files = read_dir(dir);
  const Timing parse =
      min_per_cert(repeats, certs, [&] { return parse_all(daemon, files, observed); });
  long ignored = 0;
  const Timing e2e =
      min_per_cert(repeats, ignored, [&] { return parse_all(daemon, read_dir(dir), observed); });
  const std::vector<std::string> bundle{read_whole(argv[3])};
  const Timing whole_bundle =
      min_per_cert(repeats, ignored, [&] { return parse_all(daemon, bundle, observed); });
  std::printf("certs=%ld %s %s %s observed=%lld\n", certs, parse.text("parse").c_str(),
              e2e.text("e2e").c_str(), whole_bundle.text("bundle").c_str(), observed);
  return 0;
}
