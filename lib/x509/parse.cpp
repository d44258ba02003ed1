#include "x509/parse.hpp"

#include <openssl/asn1.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <array>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <ctime>
#include <map>
#include <memory>
#include <mutex>
#include <utility>

#include "core/openssl_handles.hpp"
#include "x509/der.hpp"
#include "x509/dn_text.hpp"
#include "x509/facts_text.hpp"
#include "x509/fast_parse.hpp"

namespace certwatch::x509 {
namespace {

constexpr std::string_view kBeginMarker = "-----BEGIN ";
constexpr std::string_view kCertBegin = "-----BEGIN CERTIFICATE-----";
constexpr std::string_view kCertEnd = "-----END CERTIFICATE-----";
constexpr std::string_view kDashes = "-----";
// Enough to say what went wrong without letting a hostile file grow the log line without bound.
constexpr int kMaxDetailedBadBlocks = 3;

using openssl::GeneralNamesPtr;
using OpensslBuffer = openssl::BufferPtr;
using OpensslBioPtr = openssl::BioPtr;

// Either facts or the reason there are none.
struct ParsedCert {
  std::optional<CertificateFacts> facts;
  std::string error;
};

std::string_view bytes_of(const ASN1_STRING* str) {
  const unsigned char* data = ASN1_STRING_get0_data(str);
  const int length = ASN1_STRING_length(str);
  if (data == nullptr || length <= 0) return {};
  return {reinterpret_cast<const char*>(data), static_cast<std::size_t>(length)};
}

// Go's crypto/x509 (which CockroachDB uses) keeps the last CN when a name has several, so we do
// the same to report what the cluster itself sees.
std::string common_name(const X509_NAME* name) {
  if (name == nullptr) return {};
  int found = -1;
  for (int pos = X509_NAME_get_index_by_NID(name, NID_commonName, -1); pos >= 0;
       pos = X509_NAME_get_index_by_NID(name, NID_commonName, pos)) {
    found = pos;
  }
  if (found < 0) return {};
  const ASN1_STRING* value = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, found));
  if (value == nullptr) return {};
  unsigned char* utf8 = nullptr;
  const int length = ASN1_STRING_to_UTF8(&utf8, value);
  const OpensslBuffer owner(utf8);
  if (length <= 0 || utf8 == nullptr) return {};
  return {reinterpret_cast<const char*>(utf8), static_cast<std::size_t>(length)};
}

std::string serial_hex(const ASN1_INTEGER* serial) {
  if (serial == nullptr) return "0";
  return serial_text(bytes_of(serial), ASN1_STRING_type(serial) == V_ASN1_NEG_INTEGER);
}

void add_subject_alt_names(const X509* cert, CertificateFacts& facts) {
  const GeneralNamesPtr names(
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr)));
  if (!names) return;
  const int count = sk_GENERAL_NAME_num(names.get());
  for (int i = 0; i < count; ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names.get(), i);
    if (name == nullptr) continue;
    if (name->type == GEN_DNS) {
      facts.dns_names.emplace_back(bytes_of(name->d.dNSName));
    } else if (name->type == GEN_IPADD) {
      if (auto text = ip_address_text(bytes_of(name->d.iPAddress))) {
        facts.ip_addresses.push_back(std::move(*text));
      }
    }
  }
}

void add_extended_key_usage(X509* cert, std::uint32_t flags, CertificateFacts& facts) {
  if ((flags & EXFLAG_XKUSAGE) == 0) return;  // no extension: every use is allowed
  facts.has_eku = true;
  const std::uint32_t usage = X509_get_extended_key_usage(cert);
  // anyExtendedKeyUsage permits every purpose, TLS server and client included.
  const bool any = (usage & XKU_ANYEKU) != 0;
  facts.eku_server_auth = any || (usage & XKU_SSL_SERVER) != 0;
  facts.eku_client_auth = any || (usage & XKU_SSL_CLIENT) != 0;
}

std::string key_type_name(const EVP_PKEY* key) {
  const int id = EVP_PKEY_get_base_id(key);
  switch (id) {
    case EVP_PKEY_RSA:
      return "rsa";
    case EVP_PKEY_EC:
      return "ec";
    case EVP_PKEY_ED25519:
      return "ed25519";
    case EVP_PKEY_ED448:
      return "ed448";
    case EVP_PKEY_DSA:
      return "dsa";
    default:
      break;
  }
  const char* short_name = OBJ_nid2sn(id);
  if (short_name == nullptr) short_name = EVP_PKEY_get0_type_name(key);
  return short_name == nullptr ? std::string() : lowercase(short_name);
}

// The public key is already decoded by d2i_X509 and the signature algorithm by the extension
// cache: nothing here parses again. Only a self-issued certificate costs a signature check.
void add_key_and_signature(X509* cert, std::uint32_t flags, CertificateFacts& facts) {
  EVP_PKEY* key = X509_get0_pubkey(cert);
  if (key != nullptr) {
    facts.key_type = key_type_name(key);
    facts.key_bits = EVP_PKEY_get_bits(key);
  }
  int digest_nid = NID_undef;
  // X509_get_signature_info also sees through RSA-PSS parameters to the digest they name.
  if (X509_get_signature_info(cert, &digest_nid, nullptr, nullptr, nullptr) == 1 &&
      digest_nid != NID_undef) {
    if (const char* name = OBJ_nid2sn(digest_nid)) facts.signature_hash = lowercase(name);
  }
  // EXFLAG_SI: issuer name == subject name (OpenSSL compares the canonical encodings).
  facts.self_signed = (flags & EXFLAG_SI) != 0 && key != nullptr && X509_verify(cert, key) == 1;
}

// Everything but `der`, as OpenSSL decodes it.
ParsedCert openssl_facts(std::string_view der) {
  const ErrorQueueGuard errors;
  const DecodedDer decoded = decode_der(der);
  if (!decoded.cert) return {std::nullopt, std::string(decoded.error)};
  X509* cert = decoded.cert.get();

  CertificateFacts facts;
  facts.subject_cn = common_name(X509_get_subject_name(cert));
  facts.issuer_cn = common_name(X509_get_issuer_name(cert));
  facts.issuer_dn = rfc2253_name(X509_get_issuer_name(cert));
  facts.serial_hex = serial_hex(X509_get0_serialNumber(cert));
  auto fingerprint = sha256_hex(der);
  if (!fingerprint) return {std::nullopt, "SHA-256 of the DER failed"};
  facts.fingerprint_sha256 = std::move(*fingerprint);

  const auto not_before = unix_seconds(X509_get0_notBefore(cert));
  const auto not_after = unix_seconds(X509_get0_notAfter(cert));
  if (!not_before || !not_after) return {std::nullopt, "invalid validity time"};
  facts.not_before = *not_before;
  facts.not_after = *not_after;

  // The first call decodes and caches every extension; the EKU and self-issued facts below read
  // that cache instead of decoding again.
  const std::uint32_t flags = X509_get_extension_flags(cert);
  facts.is_ca = (flags & EXFLAG_CA) != 0;
  facts.malformed = (flags & EXFLAG_INVALID) != 0;
  add_subject_alt_names(cert, facts);
  add_extended_key_usage(cert, flags, facts);
  add_key_and_signature(cert, flags, facts);
  return {std::move(facts), {}};
}

// What the DER reader declines costs a full d2i_X509, and a self-signed certificate (which it
// always declines) a signature check besides: 100-300 us against its 7. A host holds the same CA
// certificate many times over (ca.crt, every bundle, every Secret's ca.crt), so the facts of
// declined DER that OpenSSL accepted are kept here, by the DER itself (no hash to collide), for
// every poll and every thread. Bounded: a directory of many distinct self-signed certificates
// empties it now and then, and is then parsed as it would be without it.
class DeclinedMemo {
 public:
  std::optional<CertificateFacts> find(std::string_view der) {
    const std::lock_guard lock(mutex_);
    const auto found = facts_.find(der);
    if (found == facts_.end()) return std::nullopt;
    return found->second;
  }
  void add(std::string_view der, const CertificateFacts& facts) {
    const std::lock_guard lock(mutex_);
    if (facts_.size() >= kCapacity) facts_.clear();
    facts_.emplace(std::string(der), facts);
  }

 private:
  static constexpr std::size_t kCapacity = 64;
  std::mutex mutex_;
  std::map<std::string, CertificateFacts, std::less<>> facts_;
};

DeclinedMemo& declined_memo() {
  static DeclinedMemo memo;
  return memo;
}

// The DER reader where it can, OpenSSL where it declines. Takes the DER by value: the facts keep
// it, and a caller that owns it moves it in uncopied.
ParsedCert parse_der_checked(std::string der, bool keep_der = true) {
  std::optional<CertificateFacts> facts = read_der_fast(der);
  if (!facts) facts = declined_memo().find(der);
  if (!facts) {
    ParsedCert decoded = openssl_facts(der);
    if (!decoded.facts) return decoded;
    declined_memo().add(der, *decoded.facts);
    facts = std::move(decoded.facts);
  }
  if (keep_der) facts->der = std::move(der);
  return {std::move(facts), {}};
}

// What a PEM body byte is: a base64 digit's value (0-63), or one of these.
constexpr std::uint8_t kWhitespace = 64;
constexpr std::uint8_t kPad = 65;
constexpr std::uint8_t kInvalid = 255;

constexpr std::array<std::uint8_t, 256> make_base64_table() {
  std::array<std::uint8_t, 256> table{};
  for (auto& entry : table) entry = kInvalid;
  constexpr std::string_view kDigits =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  for (std::size_t i = 0; i < kDigits.size(); ++i) {
    table[static_cast<unsigned char>(kDigits[i])] = static_cast<std::uint8_t>(i);
  }
  for (const char c : std::string_view(" \t\r\n\v\f")) {
    table[static_cast<unsigned char>(c)] = kWhitespace;
  }
  table['='] = kPad;
  return table;
}
constexpr std::array<std::uint8_t, 256> kBase64 = make_base64_table();

}  // namespace

// One pass: whitespace anywhere is skipped, every other byte must be a base64 digit or `=`,
// the digits and padding together a whole number of quads, and padding (at most two) only at the
// very end. The checks are made in that order of precedence, so the error names the first kind
// of damage. Bits past the last whole byte of a padded quad are ignored, as EVP_DecodeBlock (and
// the fuzzer's oracle built on it) ignores them.
std::optional<std::string> decode_pem_base64(std::string_view body, std::string& error) {
  std::string decoded;
  decoded.resize(body.size() / 4 * 3 + 3);
  std::size_t out = 0;
  std::size_t symbols = 0;  // digits and padding
  std::size_t padding = 0;
  bool misplaced_padding = false;
  std::uint32_t quad = 0;
  for (const char c : body) {
    const std::uint8_t value = kBase64[static_cast<unsigned char>(c)];
    if (value < 64) {
      if (padding != 0) misplaced_padding = true;
      quad = (quad << 6) | value;
      if (++symbols % 4 == 0) {
        decoded[out++] = static_cast<char>(quad >> 16);
        decoded[out++] = static_cast<char>(quad >> 8);
        decoded[out++] = static_cast<char>(quad);
        quad = 0;
      }
    } else if (value == kPad) {
      ++padding;
      ++symbols;
    } else if (value == kInvalid) {
      error = "invalid base64 character";
      return std::nullopt;
    }
  }
  if (symbols == 0) {
    error = "empty block";
    return std::nullopt;
  }
  if (symbols % 4 != 0) {
    error = "base64 length is not a multiple of 4 (truncated?)";
    return std::nullopt;
  }
  if (padding > 2 || misplaced_padding) {
    error = "misplaced base64 padding";
    return std::nullopt;
  }
  // The last quad lost `padding` digits: its 4 - padding digits carry 3 - padding bytes.
  if (padding != 0) {
    quad <<= 6 * padding;
    decoded[out++] = static_cast<char>(quad >> 16);
    if (padding == 1) decoded[out++] = static_cast<char>(quad >> 8);
  }
  decoded.resize(out);
  return decoded;
}

namespace {

class BadBlockLog {
 public:
  void add(int index, std::string_view why) {
    ++count_;
    if (count_ > kMaxDetailedBadBlocks) return;
    if (!text_.empty()) text_ += "; ";
    text_ += "certificate block " + std::to_string(index) + ": ";
    text_ += why;
  }
  bool empty() const { return count_ == 0; }
  std::string text() const {
    if (count_ <= kMaxDetailedBadBlocks) return text_;
    return text_ + "; and " + std::to_string(count_ - kMaxDetailedBadBlocks) + " more bad blocks";
  }

 private:
  int count_ = 0;
  std::string text_;
};

}  // namespace

std::optional<CertificateFacts> read_der_openssl(std::string_view der, std::string& error) {
  ParsedCert parsed = openssl_facts(der);
  error = std::move(parsed.error);
  return std::move(parsed.facts);
}

std::optional<CertificateFacts> parse_der(std::string_view der) {
  return parse_der_checked(std::string(der)).facts;
}

BundleResult parse_pem_bundle(std::string_view bytes, const ParseOptions& options) {
  BundleResult result;
  BadBlockLog bad_blocks;
  int block_index = 0;
  std::size_t pos = 0;
  // Every scan below starts where the previous one stopped, so the work is linear in the input.
  while (pos < bytes.size()) {
    const std::size_t begin = bytes.find(kBeginMarker, pos);
    if (begin == std::string_view::npos) break;
    if (bytes.substr(begin, kCertBegin.size()) != kCertBegin) {
      // Another block type (a key, a CRL, a TRUSTED CERTIFICATE): never decoded. Its body is
      // base64 and cannot contain a BEGIN marker, so resuming the search past this one is enough.
      pos = begin + kBeginMarker.size();
      continue;
    }
    const int index = block_index++;
    const std::size_t body_begin = begin + kCertBegin.size();
    // Valid base64 never contains "-----", so the next dashes must be this block's END line; a
    // BEGIN or another END there means the block was cut short.
    const std::size_t body_end = bytes.find(kDashes, body_begin);
    if (body_end == std::string_view::npos) {
      bad_blocks.add(index, "BEGIN without END (truncated file?)");
      break;
    }
    if (bytes.substr(body_end, kCertEnd.size()) != kCertEnd) {
      bad_blocks.add(index, "no END CERTIFICATE line before the next PEM marker");
      pos = body_end;
      continue;
    }
    pos = body_end + kCertEnd.size();

    std::string why;
    const auto der = decode_pem_base64(bytes.substr(body_begin, body_end - body_begin), why);
    if (!der) {
      bad_blocks.add(index, why);
      continue;
    }
    ParsedCert parsed = parse_der_checked(std::move(*der), options.keep_der);
    if (!parsed.facts) {
      bad_blocks.add(index, parsed.error);
      continue;
    }
    result.certificates.push_back(std::move(*parsed.facts));
    result.indices.push_back(index);
  }

  if (block_index == 0) {
    result.error = ParseError::no_certificate;
    result.detail = "no BEGIN CERTIFICATE block";
  } else if (!bad_blocks.empty()) {
    result.error = ParseError::bad_pem;
    result.detail = bad_blocks.text();
  }
  return result;
}

}  // namespace certwatch::x509
