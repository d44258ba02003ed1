#include "core/tier.hpp"

#include <algorithm>
#include <string>

namespace certwatch {

namespace {

// From Cockroach Labs' documentation of the plans: on Advanced and BYOC the node certificates are
// managed, CMEK is available (and can only be enabled when the cluster is created), and clients
// may authenticate with certificates the customer issues; Standard and Basic manage everything
// and offer no CMEK.
const std::vector<TierFacts>& table() {
  static const std::vector<TierFacts> tiers = {
      {Tier::self_hosted, "self_hosted", "Self-hosted",
       "you (cockroach cert, your own PKI or cert-manager)", "you",
       "you (encryption at rest with store keys, if enabled; otherwise the disk's own encryption)",
       true, false,
       "you (ca-client.crt on the nodes when present, else ca.crt; files and cluster sources)"},
      {Tier::advanced, "advanced", "CockroachDB Cloud Advanced", "Cockroach Labs (managed TLS)",
       "you (client certificates your applications present)",
       "you with CMEK (customer-managed key in your KMS), otherwise Cockroach Labs", false, true,
       "you: the client CA you upload to CockroachDB Cloud (cloud source, through the cmek: "
       "section's API settings)"},
      {Tier::byoc, "byoc", "CockroachDB Cloud Advanced, bring your own cloud",
       "Cockroach Labs (managed TLS)", "you (client certificates your applications present)",
       "you with CMEK (customer-managed key in your KMS), otherwise Cockroach Labs", false, true,
       "you: the client CA you upload to CockroachDB Cloud (cloud source, through the cmek: "
       "section's API settings)"},
      {Tier::standard, "standard", "CockroachDB Cloud Standard", "Cockroach Labs (managed TLS)",
       "you (client certificates your applications present, if you use them)",
       "Cockroach Labs (CMEK is not available on Standard: it needs Advanced)", false, false,
       "none: certificate authentication with your own client CA needs Advanced"},
      {Tier::basic, "basic", "CockroachDB Cloud Basic", "Cockroach Labs (managed TLS)",
       "you (client certificates your applications present, if you use them)",
       "Cockroach Labs (CMEK is not available on Basic: it needs Advanced)", false, false,
       "none: certificate authentication with your own client CA needs Advanced"},
  };
  return tiers;
}

}  // namespace

const std::vector<TierFacts>& all_tiers() { return table(); }

const TierFacts& tier_facts(Tier tier) {
  const auto& tiers = table();
  return *std::find_if(tiers.begin(), tiers.end(),
                       [tier](const TierFacts& facts) { return facts.tier == tier; });
}

bool tier_owns_cert_type(const TierFacts& tier, CertType type) {
  if (tier.node_certificates_yours) return true;
  return type == CertType::client || type == CertType::client_ca || type == CertType::ca;
}

Table ownership_table(const TierFacts& tier, const std::vector<std::string_view>& useful_sources) {
  std::string sources;
  for (std::string_view source : useful_sources) {
    sources += (sources.empty() ? "" : ", ") + std::string(source);
  }
  Table table{"Deployment", {"Aspect", "Owner"}, {}};
  const auto row = [&table](std::string what, std::string_view who) {
    table.rows.push_back({Cell{std::move(what)}, Cell{std::string(who)}});
  };
  row("Tier", std::string(tier.title) + " (deployment.tier: " + std::string(tier.name) + ")");
  row("Node and UI certificates", tier.node_certificates_owner);
  row("Client certificates", tier.client_certificates_owner);
  row("Data-at-rest key", tier.data_at_rest_owner);
  row("Client CA", tier.client_ca_owner);
  row("Useful sources", sources);
  return table;
}

std::string_view to_string(Tier tier) { return tier_facts(tier).name; }

std::optional<Tier> tier_from_string(std::string_view name) {
  for (const auto& facts : table()) {
    if (facts.name == name) return facts.tier;
  }
  return std::nullopt;
}

}  // namespace certwatch
