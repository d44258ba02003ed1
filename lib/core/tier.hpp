// Deployment tiers: who owns what on a self-hosted cluster and on each CockroachDB Cloud plan.
// One table read by the config check, the status page and the audit report.
#pragma once

#include <optional>
#include <string_view>
#include <vector>

#include "core/report.hpp"
#include "core/types.hpp"

namespace certwatch {

// The `deployment.tier` config values.
enum class Tier { self_hosted, advanced, byoc, standard, basic };

// What a tier implies. Texts are complete sentences fragments for a page or a report.
struct TierFacts {
  Tier tier = Tier::self_hosted;
  std::string_view name;   // config value: "self_hosted", "advanced", ...
  std::string_view title;  // "Self-hosted", "CockroachDB Cloud Advanced", ...
  // Who issues and rotates the node (and UI) certificates the cluster serves.
  std::string_view node_certificates_owner;
  // Who issues and rotates the client certificates applications present.
  std::string_view client_certificates_owner;
  // Who holds the key that protects data at rest.
  std::string_view data_at_rest_owner;
  bool node_certificates_yours = false;  // node/CA certificate rules make sense
  bool cmek_available = false;           // CockroachDB Cloud offers CMEK on the plan
  // Who issues the CA the cluster trusts for client certificates, and where the daemon sees it:
  // on Advanced and BYOC the one uploaded through the Cloud API (the cloud source, which uses
  // the `cmek:` section's API settings, like the CMEK source).
  std::string_view client_ca_owner;
};

std::string_view to_string(Tier tier);
std::optional<Tier> tier_from_string(std::string_view name);
const TierFacts& tier_facts(Tier tier);
const std::vector<TierFacts>& all_tiers();
// Whether certificates of `type` are the customer's to issue and rotate on the tier: all of them
// when self-hosted; on CockroachDB Cloud only client certificates, the CA that signs them
// (uploaded for certificate authentication) and the cluster CA clients verify the server with.
bool tier_owns_cert_type(const TierFacts& tier, CertType type);
// The tier and who owns what, as a section of the status page and `check`. `useful_sources`: the
// config sections of the sources that fit the tier (sources::Registry::useful_sections).
Table ownership_table(const TierFacts& tier, const std::vector<std::string_view>& useful_sources);

}  // namespace certwatch
