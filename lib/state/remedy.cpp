#include "state/remedy.hpp"

#include <algorithm>
#include <cctype>
#include <limits>
#include <unordered_map>

#include "core/shell_command.hpp"
#include "core/text.hpp"
#include "rules/automation.hpp"
#include "rules/chain_causes.hpp"
#include "rules/conditions.hpp"
#include "rules/rule.hpp"
#include "state/rotation.hpp"

namespace certwatch::state {
namespace {

// Where a CA's private key is: off the node hosts (ca_key_present says why), so a placeholder.
constexpr std::string_view kCaKey = "/path/to/ca.key";
constexpr std::string_view kClientCaKey = "/path/to/ca-client.key";

std::string dir_of(const std::string& path) {
  const auto slash = path.rfind('/');
  return slash == std::string::npos ? std::string(".") : path.substr(0, slash);
}

std::string file_name_of(const std::string& path) {
  const auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// `client-tenant.<id>.crt` / `tenant-signing.<id>.crt` -> <id>; empty otherwise.
std::string tenant_id_of(const std::string& path) {
  const std::string name = file_name_of(path);
  const auto first = name.find('.');
  const auto last = name.rfind('.');
  if (first == std::string::npos || last <= first + 1) return {};
  return name.substr(first + 1, last - first - 1);
}

std::string key_path_of(const std::string& path) {
  return path.ends_with(".crt") ? path.substr(0, path.size() - 4) + ".key" : path + ".key";
}

// "on node 3's host" / "on this host": where a command is run.
std::string where_to_run(const CertObservation& cert) {
  if (cert.id.path.empty()) {
    return cert.id.node_id.empty() ? "on the node's host, with --certs-dir set to its certs "
                                     "directory"
                                   : "on node " + cert.id.node_id +
                                         "'s host, with --certs-dir set to its certs directory";
  }
  return "on the host that holds " + cert.id.path;
}

// A command line to paste: core/shell_command.hpp quotes every value from outside (file names,
// SANs and users hold any bytes) and keeps out of the line what no quoting shows safely; its
// notes say what the variable standing for such a value holds. The line is also kept in
// `into.commands`, so a page can show it as code, and its notes in `into.notes`.
std::string shown(Remedy& into, const std::vector<ShellCommand>& commands) {
  CommandLine line = command_line(commands);
  into.commands.push_back(line.text);
  for (std::string& note : line.notes) into.notes.push_back(std::move(note));
  return line.text;
}

std::string shown(Remedy& into, const ShellCommand& command) {
  return shown(into, std::vector{command});
}

ShellCommand words(std::vector<std::string> program, std::vector<ShellArg> operands = {}) {
  return {std::move(program), {}, std::move(operands)};
}

const ShellCommand& sighup() {
  static const ShellCommand command{
      {"pkill"}, {literal_arg("-SIGHUP"), literal_arg("-x")}, {literal_arg("cockroach")}};
  return command;
}

std::vector<ShellArg> certs_dir_args(const std::string& path, std::string_view ca_key) {
  std::vector<ShellArg> args;
  if (!path.empty()) args.push_back(value_arg("CERTS_DIR", dir_of(path), "--certs-dir="));
  args.push_back(literal_arg("--ca-key=" + std::string(ca_key)));
  return args;
}

std::vector<ShellArg> certs_dir_args(const CertObservation& cert, std::string_view ca_key) {
  return certs_dir_args(cert.id.path, ca_key);
}

std::vector<ShellArg> sans_of(const CertificateFacts* facts) {
  std::vector<ShellArg> names;
  if (facts == nullptr) return names;
  for (const std::string& n : facts->dns_names) names.push_back(value_arg("SAN", n));
  for (const std::string& n : facts->ip_addresses) names.push_back(value_arg("SAN", n));
  return names;
}

void append(std::vector<ShellArg>& to, const std::vector<ShellArg>& more) {
  to.insert(to.end(), more.begin(), more.end());
}

std::string user_of(const CertObservation& cert) {
  if (!cert.id.user.empty()) return cert.id.user;
  if (cert.facts && !cert.facts->subject_cn.empty()) return cert.facts->subject_cn;
  return "USER";
}

bool loaded_by_node(CertType type) { return type != CertType::client && type != CertType::other; }

// How a node starts using a certificate replaced on disk: CockroachDB reads them on SIGHUP only.
std::string load_step(Remedy& into, const CertObservation& cert) {
  if (!loaded_by_node(cert.id.cert_type)) {
    return " Then deploy it (with its key, mode 0600) where the client that connects as " +
           user_of(cert) + " reads it; clients read it at their next connection.";
  }
  return " Then make the node load it: " + shown(into, sighup()) +
         " on that host (CockroachDB reads certificates only on SIGHUP); on Kubernetes, once the "
         "Secret holds it: " +
         shown(into, words({"kubectl", "rollout", "restart", "statefulset/cockroachdb"})) +
         " (your StatefulSet's name).";
}

// The CA rotation sequence of cockroachdb-facts.md, for the CA certificate `cert`.
std::string ca_rotation(Remedy& into, const CertObservation& cert, std::string_view create_command,
                        std::string_view ca_key) {
  std::vector<ShellArg> options = certs_dir_args(cert, ca_key);
  options.push_back(literal_arg("--overwrite"));
  const ShellCommand create{{"cockroach", "cert", std::string(create_command)}, options, {}};
  return "Rotate the CA " + where_to_run(cert) + ": 1. move the old CA key aside (" +
         shown(into, words({"mv"}, {literal_arg(std::string(ca_key)),
                                    literal_arg(std::string(ca_key) + ".old")})) +
         "); 2. " + shown(into, create) +
         " (writes a combined file: new CA first, old second); 3. copy the combined file to "
         "every node and client and SIGHUP the nodes (" +
         shown(into, sighup()) +
         "; Kubernetes: update the Secret, then kubectl rollout restart); 4. re-issue the node "
         "and client certificates from the new CA; 5. remove the old CA from the bundle only when "
         "the CA rotation table says it is safe to remove.";
}

// The command (and load step) that reissues `cert` with its current SANs and user.
std::string reissue(Remedy& into, const CertObservation& cert, Tier tier) {
  const TierFacts& facts = tier_facts(tier);
  const CertType type = cert.id.cert_type;
  if (cert.id.source == "cloud") {
    // The client CA uploaded to CockroachDB Cloud: made by you, trusted by the cluster once
    // uploaded; the rotation is a new bundle uploaded, then new client certificates.
    std::vector<ShellArg> options = certs_dir_args("", kClientCaKey);
    options.insert(options.begin(), literal_arg("--certs-dir=/path/to/client-ca-dir"));
    options.push_back(literal_arg("--overwrite"));
    return "Rotate the client CA uploaded to CockroachDB Cloud: 1. move the old client CA key "
           "aside and issue a new one: " +
           shown(into, ShellCommand{{"cockroach", "cert", "create-client-ca"}, options, {}}) +
           " (writes ca-client.crt with the new CA first and the old second); 2. upload that "
           "bundle: PATCH " +
           cert.id.path +
           " with {\"x509_pem_cert\": \"<the bundle>\"} (or the Cloud Console, ccloud, Terraform "
           "cockroach_client_ca_cert) and wait for status IS_SET; 3. re-issue the client "
           "certificates from the new CA; 4. upload the new CA alone once no client certificate "
           "chains to the old one.";
  }
  if (!tier_owns_cert_type(facts, type)) {
    return "Cockroach Labs issues and rotates this " + std::string(to_string(type)) +
           " certificate on " + std::string(facts.title) +
           ": nothing to reissue on your side. If it is expired or about to expire, open a "
           "support ticket with Cockroach Labs.";
  }
  if (!facts.node_certificates_yours && type == CertType::ca) {
    return "Download the cluster's current CA certificate from the CockroachDB Cloud Console "
           "(Connect dialog) and replace " +
           (cert.id.path.empty() ? std::string("ca.crt") : cert.id.path) +
           " on every client that verifies the cluster with it.";
  }
  const std::string run = "Run " + where_to_run(cert) + ": ";
  switch (type) {
    case CertType::ca:
      return ca_rotation(into, cert, "create-ca", kCaKey);
    case CertType::client_ca:
      return ca_rotation(into, cert, "create-client-ca", kClientCaKey);
    case CertType::tenant_ca:
      return ca_rotation(into, cert, "create-tenant-client-ca", kCaKey);
    case CertType::ui_ca:
      return "Rotate the DB Console CA the way it was made (cockroach has no command for it): a "
             "combined ca-ui.crt (new CA first, old second) on every node, SIGHUP, then re-issue "
             "ui.crt from the new CA.";
    case CertType::node: {
      std::vector<ShellArg> sans = sans_of(cert.facts.get());
      if (sans.empty()) {
        return run +
               "cockroach cert create-node with every name and address the node is reached "
               "by, --certs-dir set to its certs directory, --ca-key and --overwrite." +
               load_step(into, cert);
      }
      std::vector<ShellArg> options = certs_dir_args(cert, kCaKey);
      options.push_back(literal_arg("--overwrite"));
      return run + shown(into, ShellCommand{{"cockroach", "cert", "create-node"}, options, sans}) +
             "." + load_step(into, cert);
    }
    case CertType::node_client:
    case CertType::client: {
      std::vector<ShellArg> options =
          certs_dir_args(cert, facts.node_certificates_yours ? kCaKey : kClientCaKey);
      options.push_back(literal_arg("--overwrite"));
      const ShellArg user = type == CertType::node_client ? literal_arg("node")
                                                          : value_arg("SQL_USER", user_of(cert));
      return run +
             shown(into, ShellCommand{{"cockroach", "cert", "create-client"}, options, {user}}) +
             "." + load_step(into, cert);
    }
    case CertType::tenant_client:
    case CertType::tenant_signing: {
      const std::string id = tenant_id_of(cert.id.path);
      std::vector<ShellArg> operands{id.empty() ? literal_arg("TENANT_ID")
                                                : value_arg("TENANT_ID", id)};
      if (type == CertType::tenant_client) append(operands, sans_of(cert.facts.get()));
      std::vector<ShellArg> options = certs_dir_args(cert, kCaKey);
      options.push_back(literal_arg("--overwrite"));
      const std::string sub =
          type == CertType::tenant_client ? "create-tenant-client" : "create-tenant-signing";
      return run + shown(into, ShellCommand{{"cockroach", "cert", sub}, options, operands}) + "." +
             load_step(into, cert);
    }
    case CertType::ui: {
      std::string sans;
      for (const ShellArg& name : sans_of(cert.facts.get())) {
        sans += (sans.empty() ? "" : ", ") + name.value.value_or("");
      }
      return "Re-issue " + (cert.id.path.empty() ? std::string("ui.crt") : cert.id.path) +
             " and its key from the CA in ca-ui.crt with the same SANs (" +
             (sans.empty() ? std::string("every name the DB Console is reached by") : sans) + ")." +
             load_step(into, cert);
    }
    case CertType::other:
      break;
  }
  return "Re-issue it from the CA that signed it" +
         (cert.facts && !cert.facts->issuer_cn.empty() ? " (" + cert.facts->issuer_cn + ")"
                                                       : std::string()) +
         " with the same subject and SANs, and replace it where it is used.";
}

std::string camel_case(std::string_view action) {
  std::string out;
  bool upper = true;
  for (char c : action) {
    if (c == '_') {
      upper = true;
      continue;
    }
    out += upper ? static_cast<char>(std::toupper(static_cast<unsigned char>(c))) : c;
    upper = false;
  }
  return out;
}

struct ActionText {
  std::string_view action;
  std::string_view why;
  std::string_view fix;  // without a particular certificate
};

constexpr ActionText kActions[] = {
    {rules::kActionExpired,
     "It has expired: every TLS handshake that presents or verifies it fails now.",
     "Reissue it with its current SANs or user (cockroach cert create-node <SANs> --overwrite, "
     "create-client <user>; for a CA the CA rotation sequence), then make the node load it: "
     "pkill -SIGHUP -x cockroach (Kubernetes: kubectl rollout restart statefulset/<name>)."},
    {rules::kActionRotateNow,
     "It expires within the rotate-now window: a missed rotation becomes an outage.",
     "Reissue it now with its current SANs or user (cockroach cert create-node <SANs> "
     "--overwrite, create-client <user>), deploy it with its key at 0600, then pkill -SIGHUP -x "
     "cockroach (Kubernetes: kubectl rollout restart statefulset/<name>)."},
    {rules::kActionScheduleRotation,
     "It expires within the schedule window: book the rotation before it becomes urgent.",
     "Schedule its reissue (cockroach cert create-node <SANs> --overwrite or create-client "
     "<user>) and the SIGHUP or rollout that loads it, within the coming weeks."},
    {rules::kActionPlanRotation,
     "A CA expiring within a year: everything it signed stops verifying then, and a CA "
     "rotation takes weeks to reach every node and client.",
     "Plan the CA rotation: move the old CA key aside, cockroach cert create-ca --overwrite "
     "(combined file, new CA first), deploy it everywhere and SIGHUP, re-issue the leaves, and "
     "remove the old CA only when nothing depends on it."},
    {rules::kActionNotYetValid, "Its notBefore is in the future: peers reject it until then.",
     "Check this host's clock (timedatectl status: NTP synchronized; chronyc tracking). If the "
     "clock is right, the issuer's clock was wrong: reissue it."},
    {rules::kActionLoadFailed,
     "The node reports 0 for it: it runs without a loadable certificate of this type.",
     "On the node's host: cockroach cert list --certs-dir=<its certs dir>, check the key is mode "
     "0600 and owned by the cockroach user, read the node's log for the load error, fix it, then "
     "pkill -SIGHUP -x cockroach."},
    {rules::kActionRenewalOverdue,
     "The automation that manages it should have renewed it by now and did not: left alone, it "
     "runs into its expiry like an unmanaged one.",
     "Check the automation: the Helm chart's rotation CronJob (kubectl get cronjobs; the last "
     "Job's logs) or the cert-manager Certificate (kubectl describe certificate: conditions, "
     "events). Then renew it by hand before it expires (cockroach cert create-node <SANs> "
     "--overwrite or create-client <user>, then pkill -SIGHUP -x cockroach)."},
};

const ActionText* find_action(std::string_view action) {
  for (const ActionText& text : kActions) {
    if (text.action == action) return &text;
  }
  return nullptr;
}

struct CheckText {
  std::string_view check;
  std::string_view fix;  // without a particular certificate
};

constexpr CheckText kChecks[] = {
    {rules::kCheckChainUntrusted,
     "Re-issue it from the CA in the CA file beside it, or add the CA that signed it to that file "
     "(combined file: new CA first, old second), then SIGHUP."},
    {rules::kCheckOutlivesCa,
     "Rotate the CA before it expires: a combined ca.crt (new first, old second) on every node "
     "and client, then re-issue the leaves from the new CA."},
    {rules::kCheckSanMissing,
     "cockroach cert create-node <current SANs> <missing SANs> --certs-dir=<dir> "
     "--ca-key=/path/to/ca.key --overwrite, then pkill -SIGHUP -x cockroach."},
    {rules::kCheckCnMismatch,
     "Re-issue it with the CN CockroachDB needs (node for node.crt, the user for "
     "client.<user>.crt): cockroach cert create-node / create-client <user> --overwrite."},
    {rules::kCheckEkuMissing,
     "Re-issue it with serverAuth and clientAuth (cockroach cert create-node does), then SIGHUP."},
    {rules::kCheckKeyPermissions,
     "chmod 0600 <key> && chown cockroach <key> (CockroachDB refuses keys readable by others)."},
    {rules::kCheckKeyOwner, "chown <key_owner> <key> (the configured checks.key_owner)."},
    {rules::kCheckKeyMissing,
     "Put the private key beside the certificate (mode 0600), or re-issue both."},
    {rules::kCheckCaKeyPresent,
     "Move the CA key off this host to offline storage: nodes never "
     "read it."},
    {rules::kCheckWeakKey,
     "Re-issue it with RSA 2048+ or ECDSA P-256+ (cockroach cert uses RSA "
     "2048 by default), then SIGHUP."},
    {rules::kCheckWeakSignature, "Re-issue it signed with SHA-256 or better, then SIGHUP."},
    {rules::kCheckKeyMismatch,
     "Put the key that belongs to the certificate beside it, or "
     "re-issue both."},
    {rules::kCheckCompromised,
     "Replace it now, and remove the compromised certificate or CA from every trust bundle."},
};

const CertObservation* find_certificate(const Snapshot& snapshot, const CertIdentity& id) {
  for (const CertObservation* cert : snapshot.certificates) {
    if (cert->id == id) return cert;
  }
  return nullptr;
}

std::string where_of(const CertIdentity& id) {
  std::string where = id.path.empty() ? "node " + id.node_id : id.path;
  if (!id.path.empty() && !id.node_id.empty()) where += " (node " + id.node_id + ")";
  if (!id.index.empty() && id.index != "0") where += " [bundle #" + id.index + "]";
  if (!id.user.empty()) where += " user " + id.user;
  return where;
}

}  // namespace

std::string action_alert(std::string_view action) { return "CrdbCert" + camel_case(action); }

Remedy action_remedy(std::string_view action, Severity severity, bool ca_only) {
  if (const ActionText* text = find_action(action)) {
    return {std::string(text->why), std::string(text->fix), action_alert(action)};
  }
  // A custom rule's action: the remedy of the default action it resembles most.
  if (ca_only) return action_remedy(rules::kActionPlanRotation);
  return action_remedy(severity == Severity::critical ? rules::kActionRotateNow
                                                      : rules::kActionScheduleRotation);
}

Remedy check_remedy(std::string_view check) {
  const rules::CheckInfo* info = rules::find_check(check);
  Remedy remedy{info ? std::string(info->why) : std::string(), "Follow the runbook of the check.",
                info ? std::string(info->alert) : ""};
  for (const CheckText& text : kChecks) {
    if (text.check == check) remedy.fix = std::string(text.fix);
  }
  return remedy;
}

Remedy condition_remedy(Condition condition) {
  const ConditionRow& row = condition.row();
  return {std::string(row.why), std::string(row.fix), std::string(row.alert)};
}

std::optional<Remedy> remedy_for_alert(std::string_view alert,
                                       std::span<const Condition> conditions) {
  for (const Condition condition : conditions) {
    if (rules::alert_of(condition) == alert) return condition_remedy(condition);
  }
  for (const rules::CheckInfo& check : rules::all_checks()) {
    if (check.alert == alert) return check_remedy(check.name);
  }
  for (const ActionText& text : kActions) {
    if (action_alert(text.action) == alert) return action_remedy(text.action);
  }
  if (alert == "CrdbCertExporterDown") {
    return Remedy{"Nothing watches certificate expiry until the exporter is scraped again.",
                  "On the host: systemctl status crdb-certwatch and journalctl -u crdb-certwatch; "
                  "then check that Prometheus reaches its port (curl http://<host>:9712/-/healthy) "
                  "and that the scrape job's name matches alerting.job.",
                  std::string(alert)};
  }
  return std::nullopt;
}

std::string file_error_fix(FileErrorReason reason) {
  switch (reason) {
    case FileErrorReason::permission_denied:
      return "Give the crdb-certwatch user read access (group cockroach, mode 0640 for .crt).";
    case FileErrorReason::not_found:
      return "The file vanished or the path is wrong: fix files.certs_dirs / files.paths, or put "
             "the certificate back.";
    case FileErrorReason::no_certificate:
    case FileErrorReason::bad_pem:
      return "Not a PEM certificate: check what was copied there (openssl x509 -in <file> "
             "-noout -text).";
    case FileErrorReason::too_large:
      return "Larger than files.max_file_bytes: check what was copied there, or raise the limit.";
    case FileErrorReason::not_regular_file:
      return "A directory, socket or device where a certificate was expected: replace it with the "
             "certificate file.";
    case FileErrorReason::read_error:
      break;
  }
  return "Read the daemon's log (journalctl -u crdb-certwatch) for the error, then fix the file.";
}

std::optional<Remedy> remedy_for(const CertObservation& cert, const rules::CertState& state,
                                 Tier tier) {
  if (state.action == rules::kActionOk || state.severity == Severity::none) return std::nullopt;
  Remedy remedy = action_remedy(state.action, state.severity, is_ca_type(cert.id.cert_type));
  Remedy& into = remedy;
  if (state.action == rules::kActionNotYetValid) {
    remedy.fix += " To reissue: " + reissue(into, cert, tier);
  } else if (state.action == rules::kActionLoadFailed) {
    ShellCommand list{{"cockroach", "cert", "list"}, {}, {}};
    if (!cert.id.path.empty()) {
      list.options.push_back(value_arg("CERTS_DIR", dir_of(cert.id.path), "--certs-dir="));
    }
    remedy.fix = "Run " + where_to_run(cert) + ": " + shown(into, list) + "; check the " +
                 std::string(to_string(cert.id.cert_type)) +
                 " certificate and its key (mode 0600, owned by the cockroach user) are there and "
                 "read the node's log for the load error; then " +
                 shown(into, sighup()) +
                 ". If the file itself is bad: " + reissue(into, cert, tier);
  } else {
    remedy.fix = reissue(into, cert, tier);
  }
  return remedy;
}

Remedy remedy_for(const rules::CheckFailure& f, const Snapshot& s) {
  Remedy remedy = check_remedy(f.check);
  Remedy& into = remedy;
  const std::string& path = f.id.path;
  const std::string key = key_path_of(path);
  const CertObservation* cert = find_certificate(s, f.id);
  const std::string& check = f.check;
  // Only a file has a certs directory on this host; a probed or reported node's is elsewhere.
  std::vector<ShellArg> reissue_options =
      certs_dir_args(f.id.source == kSourceFile ? path : std::string(), kCaKey);
  if (f.id.source != kSourceFile) {
    reissue_options.insert(reissue_options.begin(), literal_arg("--certs-dir=/path/to/certs"));
  }
  reissue_options.push_back(literal_arg("--overwrite"));
  const ShellArg key_arg = value_arg("KEY_FILE", key);
  if (check == rules::kCheckSanMissing) {
    std::vector<ShellArg> names = sans_of(cert ? cert->facts.get() : nullptr);
    for (const rules::CheckFailure& other : s.check_failures) {
      if (other.id == f.id && other.check == check) names.push_back(value_arg("SAN", other.detail));
    }
    remedy.fix = shown(
        into,
        {ShellCommand{{"cockroach", "cert", "create-node"}, reissue_options, names}, sighup()});
  } else if (check == rules::kCheckKeyPermissions) {
    remedy.fix = shown(into, {words({"chmod"}, {literal_arg("0600"), key_arg}),
                              words({"chown"}, {literal_arg("cockroach"), key_arg})});
  } else if (check == rules::kCheckKeyOwner) {
    remedy.fix = shown(into, words({"chown"}, {literal_arg("OWNER"), key_arg})) +
                 " (OWNER: the configured key_owner)";
  } else if (check == rules::kCheckKeyMissing) {
    remedy.fix = "put the private key of " + path + " at " + key + " (mode 0600), or re-issue both";
  } else if (check == rules::kCheckCaKeyPresent) {
    remedy.fix = "move " + path + " off this host to offline storage; nodes never read it";
  } else if (check == rules::kCheckCnMismatch || check == rules::kCheckEkuMissing ||
             check == rules::kCheckWeakKey || check == rules::kCheckWeakSignature) {
    const std::string why = " (RSA 2048+, SHA-256, CN and key usages as CockroachDB needs)";
    if (f.id.cert_type == CertType::client) {
      const ShellArg user =
          f.id.user.empty() ? literal_arg("USER") : value_arg("SQL_USER", f.id.user);
      remedy.fix =
          shown(into,
                ShellCommand{{"cockroach", "cert", "create-client"}, reissue_options, {user}}) +
          why;
    } else {
      std::vector<ShellArg> names = sans_of(cert ? cert->facts.get() : nullptr);
      remedy.fix =
          names.empty()
              ? "re-issue it with cockroach cert create-node and every SAN of the node" + why
              : shown(into,
                      ShellCommand{{"cockroach", "cert", "create-node"}, reissue_options, names}) +
                    why;
    }
  } else if (check == rules::kCheckChainUntrusted) {
    // One why and one fix per cause of the verdict (rules/chain_causes.hpp).
    if (const std::string_view why = rules::why_of(f); !why.empty()) remedy.why = std::string(why);
    if (const std::string_view fix = rules::chain_fix_of(f); !fix.empty()) {
      remedy.fix = std::string(fix);
    }
  } else if (check == rules::kCheckKeyMismatch) {
    remedy.fix = "put the key that belongs to " + path + " at " + key + ", or re-issue both";
  }
  return remedy;
}

Remedy remedy_for(const FileError& error) {
  Remedy remedy = condition_remedy(Condition::file_error);
  remedy.fix = file_error_fix(error.reason);
  return remedy;
}

Remedy remedy_for(const Finding& finding) { return condition_remedy(finding.condition); }

std::vector<Problem> problems(const Snapshot& s) {
  std::vector<Problem> out;
  for (std::size_t i = 0; i < s.certificates.size() && i < s.states.size(); ++i) {
    const CertObservation& cert = *s.certificates[i];
    std::optional<Remedy> remedy = remedy_for(cert, s.states[i], s.tier);
    if (!remedy) continue;
    out.push_back({s.states[i].severity, s.states[i].action,
                   std::string(to_string(cert.id.cert_type)) + " " + where_of(cert.id), "",
                   cert.load_failed ? std::nullopt : cert.not_after, std::move(*remedy)});
  }
  // One row per check and certificate (every missing SAN in one), found through an index: a
  // snapshot of thousands of certificates must not cost a quadratic page.
  std::unordered_map<std::string, const CertObservation*> by_identity;
  for (const CertObservation* cert : s.certificates)
    by_identity.emplace(identity_key(cert->id), cert);
  std::unordered_map<std::string, std::size_t> rows;
  for (const rules::CheckFailure& f : s.check_failures) {
    const std::string identity = identity_key(f.id);
    const auto [row, added] = rows.emplace(identity + '\0' + f.check, out.size());
    if (!added) {
      Problem& problem = out[row->second];
      if (!f.detail.empty()) {
        problem.detail += (problem.detail.empty() ? "" : ", ") + f.detail;
      }
      problem.severity = std::max(problem.severity, f.severity);
      continue;
    }
    const auto cert = by_identity.find(identity);
    const CertObservation* observed = cert == by_identity.end() ? nullptr : cert->second;
    out.push_back({f.severity, f.check,
                   std::string(to_string(f.id.cert_type)) + " " + where_of(f.id), f.detail,
                   observed && !observed->load_failed ? observed->not_after : std::nullopt,
                   remedy_for(f, s)});
  }
  for (const FileError* error : s.file_errors) {
    out.push_back({rules::severity_of(Condition::file_error), "file_error", error->path,
                   std::string(to_string(error->reason)) +
                       (error->detail.empty() ? "" : ": " + error->detail),
                   std::nullopt, remedy_for(*error)});
  }
  for (const Finding& finding : s.findings) {
    if (finding.condition == Condition::file_error) continue;  // above, with the reason's fix
    out.push_back({rules::severity_of(finding.condition), std::string(finding.condition.name()),
                   finding.subject, finding.message, std::nullopt, remedy_for(finding)});
  }
  std::stable_sort(out.begin(), out.end(), [](const Problem& a, const Problem& b) {
    if (a.severity != b.severity) return a.severity > b.severity;
    return a.not_after.value_or(std::numeric_limits<std::int64_t>::max()) <
           b.not_after.value_or(std::numeric_limits<std::int64_t>::max());
  });
  return out;
}

}  // namespace certwatch::state
