// Whether a private key belongs to a certificate (the opt-in checks.key_match): a node whose key
// does not match its certificate cannot complete a handshake after its next reload.
#pragma once

#include <optional>
#include <string_view>

namespace certwatch::x509 {

// True when the public half of the PEM private key `key_pem` (PKCS#8, PKCS#1 or SEC1) is the
// public key of the DER certificate `cert_der`; false when it is another key. nullopt when either
// does not parse, or the key is encrypted: no passphrase is ever asked for. The key is neither
// logged nor kept, and no OpenSSL error is left behind.
std::optional<bool> key_matches(std::string_view cert_der, std::string_view key_pem);

}  // namespace certwatch::x509
