// The floor the daemon's poll is measured against: the least work that still answers "when does
// each certificate in this directory expire". List the directory, read each *.crt file, PEM-decode
// every certificate with PEM_read_bio_X509 and read its notAfter. Nothing else: no fingerprint,
// no names, no rules, no metrics.
//   crdb-certwatch-bench-floor DIR [REPEATS]
// Prints one line of key=value pairs: files, certs, seconds_min, seconds_median (wall clock),
// cpu_seconds_median (this process's CPU time per pass: comparable on a busy machine), max_rss_kib.
#include <dirent.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "openssl_loop.hpp"

namespace {

struct Pass {
  long files = 0;
  long certs = 0;
  long long not_after_sum = 0;  // consumed so the compiler cannot drop the work
};

Pass one_pass(const std::string& dir) {
  Pass pass;
  std::unique_ptr<DIR, int (*)(DIR*)> handle(::opendir(dir.c_str()), &::closedir);
  if (!handle) {
    std::perror(dir.c_str());
    std::exit(1);
  }
  while (const dirent* entry = ::readdir(handle.get())) {
    const std::string name = entry->d_name;
    if (name.size() < 4 || name.compare(name.size() - 4, 4, ".crt") != 0) continue;
    std::ifstream in(dir + "/" + name, std::ios::binary);
    std::ostringstream bytes;
    bytes << in.rdbuf();
    const std::string content = bytes.str();
    ++pass.files;
    certwatch::bench::OpensslCount counted;
    certwatch::bench::count_with_openssl(content, counted);
    pass.certs += counted.certs;
    pass.not_after_sum += counted.not_after_years;
  }
  return pass;
}

double process_cpu_seconds() {
  timespec now{};
  ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) / 1e9;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s DIR [REPEATS]\n", argv[0]);
    return 2;
  }
  const std::string dir = argv[1];
  const int repeats = argc > 2 ? std::max(1, std::atoi(argv[2])) : 5;
  std::vector<double> seconds;
  std::vector<double> cpu_seconds;
  Pass pass;
  for (int i = 0; i < repeats; ++i) {
    const double cpu_start = process_cpu_seconds();
    const auto start = std::chrono::steady_clock::now();
    pass = one_pass(dir);
    seconds.push_back(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    cpu_seconds.push_back(process_cpu_seconds() - cpu_start);
  }
  std::sort(seconds.begin(), seconds.end());
  std::sort(cpu_seconds.begin(), cpu_seconds.end());
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  std::printf(
      "files=%ld certs=%ld seconds_min=%.6f seconds_median=%.6f "
      "cpu_seconds_median=%.6f max_rss_kib=%ld\n",
      pass.files, pass.certs, seconds.front(), seconds[seconds.size() / 2],
      cpu_seconds[cpu_seconds.size() / 2], usage.ru_maxrss);
  return pass.not_after_sum == -1 ? 1 : 0;
}
