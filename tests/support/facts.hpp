// Test-only: an observation's facts are shared and immutable in the daemon (a source's cache and
// every snapshot hold the same ones); a test that changes one fact changes its own copy.
#pragma once

#include <memory>

#include "core/types.hpp"

namespace certwatch::testing {

// The facts of `cert`, copied into a fresh object that only `cert` holds, for the test to change.
inline CertificateFacts& edit_facts(CertObservation& cert) {
  auto copy = std::make_shared<CertificateFacts>(cert.facts ? *cert.facts : CertificateFacts{});
  CertificateFacts& facts = *copy;
  cert.facts = std::move(copy);
  return facts;
}

}  // namespace certwatch::testing
