// The I/O of `preflight`: both sets read by the file source (its bounded, non-blocking reader and
// its key stat and key match), the configured file source once for the other certificates this
// host reads, and the configured cluster source once.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "alerting/preflight.hpp"
#include "core/read_file.hpp"
#include "sources/cluster_source.hpp"
#include "sources/file_source.hpp"
#include "state/collect.hpp"

namespace certwatch::alerting {
namespace {

constexpr std::chrono::seconds kOnce{60};  // a FileSource needs an interval; it polls once here

// The directory itself: nullopt when it can be listed, else why not (a FIFO or a device named as
// the set is refused without blocking: O_DIRECTORY fails on it before anything is read).
std::optional<FileError> directory_error(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return errno_file_error(dir, errno, "open");
  ::close(fd);
  return std::nullopt;
}

CertSet read_set(const std::string& dir, const CertSetLayout& layout,
                 const config::FilesConfig& defaults, const rules::ChecksConfig& checks) {
  CertSet set;
  set.dir = dir;
  if ((set.error = directory_error(dir))) return set;
  config::FilesConfig files;
  files.max_file_bytes = defaults.max_file_bytes;
  if (layout.tls_secret) {
    files.certs_dirs.clear();
    files.tls_secrets.push_back({dir, layout.cert_type, layout.user});
  } else {
    files.certs_dirs = {dir};
  }
  sources::FileSource source(std::move(files), kOnce, checks);
  sources::PollResult result = state::run_poll(source);
  if (result.error) {
    set.error = FileError{dir, FileErrorReason::read_error, result.error->message};
    return set;
  }
  set.certificates = std::move(result.certificates);
  set.keys = std::move(result.keys);
  set.file_errors = std::move(result.file_errors);
  set.denylist = std::move(result.denylist);
  return set;
}

bool has_entry(const std::string& dir, const char* name) {
  struct stat st {};
  return ::fstatat(AT_FDCWD, (dir + "/" + name).c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0;
}

ClusterView ask_cluster(const config::Config* config) {
  ClusterView view;
  if (config == nullptr) {
    view.skip_reason = "no configuration (--config.file), so no cluster to ask";
    return view;
  }
  if (!config->cluster) {
    view.skip_reason = "the configuration has no cluster section";
    return view;
  }
  sources::ClusterSourceOptions options;
  options.node_stale_after = config->alerting.node_stale_after;
  sources::ClusterSource source(*config->cluster, options);
  sources::PollResult result = state::run_poll(source);
  if (result.error) {
    view.skip_reason = "the cluster could not be read (" + std::string(result.error_reason()) +
                       ": " + result.error->message + ")";
    return view;
  }
  view.consulted = true;
  view.reported = std::move(result.certificates);
  if (result.facts) view.local_node_names = result.facts->local_node_names();
  return view;
}

}  // namespace

PreflightRead read_preflight_sets(const PreflightRequest& request) {
  PreflightRead out;
  PreflightInputs in;
  in.now = request.now;
  const config::Config defaults;
  const config::Config& config = request.config != nullptr ? *request.config : defaults;
  in.checks = config.checks;
  in.checks.enabled = true;
  in.checks.key_match = true;  // preflight reads the staged keys: a mismatch is knowable now

  // The layout: a mounted TLS Secret has tls.crt (a symlink into ..data); its leaf's type cannot
  // be told from the names, so it is asked for.
  const bool secret = has_entry(request.staged_dir, "tls.crt");
  if (secret && !request.cert_type) {
    out.error = request.staged_dir +
                " holds tls.crt (a TLS Secret layout): say what it is with --cert-type "
                "node|client|ui (and --user for a client certificate)";
    return out;
  }
  // A certs directory names its certificates: --cert-type would be ignored there, so it is refused.
  if (!secret && request.cert_type && !directory_error(request.staged_dir)) {
    out.error = "--cert-type applies to a TLS Secret layout (tls.crt, tls.key, ca.crt); " +
                request.staged_dir + " has no tls.crt";
    return out;
  }
  in.layout.tls_secret = secret;
  if (request.cert_type) in.layout.cert_type = *request.cert_type;
  in.layout.user = request.user;

  in.staged = read_set(request.staged_dir, in.layout, config.files, in.checks);

  std::string live_dir = request.live_dir;
  if (live_dir.empty() && request.config != nullptr) {
    if (secret) {
      for (const config::TlsSecret& s : config.files.tls_secrets) {
        if (s.cert_type == in.layout.cert_type) {
          live_dir = s.path;
          break;
        }
      }
      if (live_dir.empty()) {
        in.live_skip_reason =
            "no --live, and no files.tls_secrets entry of that cert_type in the configuration";
      }
    } else if (!config.files.certs_dirs.empty()) {
      live_dir = config.files.certs_dirs.front();
    } else {
      in.live_skip_reason = "no --live, and no files.certs_dirs in the configuration";
    }
  } else if (live_dir.empty()) {
    in.live_skip_reason = "no --live and no configuration to take the live directory from";
  }
  if (!live_dir.empty()) {
    // The live keys are only stat'ed, never read: only the staged ones are about to be loaded.
    rules::ChecksConfig live_checks = in.checks;
    live_checks.key_match = false;
    live_checks.denylist_file.clear();
    in.live = read_set(live_dir, in.layout, config.files, live_checks);
  }

  if (request.config != nullptr) {
    rules::ChecksConfig host_checks = in.checks;
    host_checks.key_match = false;
    host_checks.denylist_file.clear();
    sources::FileSource host(config.files, kOnce, host_checks);
    sources::PollResult result = state::run_poll(host);
    if (!result.error) in.host_certificates = std::move(result.certificates);
  }
  in.cluster = ask_cluster(request.config);
  out.inputs = std::move(in);
  return out;
}

}  // namespace certwatch::alerting
