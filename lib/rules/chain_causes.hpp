// chain_untrusted names one root cause in its `detail`: the vocabulary, and for each cause why the
// handshake fails and what fixes it. One table, read by the status page, `check`, the audit and the
// runbook's test, so an expired intermediate never gets a missing CA's fix.
#pragma once

#include <span>
#include <string_view>
#include <vector>

#include "rules/checks.hpp"

namespace certwatch::rules {

// The detail of chain_untrusted when there is no CA file to verify against at all.
inline constexpr std::string_view kChainNoCaFile = "no_ca_file";

struct ChainCauseInfo {
  std::string_view detail;  // x509::to_string(ChainCause), or kChainNoCaFile
  std::string_view why;
  std::string_view fix;
};
// Every cause chain_untrusted can report, x509::all_chain_causes() and kChainNoCaFile.
const std::vector<ChainCauseInfo>& chain_causes();
const ChainCauseInfo* find_chain_cause(std::string_view detail);

// Why a failing check matters: the cause's own for chain_untrusted, else the check's.
std::string_view why_of(const CheckFailure& failure);
// The cause's fix for chain_untrusted; empty for other checks (the page has their fixes).
std::string_view chain_fix_of(const CheckFailure& failure);

// The causes of the chain_untrusted failures among `failures`, each once, in order of appearance:
// what `check` and the audit explain below their failure tables.
std::vector<const ChainCauseInfo*> chain_causes_in(std::span<const CheckFailure> failures);

}  // namespace certwatch::rules
