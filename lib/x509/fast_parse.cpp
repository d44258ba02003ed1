// The DER reader of fast_parse.hpp. Every rule here is "accept only what is certainly DER and
// certainly what d2i_X509 plus the OpenSSL path read the same way"; anything else declines. Where
// OpenSSL is lax (BER lengths, indefinite forms, padded integers, explicit defaults, odd string
// types) we decline rather than imitate it: imitation is where the two would drift apart.
#include "x509/fast_parse.hpp"

#include <openssl/ec.h>
#include <openssl/obj_mac.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "x509/facts_text.hpp"

namespace certwatch::x509 {
namespace {

// DER tags (one byte: class, constructed bit, number).
constexpr std::uint8_t kBoolean = 0x01;
constexpr std::uint8_t kInteger = 0x02;
constexpr std::uint8_t kBitString = 0x03;
constexpr std::uint8_t kOctetString = 0x04;
constexpr std::uint8_t kNull = 0x05;
constexpr std::uint8_t kOid = 0x06;
constexpr std::uint8_t kUtf8String = 0x0C;
constexpr std::uint8_t kPrintableString = 0x13;
constexpr std::uint8_t kIa5String = 0x16;
constexpr std::uint8_t kUtcTime = 0x17;
constexpr std::uint8_t kGeneralizedTime = 0x18;
constexpr std::uint8_t kSequence = 0x30;
constexpr std::uint8_t kSet = 0x31;
constexpr std::uint8_t kVersionTag = 0xA0;     // [0] EXPLICIT
constexpr std::uint8_t kExtensionsTag = 0xA3;  // [3] EXPLICIT
// GeneralName choices read here (IMPLICIT, primitive).
constexpr std::uint8_t kSanEmail = 0x81;
constexpr std::uint8_t kSanDns = 0x82;
constexpr std::uint8_t kSanUri = 0x86;
constexpr std::uint8_t kSanIp = 0x87;
constexpr std::uint8_t kAkidKeyId = 0x80;  // AuthorityKeyIdentifier keyIdentifier [0]

// x509_name_ex_d2i reads at most this much of a name; a longer one is OpenSSL's to judge.
constexpr std::size_t kMaxNameBytes = 1024 * 1024;

// OID contents (the bytes after tag and length).
using namespace std::string_view_literals;
constexpr std::string_view kRsaEncryption = "\x2A\x86\x48\x86\xF7\x0D\x01\x01\x01"sv;
constexpr std::string_view kEcPublicKey = "\x2A\x86\x48\xCE\x3D\x02\x01"sv;
constexpr std::string_view kBasicConstraints = "\x55\x1D\x13"sv;
constexpr std::string_view kKeyUsage = "\x55\x1D\x0F"sv;
constexpr std::string_view kExtKeyUsage = "\x55\x1D\x25"sv;
constexpr std::string_view kSubjectAltName = "\x55\x1D\x11"sv;
constexpr std::string_view kSubjectKeyId = "\x55\x1D\x0E"sv;
constexpr std::string_view kAuthorityKeyId = "\x55\x1D\x23"sv;
constexpr std::string_view kServerAuth = "\x2B\x06\x01\x05\x05\x07\x03\x01"sv;
constexpr std::string_view kClientAuth = "\x2B\x06\x01\x05\x05\x07\x03\x02"sv;
constexpr std::string_view kAnyExtendedKeyUsage = "\x55\x1D\x25\x00"sv;
constexpr std::string_view kCommonName = "\x55\x04\x03"sv;

struct SignatureAlgorithm {
  std::string_view oid;
  std::string_view hash;  // OpenSSL's short name of the digest, lowercased
};
constexpr std::array<SignatureAlgorithm, 8> kSignatureAlgorithms{{
    {"\x2A\x86\x48\x86\xF7\x0D\x01\x01\x0B"sv, "sha256"},  // sha256WithRSAEncryption
    {"\x2A\x86\x48\x86\xF7\x0D\x01\x01\x0C"sv, "sha384"},
    {"\x2A\x86\x48\x86\xF7\x0D\x01\x01\x0D"sv, "sha512"},
    {"\x2A\x86\x48\x86\xF7\x0D\x01\x01\x05"sv, "sha1"},
    {"\x2A\x86\x48\xCE\x3D\x04\x03\x02"sv, "sha256"},  // ecdsa-with-SHA256
    {"\x2A\x86\x48\xCE\x3D\x04\x03\x03"sv, "sha384"},
    {"\x2A\x86\x48\xCE\x3D\x04\x03\x04"sv, "sha512"},
    {"\x2A\x86\x48\xCE\x3D\x04\x01"sv, "sha1"},
}};

struct NamedCurve {
  std::string_view oid;
  int nid;
  int order_bits;            // what EVP_PKEY_get_bits reports for the curve
  std::size_t point_length;  // uncompressed point: 0x04, X, Y
};
constexpr std::array<NamedCurve, 3> kCurves{{
    {"\x2A\x86\x48\xCE\x3D\x03\x01\x07"sv, NID_X9_62_prime256v1, 256, 65},
    {"\x2B\x81\x04\x00\x22"sv, NID_secp384r1, 384, 97},
    {"\x2B\x81\x04\x00\x23"sv, NID_secp521r1, 521, 133},
}};

// Attribute types whose RFC 2253 label we print ourselves (OpenSSL's short names).
struct AttributeLabel {
  std::string_view oid;
  std::string_view label;
};
constexpr std::array<AttributeLabel, 8> kAttributeLabels{{
    {kCommonName, "CN"},
    {"\x55\x04\x06"sv, "C"},
    {"\x55\x04\x07"sv, "L"},
    {"\x55\x04\x08"sv, "ST"},
    {"\x55\x04\x0A"sv, "O"},
    {"\x55\x04\x0B"sv, "OU"},
    {"\x09\x92\x26\x89\x93\xF2\x2C\x64\x01\x19"sv, "DC"},
    {"\x2A\x86\x48\x86\xF7\x0D\x01\x09\x01"sv, "emailAddress"},
}};

struct Tlv {
  std::uint8_t tag = 0;
  std::string_view value;
  std::string_view whole;
};

// Walks a run of DER elements. Lengths must be definite and minimal: OpenSSL also takes BER
// forms, which we leave to it.
class DerReader {
 public:
  explicit DerReader(std::string_view in) : rest_(in) {}

  bool empty() const { return rest_.empty(); }
  bool next_is(std::uint8_t tag) const {
    return !rest_.empty() && static_cast<std::uint8_t>(rest_.front()) == tag;
  }

  std::optional<Tlv> read(std::uint8_t tag) {
    if (!next_is(tag) || rest_.size() < 2) return std::nullopt;
    const auto* bytes = reinterpret_cast<const unsigned char*>(rest_.data());
    std::size_t header = 2;
    std::size_t length = bytes[1];
    if (length >= 0x80) {
      const std::size_t count = length & 0x7FU;
      // 0x80 is the indefinite form; more than 4 length bytes is more than any input we read.
      if (count == 0 || count > 4 || rest_.size() < 2 + count || bytes[2] == 0) {
        return std::nullopt;
      }
      length = 0;
      for (std::size_t i = 0; i < count; ++i) length = (length << 8U) | bytes[2 + i];
      if (length < 0x80) return std::nullopt;  // the short form was required
      header += count;
    }
    if (rest_.size() - header < length) return std::nullopt;
    Tlv out{tag, rest_.substr(header, length), rest_.substr(0, header + length)};
    rest_.remove_prefix(header + length);
    return out;
  }

 private:
  std::string_view rest_;
};

std::uint8_t byte_at(std::string_view bytes, std::size_t i) {
  return static_cast<std::uint8_t>(bytes[i]);
}

// c2i_ASN1_INTEGER's rules: not empty, no redundant leading 0x00 or 0xFF.
bool minimal_integer(std::string_view value) {
  if (value.empty()) return false;
  if (value.size() == 1) return true;
  const std::uint8_t first = byte_at(value, 0);
  const bool high_bit = (byte_at(value, 1) & 0x80U) != 0;
  return !((first == 0x00 && !high_bit) || (first == 0xFF && high_bit));
}

bool negative_integer(std::string_view value) { return (byte_at(value, 0) & 0x80U) != 0; }

// c2i_ASN1_OBJECT's rules: not empty, the last byte ends a sub-identifier, no sub-identifier
// starts with a 0x80 padding byte.
bool valid_oid(std::string_view value) {
  if (value.empty() || (byte_at(value, value.size() - 1) & 0x80U) != 0) return false;
  for (std::size_t i = 0; i < value.size(); ++i) {
    const bool starts_subidentifier = i == 0 || (byte_at(value, i - 1) & 0x80U) == 0;
    if (starts_subidentifier && byte_at(value, i) == 0x80) return false;
  }
  return true;
}

std::optional<std::string_view> read_oid(DerReader& in) {
  const auto oid = in.read(kOid);
  if (!oid || !valid_oid(oid->value)) return std::nullopt;
  return oid->value;
}

// A non-negative INTEGER of at most 4 bytes (version, pathLenConstraint).
std::optional<std::uint32_t> read_small_unsigned(DerReader& in) {
  const auto integer = in.read(kInteger);
  if (!integer || !minimal_integer(integer->value) || negative_integer(integer->value) ||
      integer->value.size() > 4) {
    return std::nullopt;
  }
  std::uint32_t value = 0;
  for (const char c : integer->value) value = (value << 8U) | static_cast<std::uint8_t>(c);
  return value;
}

// AlgorithmIdentifier of a signature we know: parameters absent or NULL (both are what real
// signers write; the facts do not depend on them).
std::optional<std::string_view> read_signature_algorithm(DerReader& in) {
  const auto algorithm = in.read(kSequence);
  if (!algorithm) return std::nullopt;
  DerReader inside(algorithm->value);
  const auto oid = read_oid(inside);
  if (!oid) return std::nullopt;
  if (!inside.empty()) {
    const auto null = inside.read(kNull);
    if (!null || !null->value.empty() || !inside.empty()) return std::nullopt;
  }
  for (const SignatureAlgorithm& known : kSignatureAlgorithms) {
    if (known.oid == *oid) return known.hash;
  }
  return std::nullopt;
}

// Two digits at `text[at]`, or -1.
int two_digits(std::string_view text, std::size_t at) {
  const char high = text[at];
  const char low = text[at + 1];
  if (high < '0' || high > '9' || low < '0' || low > '9') return -1;
  return (high - '0') * 10 + (low - '0');
}

// UTCTime YYMMDDHHMMSSZ or GeneralizedTime YYYYMMDDHHMMSSZ, nothing else (no fractions, no
// offsets: OpenSSL's to judge), with the ranges ASN1_TIME_to_tm allows.
std::optional<std::int64_t> read_time(DerReader& in) {
  std::string_view text;
  int year = 0;
  if (const auto utc = in.read(kUtcTime)) {
    text = utc->value;
    if (text.size() != 13) return std::nullopt;
    const int yy = two_digits(text, 0);
    if (yy < 0) return std::nullopt;
    year = yy < 50 ? 2000 + yy : 1900 + yy;  // RFC 5280 4.1.2.5.1
    text.remove_prefix(2);
  } else if (const auto generalized = in.read(kGeneralizedTime)) {
    text = generalized->value;
    if (text.size() != 15) return std::nullopt;
    const int century = two_digits(text, 0);
    const int yy = two_digits(text, 2);
    if (century < 0 || yy < 0) return std::nullopt;
    year = century * 100 + yy;
    text.remove_prefix(4);
  } else {
    return std::nullopt;
  }
  // MMDDHHMMSSZ
  if (text.back() != 'Z') return std::nullopt;
  const int month = two_digits(text, 0);
  const int day = two_digits(text, 2);
  const int hour = two_digits(text, 4);
  const int minute = two_digits(text, 6);
  const int second = two_digits(text, 8);
  if (month < 1 || day < 1 || hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 ||
      second > 59) {
    return std::nullopt;
  }
  return unix_seconds_of(year, static_cast<unsigned>(month), static_cast<unsigned>(day), hour,
                         minute, second);
}

// One attribute of a name, as far as the facts and the self-issued test need it.
struct Attribute {
  std::string_view type;   // OID contents
  std::string_view value;  // printable ASCII
};

// A name whose every attribute is single-valued and a non-empty printable-ASCII PrintableString,
// UTF8String or IA5String: for those, OpenSSL's UTF-8 conversion, canonical form and RFC 2253
// printing are simple enough to reproduce exactly. Anything else (multi-valued RDNs, other string
// types, bytes outside 0x20-0x7E) declines.
std::optional<std::vector<Attribute>> read_name(DerReader& in) {
  const auto name = in.read(kSequence);
  if (!name || name->whole.size() > kMaxNameBytes) return std::nullopt;
  std::vector<Attribute> attributes;
  DerReader rdns(name->value);
  while (!rdns.empty()) {
    const auto rdn = rdns.read(kSet);
    if (!rdn) return std::nullopt;
    DerReader set(rdn->value);
    const auto entry = set.read(kSequence);
    if (!entry || !set.empty()) return std::nullopt;
    DerReader fields(entry->value);
    const auto type = read_oid(fields);
    if (!type) return std::nullopt;
    std::optional<Tlv> value;
    for (const std::uint8_t tag : {kPrintableString, kUtf8String, kIa5String}) {
      if (fields.next_is(tag)) value = fields.read(tag);
    }
    if (!value || !fields.empty() || value->value.empty()) return std::nullopt;
    for (const char c : value->value) {
      if (c < 0x20 || c > 0x7E) return std::nullopt;
    }
    attributes.push_back({*type, value->value});
  }
  return attributes;
}

// The last CN, as Go's crypto/x509 (and the OpenSSL path) reports it.
std::string common_name(const std::vector<Attribute>& name) {
  std::string_view found;
  for (const Attribute& attribute : name) {
    if (attribute.type == kCommonName) found = attribute.value;
  }
  return std::string(found);
}

// X509_NAME_cmp's canonical form of a printable-ASCII value: trimmed, inner runs of spaces as one
// space, lowercase.
std::string canonical_value(std::string_view value) {
  const std::size_t first = value.find_first_not_of(' ');
  const std::size_t last = value.find_last_not_of(' ');
  if (first == std::string_view::npos) return {};
  std::string out;
  bool in_space = false;
  for (const char c : value.substr(first, last - first + 1)) {
    if (c == ' ') {
      if (!in_space) out.push_back(' ');
      in_space = true;
      continue;
    }
    in_space = false;
    out.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c);
  }
  return out;
}

// Whether X509_NAME_cmp could call the names equal (EXFLAG_SI).
bool same_canonical_name(const std::vector<Attribute>& a, const std::vector<Attribute>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i].type != b[i].type || canonical_value(a[i].value) != canonical_value(b[i].value)) {
      return false;
    }
  }
  return true;
}

// X509_NAME_print_ex with XN_FLAG_RFC2253: last RDN first, "label=value" joined by ",". Values
// that RFC 2253 escapes, or types without a label here, decline.
std::optional<std::string> rfc2253_text(const std::vector<Attribute>& name) {
  std::string out;
  for (auto it = name.rbegin(); it != name.rend(); ++it) {
    std::string_view label;
    for (const AttributeLabel& known : kAttributeLabels) {
      if (known.oid == it->type) label = known.label;
    }
    if (label.empty()) return std::nullopt;
    const std::string_view value = it->value;
    if (value.find_first_of(",+\"\\<>;") != std::string_view::npos || value.front() == '#' ||
        value.front() == ' ' || value.back() == ' ') {
      return std::nullopt;
    }
    if (!out.empty()) out += ',';
    out += label;
    out += '=';
    out += value;
  }
  return out;
}

// OpenSSL's curve groups are immutable once made and safe to share between threads; making one
// is the expensive part, so each is made once.
const EC_GROUP* curve_group(const NamedCurve& curve) {
  static const std::array<std::unique_ptr<EC_GROUP, void (*)(EC_GROUP*)>, kCurves.size()> groups =
      [] {
        std::array<std::unique_ptr<EC_GROUP, void (*)(EC_GROUP*)>, kCurves.size()> made{
            {{nullptr, &EC_GROUP_free}, {nullptr, &EC_GROUP_free}, {nullptr, &EC_GROUP_free}}};
        for (std::size_t i = 0; i < kCurves.size(); ++i) {
          made[i].reset(EC_GROUP_new_by_curve_name(kCurves[i].nid));
        }
        return made;
      }();
  return groups[static_cast<std::size_t>(&curve - kCurves.data())].get();
}

// OpenSSL fails to decode a point that is not on its curve, and then reports no key at all; so a
// key is only accepted here when the point checks out, in the same arithmetic.
bool point_on_curve(const NamedCurve& curve, std::string_view point) {
  const EC_GROUP* group = curve_group(curve);
  if (group == nullptr) return false;
  const std::unique_ptr<EC_POINT, void (*)(EC_POINT*)> decoded(EC_POINT_new(group), &EC_POINT_free);
  return decoded && EC_POINT_oct2point(group, decoded.get(),
                                       reinterpret_cast<const unsigned char*>(point.data()),
                                       point.size(), nullptr) == 1;
}

// A positive INTEGER (RSA modulus or exponent): its significant bits.
int positive_integer_bits(std::string_view value) {
  if (!minimal_integer(value) || negative_integer(value)) return 0;
  if (byte_at(value, 0) == 0) value.remove_prefix(1);
  if (value.empty()) return 0;
  int bits = static_cast<int>(value.size() - 1) * 8;
  for (std::uint8_t top = byte_at(value, 0); top != 0; top >>= 1U) ++bits;
  return bits;
}

struct KeyFacts {
  std::string_view type;
  int bits = 0;
};

// SubjectPublicKeyInfo: rsaEncryption with NULL parameters and an RSAPublicKey of sane size, or
// id-ecPublicKey on a named curve with an uncompressed point on it.
std::optional<KeyFacts> read_public_key(DerReader& in) {
  const auto spki = in.read(kSequence);
  if (!spki) return std::nullopt;
  DerReader fields(spki->value);
  const auto algorithm = fields.read(kSequence);
  const auto key_bits = fields.read(kBitString);
  if (!algorithm || !key_bits || !fields.empty() || key_bits->value.empty() ||
      key_bits->value.front() != 0) {
    return std::nullopt;
  }
  const std::string_view key = key_bits->value.substr(1);
  DerReader algorithm_fields(algorithm->value);
  const auto oid = read_oid(algorithm_fields);
  if (!oid) return std::nullopt;
  if (*oid == kRsaEncryption) {
    const auto null = algorithm_fields.read(kNull);
    if (!null || !null->value.empty() || !algorithm_fields.empty()) return std::nullopt;
    DerReader key_reader(key);
    const auto rsa_key = key_reader.read(kSequence);
    if (!rsa_key || !key_reader.empty()) return std::nullopt;
    DerReader numbers(rsa_key->value);
    const auto modulus = numbers.read(kInteger);
    const auto exponent = numbers.read(kInteger);
    if (!modulus || !exponent || !numbers.empty()) return std::nullopt;
    const int modulus_bits = positive_integer_bits(modulus->value);
    const int exponent_bits = positive_integer_bits(exponent->value);
    // Odd modulus and exponent above 1, sizes OpenSSL works with: any real key; the rest is
    // OpenSSL's to judge.
    const auto odd = [](std::string_view v) { return (byte_at(v, v.size() - 1) & 1U) != 0; };
    if (modulus_bits < 512 || modulus_bits > 16384 || exponent_bits < 2 || exponent_bits > 64 ||
        !odd(modulus->value) || !odd(exponent->value)) {
      return std::nullopt;
    }
    return KeyFacts{"rsa", modulus_bits};
  }
  if (*oid == kEcPublicKey) {
    const auto curve_oid = read_oid(algorithm_fields);
    if (!curve_oid || !algorithm_fields.empty()) return std::nullopt;
    for (const NamedCurve& curve : kCurves) {
      if (curve.oid != *curve_oid) continue;
      if (key.size() != curve.point_length || byte_at(key, 0) != 0x04 ||
          !point_on_curve(curve, key)) {
        return std::nullopt;
      }
      return KeyFacts{"ec", curve.order_bits};
    }
  }
  return std::nullopt;
}

// The extensions' contributions to the facts.
struct ExtensionFacts {
  bool is_ca = false;
  bool has_eku = false;
  bool eku_server_auth = false;
  bool eku_client_auth = false;
  std::vector<std::string> dns_names;
  std::vector<std::string> ip_addresses;
};

// The whole of `value` is one element with `tag`, nothing after it.
std::optional<Tlv> only(std::string_view value, std::uint8_t tag) {
  DerReader in(value);
  auto element = in.read(tag);
  if (!in.empty()) return std::nullopt;
  return element;
}

bool read_basic_constraints(std::string_view value, ExtensionFacts& facts) {
  const auto constraints = only(value, kSequence);
  if (!constraints) return false;
  DerReader fields(constraints->value);
  if (fields.next_is(kBoolean)) {
    // DER leaves out a FALSE default; TRUE is 0xFF.
    const auto ca = fields.read(kBoolean);
    if (!ca || ca->value != "\xFF"sv) return false;
    facts.is_ca = true;
  }
  // A negative pathLenConstraint marks the certificate invalid in OpenSSL's extension cache.
  if (!fields.empty() && !read_small_unsigned(fields)) return false;
  return fields.empty();
}

// keyUsage does not reach the facts, but an empty one makes OpenSSL flag the certificate invalid,
// which changes what it reports for extended key usage; so it must be present and non-zero.
bool read_key_usage(std::string_view value) {
  const auto bits = only(value, kBitString);
  if (!bits || bits->value.size() < 2 || bits->value.size() > 3) return false;
  const std::uint8_t unused = byte_at(bits->value, 0);
  if (unused > 7) return false;
  const std::uint8_t last_mask = static_cast<std::uint8_t>(0xFFU << unused);
  const std::uint8_t last = byte_at(bits->value, bits->value.size() - 1);
  if ((last & ~last_mask & 0xFFU) != 0) return false;  // DER: unused bits are zero
  for (std::size_t i = 1; i < bits->value.size(); ++i) {
    if (byte_at(bits->value, i) != 0) return true;
  }
  return false;
}

bool read_extended_key_usage(std::string_view value, ExtensionFacts& facts) {
  const auto purposes = only(value, kSequence);
  if (!purposes) return false;
  facts.has_eku = true;
  DerReader oids(purposes->value);
  while (!oids.empty()) {
    const auto oid = read_oid(oids);
    if (!oid) return false;
    // anyExtendedKeyUsage permits every purpose, TLS server and client included.
    const bool any = *oid == kAnyExtendedKeyUsage;
    facts.eku_server_auth = facts.eku_server_auth || any || *oid == kServerAuth;
    facts.eku_client_auth = facts.eku_client_auth || any || *oid == kClientAuth;
  }
  return true;
}

bool read_subject_alt_name(std::string_view value, ExtensionFacts& facts) {
  const auto names = only(value, kSequence);
  if (!names) return false;
  DerReader entries(names->value);
  while (!entries.empty()) {
    if (const auto dns = entries.read(kSanDns)) {
      facts.dns_names.emplace_back(dns->value);
    } else if (const auto ip = entries.read(kSanIp)) {
      if (auto text = ip_address_text(ip->value)) facts.ip_addresses.push_back(std::move(*text));
    } else if (!entries.read(kSanEmail) && !entries.read(kSanUri)) {
      return false;
    }
  }
  return true;
}

bool read_authority_key_id(std::string_view value) {
  const auto identifier = only(value, kSequence);
  if (!identifier) return false;
  DerReader fields(identifier->value);
  if (fields.next_is(kAkidKeyId) && !fields.read(kAkidKeyId)) return false;
  return fields.empty();  // issuer and serial forms are OpenSSL's to judge
}

// [3] { SEQUENCE OF Extension }: only the six extensions above, each at most once (OpenSSL
// ignores a duplicated one and flags the certificate invalid), critical written as DER wants.
std::optional<ExtensionFacts> read_extensions(DerReader& in) {
  ExtensionFacts facts;
  if (in.empty()) return facts;
  const auto wrapper = in.read(kExtensionsTag);
  if (!wrapper) return std::nullopt;
  const auto list = only(wrapper->value, kSequence);
  if (!list) return std::nullopt;
  std::vector<std::string_view> seen;
  DerReader extensions(list->value);
  while (!extensions.empty()) {
    const auto extension = extensions.read(kSequence);
    if (!extension) return std::nullopt;
    DerReader fields(extension->value);
    const auto oid = read_oid(fields);
    if (!oid) return std::nullopt;
    if (fields.next_is(kBoolean)) {
      const auto critical = fields.read(kBoolean);
      if (!critical || critical->value != "\xFF"sv) return std::nullopt;
    }
    const auto content = fields.read(kOctetString);
    if (!content || !fields.empty()) return std::nullopt;
    for (const std::string_view earlier : seen) {
      if (earlier == *oid) return std::nullopt;
    }
    seen.push_back(*oid);
    bool understood = false;
    if (*oid == kBasicConstraints) {
      understood = read_basic_constraints(content->value, facts);
    } else if (*oid == kKeyUsage) {
      understood = read_key_usage(content->value);
    } else if (*oid == kExtKeyUsage) {
      understood = read_extended_key_usage(content->value, facts);
    } else if (*oid == kSubjectAltName) {
      understood = read_subject_alt_name(content->value, facts);
    } else if (*oid == kSubjectKeyId) {
      understood = only(content->value, kOctetString).has_value();
    } else if (*oid == kAuthorityKeyId) {
      understood = read_authority_key_id(content->value);
    }
    if (!understood) return std::nullopt;
  }
  if (!in.empty()) return std::nullopt;  // issuer or subject unique IDs, or anything else
  return facts;
}

}  // namespace

std::optional<CertificateFacts> read_der_fast(std::string_view der) {
  DerReader whole(der);
  const auto certificate = whole.read(kSequence);
  if (!certificate || !whole.empty()) return std::nullopt;
  DerReader parts(certificate->value);
  const auto tbs = parts.read(kSequence);
  const auto outer_algorithm = read_signature_algorithm(parts);
  const auto signature = parts.read(kBitString);
  if (!tbs || !outer_algorithm || !signature || !parts.empty() || signature->value.empty() ||
      signature->value.front() != 0) {
    return std::nullopt;
  }

  DerReader fields(tbs->value);
  if (fields.next_is(kVersionTag)) {
    const auto version = fields.read(kVersionTag);
    if (!version) return std::nullopt;
    DerReader inside(version->value);
    const auto number = read_small_unsigned(inside);
    if (!number || *number > 2 || !inside.empty()) return std::nullopt;
  }
  const auto serial = fields.read(kInteger);
  // A negative serial is valid but rare: OpenSSL's path spells it.
  if (!serial || !minimal_integer(serial->value) || negative_integer(serial->value)) {
    return std::nullopt;
  }
  if (!read_signature_algorithm(fields)) return std::nullopt;
  const auto issuer = read_name(fields);
  if (!issuer) return std::nullopt;
  const auto validity = fields.read(kSequence);
  if (!validity) return std::nullopt;
  DerReader times(validity->value);
  const auto not_before = read_time(times);
  const auto not_after = read_time(times);
  if (!not_before || !not_after || !times.empty()) return std::nullopt;
  const auto subject = read_name(fields);
  // Self-issued certificates (CAs) need their signature checked with their own key: OpenSSL's
  // path does that, and there are few of them.
  if (!subject || same_canonical_name(*subject, *issuer)) return std::nullopt;
  const auto key = read_public_key(fields);
  if (!key) return std::nullopt;
  auto extensions = read_extensions(fields);
  if (!extensions) return std::nullopt;
  auto issuer_dn = rfc2253_text(*issuer);
  if (!issuer_dn) return std::nullopt;
  auto fingerprint = sha256_hex(der);
  if (!fingerprint) return std::nullopt;

  CertificateFacts facts;
  facts.subject_cn = common_name(*subject);
  facts.issuer_cn = common_name(*issuer);
  facts.serial_hex = serial_text(serial->value, false);
  facts.fingerprint_sha256 = std::move(*fingerprint);
  facts.not_before = *not_before;
  facts.not_after = *not_after;
  facts.is_ca = extensions->is_ca;
  facts.dns_names = std::move(extensions->dns_names);
  facts.ip_addresses = std::move(extensions->ip_addresses);
  facts.has_eku = extensions->has_eku;
  facts.eku_server_auth = extensions->eku_server_auth;
  facts.eku_client_auth = extensions->eku_client_auth;
  facts.key_type = std::string(key->type);
  facts.key_bits = key->bits;
  facts.signature_hash = std::string(*outer_algorithm);
  facts.self_signed = false;  // not self-issued, so not self-signed
  facts.issuer_dn = std::move(*issuer_dn);
  return facts;
}

}  // namespace certwatch::x509
