// The file source's poll alone, in a fresh process: what the daemon's first (cold) poll and a
// following (warm) poll cost, with the wall clock and this process's CPU time around each, every
// scan thread included. bench/run.sh runs it beside the floor so the cold poll's CPU time can be
// compared with the floor's; the daemon's own CPU figure also holds its start-up and the first
// render of /metrics.
//   crdb-certwatch-bench-poll DIR on|off        on|off: the posture checks (key stats, the DER)
// Prints one line of key=value pairs: certs, cold_seconds, cold_cpu_seconds, warm_seconds,
// warm_cpu_seconds.
#include <chrono>
#include <cstdio>
#include <ctime>
#include <string>

#include "sources/file_source.hpp"

namespace {

double process_cpu_seconds() {
  timespec now{};
  ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) / 1e9;
}

struct Timed {
  double wall = 0;
  double cpu = 0;
  std::size_t certs = 0;
};

Timed timed_poll(certwatch::sources::FileSource& source) {
  const double cpu_start = process_cpu_seconds();
  const auto start = std::chrono::steady_clock::now();
  const certwatch::sources::PollResult result = source.poll();
  Timed timed;
  timed.wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  timed.cpu = process_cpu_seconds() - cpu_start;
  timed.certs = result.certificates.size();
  return timed;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3 || (std::string(argv[2]) != "on" && std::string(argv[2]) != "off")) {
    std::fprintf(stderr, "usage: crdb-certwatch-bench-poll DIR on|off\n");
    return 2;
  }
  certwatch::config::FilesConfig files;
  files.certs_dirs = {argv[1]};
  certwatch::rules::ChecksConfig checks;
  checks.enabled = std::string(argv[2]) == "on";
  certwatch::sources::FileSource source(files, std::chrono::seconds(60), checks);
  const Timed cold = timed_poll(source);
  const Timed warm = timed_poll(source);
  std::printf(
      "certs=%zu cold_seconds=%.6f cold_cpu_seconds=%.6f warm_seconds=%.6f "
      "warm_cpu_seconds=%.6f\n",
      cold.certs, cold.wall, cold.cpu, warm.wall, warm.cpu);
  return cold.certs == 0 ? 1 : 0;
}
