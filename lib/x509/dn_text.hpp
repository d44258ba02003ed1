// Distinguished names as text: the one form certificate facts carry (RFC 2253, UTF-8 as is), and
// the forms people paste from `openssl x509 -issuer -noout` into a denylist (issue 28).
#pragma once

#include <openssl/types.h>

#include <optional>
#include <string>
#include <string_view>

namespace certwatch::x509 {

// RFC 2253 one line, as `openssl x509 -nameopt RFC2253` prints it, but with UTF-8 left as UTF-8
// rather than escaped byte by byte, so a denylist entry can be written as the name reads.
std::string rfc2253_name(const X509_NAME* name);

// A name as `openssl x509 -issuer -noout` prints it, in the form rfc2253_name gives, so that it
// compares equal to CertificateFacts::issuer_dn. With or without the leading `issuer=`:
//   default (oneline)     C = US, O = "Cockroach, Inc.", OU = x + CN = node, CN = Z\C3\BCrich
//   -nameopt compat       /C=US/O=Cockroach, Inc./OU=x+CN=node/CN=Z\xC3\xBCrich
//   -nameopt RFC2253      CN=Z\C3\BCrich,CN=node+OU=x,O=Cockroach\, Inc.,C=US
// An RFC 2253 text it cannot rebuild (a hex-dumped value, an unknown attribute) is kept as
// written, as before; a oneline or compat text it cannot read is nullopt.
std::optional<std::string> canonical_dn(std::string_view text);

}  // namespace certwatch::x509
