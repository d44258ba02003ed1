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
#include <memory>
#include <utility>

#include "core/openssl_handles.hpp"
#include "x509/der.hpp"
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

std::optional<std::int64_t> unix_seconds(const ASN1_TIME* time) {
  // ASN1_TIME_to_tm reads the current time when given null, which would be a silent lie here.
  if (time == nullptr) return std::nullopt;
  std::tm parts{};
  if (ASN1_TIME_to_tm(time, &parts) != 1) return std::nullopt;
  return unix_seconds_of(parts.tm_year + 1900, static_cast<unsigned>(parts.tm_mon + 1),
                         static_cast<unsigned>(parts.tm_mday), parts.tm_hour, parts.tm_min,
                         parts.tm_sec);
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

// RFC 2253 one line, as `openssl x509 -nameopt RFC2253` prints it, but with UTF-8 left as UTF-8
// rather than escaped byte by byte, so a denylist entry can be written as the name reads.
std::string rfc2253_name(const X509_NAME* name) {
  if (name == nullptr) return {};
  const OpensslBioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio) return {};
  constexpr unsigned long kFlags = XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB;
  if (X509_NAME_print_ex(bio.get(), name, 0, kFlags) < 0) return {};
  const char* text = nullptr;
  const long length = BIO_get_mem_data(bio.get(), &text);
  if (length <= 0 || text == nullptr) return {};
  return {text, static_cast<std::size_t>(length)};
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
  add_subject_alt_names(cert, facts);
  add_extended_key_usage(cert, flags, facts);
  add_key_and_signature(cert, flags, facts);
  return {std::move(facts), {}};
}

// The DER reader where it can, OpenSSL where it declines. Takes the DER by value: the facts keep
// it, and a caller that owns it moves it in uncopied.
ParsedCert parse_der_checked(std::string der) {
  std::optional<CertificateFacts> facts = read_der_fast(der);
  if (!facts) {
    ParsedCert decoded = openssl_facts(der);
    if (!decoded.facts) return decoded;
    facts = std::move(decoded.facts);
  }
  facts->der = std::move(der);
  return {std::move(facts), {}};
}

bool is_pem_whitespace(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

bool is_base64_symbol(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
         c == '/';
}

// EVP_DecodeBlock accepts padding anywhere in a quad ("YQ=a") and counts padding bytes in its
// output, so the shape is checked here and the padding subtracted afterwards.
std::optional<std::string> decode_base64(std::string_view body, std::string& error) {
  std::string compact;
  compact.reserve(body.size());
  for (const char c : body) {
    if (is_pem_whitespace(c)) continue;
    if (!is_base64_symbol(c) && c != '=') {
      error = "invalid base64 character";
      return std::nullopt;
    }
    compact.push_back(c);
  }
  if (compact.empty()) {
    error = "empty block";
    return std::nullopt;
  }
  if (compact.size() % 4 != 0) {
    error = "base64 length is not a multiple of 4 (truncated?)";
    return std::nullopt;
  }
  const std::size_t first_pad = compact.find('=');
  const std::size_t padding = first_pad == std::string::npos ? 0 : compact.size() - first_pad;
  if (padding > 2 ||
      (padding > 0 && compact.find_first_not_of('=', first_pad) != std::string::npos)) {
    error = "misplaced base64 padding";
    return std::nullopt;
  }
  if (compact.size() > static_cast<std::size_t>(INT_MAX)) {
    error = "block too large";
    return std::nullopt;
  }
  std::string decoded(compact.size() / 4 * 3, '\0');
  const int written = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(decoded.data()),
                                      reinterpret_cast<const unsigned char*>(compact.data()),
                                      static_cast<int>(compact.size()));
  if (written < 0 || static_cast<std::size_t>(written) != decoded.size()) {
    error = "base64 does not decode";
    return std::nullopt;
  }
  decoded.resize(decoded.size() - padding);
  return decoded;
}

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

BundleResult parse_pem_bundle(std::string_view bytes) {
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
    const auto der = decode_base64(bytes.substr(body_begin, body_end - body_begin), why);
    if (!der) {
      bad_blocks.add(index, why);
      continue;
    }
    ParsedCert parsed = parse_der_checked(std::move(*der));
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
