#include "rules/chain_causes.hpp"

#include <algorithm>

#include "x509/chain.hpp"

namespace certwatch::rules {

namespace {

using x509::ChainCause;

struct Text {
  ChainCause cause;
  std::string_view why;
  std::string_view fix;
};

// Written for the person paged: what the verifier saw, and the one thing to do about it.
constexpr Text kTexts[] = {
    {ChainCause::unknown_issuer,
     "No CA in the CA file, nor any certificate after it in its own file, issued it: peers "
     "reject it with \"unknown authority\" at the next handshake.",
     "add the CA that issued it to the CA file (combined file: new CA first, old second) on every "
     "node and client, or re-issue it from a CA in that file; then SIGHUP"},
    {ChainCause::issuer_name_mismatch,
     "The CA file holds a CA with its issuer's common name but another full name (O, OU, ...): "
     "verifiers match the whole name, so that CA is not its issuer.",
     "re-issue it from the CA in the CA file, or add the CA whose full subject is its issuer to "
     "that file; then SIGHUP"},
    {ChainCause::key_id_mismatch,
     "Its authority key identifier names another key than the CA of that name has: it was issued "
     "by an older or regenerated CA with the same name.",
     "put the CA that issued it back in the CA file (combined file: new CA first, old second), or "
     "re-issue it from the current CA; then SIGHUP"},
    {ChainCause::issuer_not_ca,
     "The certificate that signed it is not a CA (no basicConstraints CA:TRUE): verifiers refuse "
     "everything it signs.",
     "re-issue it from a real CA (cockroach cert create-ca makes one) and put that CA in the CA "
     "file; then SIGHUP"},
    {ChainCause::invalid_ca,
     "A CA of its chain may not sign certificates: its keyUsage lacks keyCertSign.",
     "re-issue that CA with keyUsage keyCertSign and basicConstraints CA:TRUE, then the "
     "certificates under it"},
    {ChainCause::path_length,
     "A CA's pathlen constraint allows fewer CAs below it than the chain has.",
     "issue it from a CA nearer the root, or re-issue the constraining CA with a larger pathlen"},
    {ChainCause::name_constraints,
     "A CA of its chain has name constraints that exclude, or do not permit, a name it carries "
     "(DNS, IP or subject name).",
     "re-issue it with names the CA permits, or have the CA re-issued with wider constraints"},
    {ChainCause::critical_extension,
     "It or a CA of its chain carries an extension marked critical that verifiers do not know "
     "(a critical key identifier counts): they must reject it.",
     "re-issue it (or that CA) without marking the extension critical"},
    {ChainCause::bad_signature,
     "Its signature does not verify with the key of the CA of that name: it was altered, or "
     "signed by another key.",
     "re-issue it from the CA in the CA file; then SIGHUP"},
    {ChainCause::algorithm_mismatch,
     "The signature algorithm inside it differs from the outer one, or does not fit the CA's key "
     "type: verifiers reject it.",
     "re-issue it with a standard tool (cockroach cert, openssl x509 -req), which writes one "
     "algorithm that fits the CA's key; then SIGHUP"},
    {ChainCause::explicit_curve,
     "A key of its chain is an EC key given by explicit curve parameters instead of a named "
     "curve: CockroachDB (Go) cannot parse it and OpenSSL rejects it.",
     "make a new key on a named curve (P-256, or RSA 2048+) and re-issue the certificate with it; "
     "then SIGHUP"},
    {ChainCause::policy, "Certificate policy constraints of its chain are not met.",
     "re-issue it under a CA whose policy constraints it meets"},
    {ChainCause::malformed,
     "The certificate is malformed (an extension twice, or one that does not decode): verifiers "
     "reject it, and its names cannot be read, so no SAN check is made.",
     "re-issue it with a standard tool (cockroach cert create-node / create-client); then SIGHUP"},
    {ChainCause::intermediate_expired,
     "A CA certificate of its chain (an intermediate after it in its file, or the CA in the CA "
     "file) is past its notAfter: the chain no longer verifies, though the certificate itself is "
     "in date.",
     "renew the expired CA certificate (the intermediate after the leaf in its file, or the CA in "
     "the CA file) and deploy it, then SIGHUP; the leaf itself need not change"},
    {ChainCause::intermediate_not_yet_valid,
     "A CA certificate of its chain is not valid yet (its notBefore is in the future).",
     "wait for that CA's notBefore, or re-issue it with a notBefore in the past; check the host's "
     "clock"},
    {ChainCause::other, "OpenSSL rejects the chain for a reason outside the causes above.",
     "run openssl verify -partial_chain -no_check_time -CAfile <CA file> -untrusted <its file> "
     "<its file> to see the error"},
};

}  // namespace

const std::vector<ChainCauseInfo>& chain_causes() {
  static const std::vector<ChainCauseInfo> causes = [] {
    std::vector<ChainCauseInfo> out;
    for (const ChainCause cause : x509::all_chain_causes()) {
      const auto text = std::find_if(std::begin(kTexts), std::end(kTexts),
                                     [&](const Text& t) { return t.cause == cause; });
      if (text != std::end(kTexts)) out.push_back({x509::to_string(cause), text->why, text->fix});
    }
    out.push_back({kChainNoCaFile,
                   "There is no CA file to verify it with (ca.crt, or the one its type uses, "
                   "beside it; probe.ca_file for served chains): peers cannot verify it either.",
                   "put the CA certificate that issued it in the CA file beside it (ca.crt), or "
                   "set probe.ca_file; then SIGHUP"});
    return out;
  }();
  return causes;
}

const ChainCauseInfo* find_chain_cause(std::string_view detail) {
  for (const ChainCauseInfo& cause : chain_causes()) {
    if (cause.detail == detail) return &cause;
  }
  return nullptr;
}

std::string_view why_of(const CheckFailure& failure) {
  if (failure.check == kCheckChainUntrusted) {
    if (const ChainCauseInfo* cause = find_chain_cause(failure.detail)) return cause->why;
  }
  const CheckInfo* info = find_check(failure.check);
  return info != nullptr ? info->why : std::string_view();
}

std::string_view chain_fix_of(const CheckFailure& failure) {
  if (failure.check != kCheckChainUntrusted) return {};
  const ChainCauseInfo* cause = find_chain_cause(failure.detail);
  return cause != nullptr ? cause->fix : std::string_view();
}

std::vector<const ChainCauseInfo*> chain_causes_in(std::span<const CheckFailure> failures) {
  std::vector<const ChainCauseInfo*> out;
  for (const CheckFailure& failure : failures) {
    if (failure.check != kCheckChainUntrusted) continue;
    const ChainCauseInfo* cause = find_chain_cause(failure.detail);
    if (cause != nullptr && std::find(out.begin(), out.end(), cause) == out.end()) {
      out.push_back(cause);
    }
  }
  return out;
}

}  // namespace certwatch::rules
