// Test-only: real certificates made with the OpenSSL API, so tests never depend on fixtures
// that expire. Keys are EC P-256 (fast to make) unless a spec asks for another or reuses one.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace certwatch::testing {

struct GeneratedCert;
class TempDir;

// The extendedKeyUsage extension a certificate carries.
enum class ExtendedKeyUsage {
  by_role,  // leaves serverAuth + clientAuth (what `cockroach cert` writes), CAs none
  none,     // no extension at all
  server_auth,
  client_auth,
  both,  // serverAuth + clientAuth
  any,   // anyExtendedKeyUsage only
};

enum class KeyAlgorithm { ec, rsa, dsa, ed25519 };

struct CertSpec {
  std::string common_name = "node";  // empty: the subject has no CN attribute at all
  bool is_ca = false;
  std::int64_t not_before = 0;  // unix seconds; 0 means "now - 1h"
  std::int64_t not_after = 0;   // unix seconds; 0 means "now + 365d"
  std::vector<std::string> dns_names;
  std::vector<std::string> ip_addresses;
  std::uint64_t serial = 0;  // 0 means a random 64-bit serial
  // Sign with this key instead of making a new one (speeds up generating thousands).
  const GeneratedCert* reuse_key_of = nullptr;
  ExtendedKeyUsage extended_key_usage = ExtendedKeyUsage::by_role;
  // The subject's key when not reused. key_bits: the EC curve (256: P-256, 384: P-384), the RSA
  // modulus or the DSA p size; ignored for Ed25519. RSA and DSA keys are slow to make, so they
  // are made once per (algorithm, bits) in a process and shared: certificates with such keys
  // are not key-distinct (use EC keys where a test needs an unrelated key).
  KeyAlgorithm key_algorithm = KeyAlgorithm::ec;
  int key_bits = 256;
  // The digest the issuer signs with ("sha256", "sha1", "md5", ...); an Ed25519 issuer signs
  // without one and ignores it. MD5 exists only with RSA keys (there is no ECDSA-with-MD5).
  std::string signature_digest = "sha256";

  // For the trust-verdict corpus (x509-limbo's classes), each off by default:
  std::string organization;  // an O= before the CN, so names can differ beyond the CN
  int path_length = -1;      // a CA's basicConstraints pathlen
  // The keyUsage value in OpenSSL's config syntax instead of the usual one ("none": no keyUsage).
  std::string key_usage;
  // More extensions in OpenSSL's config syntax, after the usual ones: {"nameConstraints",
  // "critical,permitted;DNS:example.com"}, {"1.2.3.4", "critical,ASN1:NULL"}. A name given twice,
  // or one of the usual ones again, makes a certificate with a duplicate extension.
  std::vector<std::pair<std::string, std::string>> extra_extensions;
  bool critical_key_identifiers = false;  // subject and authority key ids marked critical
  bool wrong_authority_key_id = false;    // an authority key id that is not the issuer's
  bool explicit_curve = false;            // an EC key written with explicit curve parameters
  // A signature algorithm (OpenSSL's long or short name, "ecdsa-with-SHA384") written inside the
  // TBSCertificate, or as the outer algorithm, in place of the one really used (signature_digest).
  std::string inner_signature_algorithm;
  std::string outer_signature_algorithm;
};

struct GeneratedCert {
  std::string cert_pem;
  std::string key_pem;         // PKCS#8 PEM
  std::string der;             // the certificate's DER bytes
  std::shared_ptr<void> x509;  // X509*, for signing others
  std::shared_ptr<void> key;   // EVP_PKEY*
};

// Self-signed when issuer is null, otherwise signed by issuer (which should be a CA).
GeneratedCert generate_cert(const CertSpec& spec, const GeneratedCert* issuer = nullptr);

// The PEM of a self-signed certificate issued 400 days ago with `seconds_left` before its notAfter
// (negative: expired that long ago): a certificate at a chosen point of its life.
std::string cert_pem_with_time_left(const std::string& common_name, std::int64_t seconds_left,
                                    bool is_ca = false);

// How a private key file is written: PKCS#8 ("PRIVATE KEY") or the algorithm's own traditional
// form ("RSA PRIVATE KEY", "EC PRIVATE KEY", as `cockroach cert` writes keys).
enum class KeyPemFormat { pkcs8, traditional };

// The certificate's private key as PEM in `format`.
std::string private_key_pem(const GeneratedCert& cert, KeyPemFormat format);

// Writes the certificate's private key as a PEM file at dir/relative with `mode`; returns its
// absolute path.
std::filesystem::path write_key_file(const TempDir& dir, std::string_view relative,
                                     const GeneratedCert& cert,
                                     KeyPemFormat format = KeyPemFormat::pkcs8,
                                     unsigned mode = 0600);

// PEM armour for arbitrary bytes (64-column base64), for hand-made broken blocks.
std::string pem_encode(std::string_view der, const std::string& label = "CERTIFICATE");

// SHA-256 fingerprint as OpenSSL's X509_digest computes it from the certificate object,
// lowercase hex without separators: an oracle independent of the code under test.
std::string sha256_fingerprint(const GeneratedCert& cert);

// Seconds since the epoch, from the system clock.
std::int64_t unix_now();
constexpr std::int64_t kDay = 86400;

}  // namespace certwatch::testing
