#include "rules/conditions.hpp"

namespace certwatch {
namespace {

// A source that is down makes `check` UNKNOWN whatever its severity here: what was checked is
// incomplete.
constexpr ConditionRow kFileError{
    "file_error", Severity::warning, "CrdbCertFileUnreadable",
    "A certificate file the daemon cannot read is a certificate nobody watches.",
    "Give the crdb-certwatch user read access (group cockroach, mode 0640 for .crt), or fix the "
    "path in files.certs_dirs / files.paths."};
constexpr ConditionRow kSourceDown{
    "source_down", Severity::warning, "CrdbCertSourceDown",
    "What the source watches is no longer checked: its figures are the last good poll's.",
    "Read the source's error (crdb-certwatch check, or the status page's Sources table): fix "
    "the DSN, credentials, network or permissions it names."};
constexpr ConditionRow kReloadPending{
    "reload_pending", Severity::warning, "CrdbCertReloadPending",
    "The certificate on disk is not the one the node serves: the node still uses the old one.",
    "On that node's host: pkill -SIGHUP -x cockroach (CockroachDB reads certificates only on "
    "SIGHUP); on Kubernetes: kubectl rollout restart statefulset/<name>."};
constexpr ConditionRow kConfigReloadFailed{
    "config_reload_failed", Severity::warning, "CrdbCertConfigReloadFailed",
    "The daemon still runs the previous configuration: the change you made is not in force.",
    "crdb-certwatch --config.check --config.file=<file> names the file, line and key; fix it, "
    "then systemctl reload crdb-certwatch."};

}  // namespace

const Condition Condition::file_error{kFileError};
const Condition Condition::source_down{kSourceDown};
const Condition Condition::reload_pending{kReloadPending};
const Condition Condition::config_reload_failed{kConfigReloadFailed};

namespace rules {

std::span<const Condition> daemon_conditions() {
  static const Condition conditions[] = {Condition::file_error, Condition::source_down,
                                         Condition::reload_pending,
                                         Condition::config_reload_failed};
  return conditions;
}

}  // namespace rules
}  // namespace certwatch
