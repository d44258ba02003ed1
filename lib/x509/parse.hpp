// PEM/DER bytes -> certificate facts. Pure: takes bytes, never a file or a clock.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/types.hpp"

namespace certwatch::x509 {

enum class ParseError {
  no_certificate,  // no "-----BEGIN CERTIFICATE-----" block at all (empty, key-only, garbage)
  bad_pem,         // a CERTIFICATE block whose base64 or DER does not decode
};

struct BundleResult {
  // Every certificate block that parsed, in file order. The position in this vector is not the
  // `index` label: see `indices`.
  std::vector<CertificateFacts> certificates;
  // indices[i] is the position of certificates[i] among the file's CERTIFICATE blocks (0-based),
  // so a broken block in the middle does not renumber the ones after it.
  std::vector<int> indices;
  std::optional<ParseError> error;  // set when no block parsed, or when any block was bad
  std::string detail;               // human-readable reason for logs
};

// Parses every "CERTIFICATE" PEM block in `bytes` (tolerates CRLF, text around blocks, other
// block types such as keys, which are skipped and never decoded).
struct ParseOptions {
  // Keep each certificate's DER in its facts (CertificateFacts::der). Only the posture checks
  // use it (chain verification, key_match); without them it is dropped once parsed, and a host's
  // thousands of certificates do not keep a second copy of themselves in memory.
  bool keep_der = true;
};

BundleResult parse_pem_bundle(std::string_view bytes, const ParseOptions& options = {});

// Parses one DER-encoded certificate.
std::optional<CertificateFacts> parse_der(std::string_view der);

}  // namespace certwatch::x509
